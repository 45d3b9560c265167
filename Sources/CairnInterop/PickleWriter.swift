import CairnCheckpoint

/// Writes a checkpoint tree as a protocol-2 pickle that torch's
/// `weights_only` unpickler accepts: OrderedDicts for dictionaries and
/// `_rebuild_tensor_v2` over persistent-id storages for tensors.
struct PickleWriter {
    let file: String
    var output: [UInt8] = [0x80, 0x02]
    /// Raw bytes of each storage, in key order `0`, `1`, ….
    var storages: [[UInt8]] = []
    /// Storage keys by the memory they were written from, so a tensor placed at
    /// several points of the tree becomes one storage referenced from each, as
    /// torch writes it.
    var storageKeys: [StorageIdentity: String] = [:]

    init(file: String) { self.file = file }

    mutating func finish(_ tree: CheckpointValue) throws -> [UInt8] {
        try write(tree, depth: 0)
        output.append(UInt8(ascii: "."))
        return output
    }

    mutating func opcode(_ character: Character) { output.append(UInt8(ascii: character.unicodeScalars.first ?? "?")) }

    mutating func littleEndian<Value: FixedWidthInteger>(_ value: Value) {
        withUnsafeBytes(of: value.littleEndian) { output += $0 }
    }

    mutating func global(_ module: String, _ name: String) {
        opcode("c")
        output += Array("\(module)\n\(name)\n".utf8)
    }

    mutating func string(_ text: String) {
        let bytes = Array(text.utf8)
        opcode("X")
        littleEndian(UInt32(bytes.count))
        output += bytes
    }

    mutating func integer(_ value: Int64) {
        switch value {
        case 0...0xFF: opcode("K"); output.append(UInt8(value))
        case 0...0xFFFF: opcode("M"); littleEndian(UInt16(value))
        case Int64(Int32.min)...Int64(Int32.max): opcode("J"); littleEndian(Int32(value))
        default: output += [0x8a, 8]; littleEndian(value)
        }
    }

    mutating func emptyOrderedDict() {
        global("collections", "OrderedDict")
        opcode(")")
        opcode("R")
    }

    mutating func write(_ value: CheckpointValue, depth: Int) throws {
        guard depth <= TorchCheckpoint.maximumDepth else {
            throw InteropError.limitExceeded(file: file, reason: "tree nests deeper than \(TorchCheckpoint.maximumDepth)")
        }
        switch value {
        case .null: opcode("N")
        case let .bool(flag): output.append(flag ? 0x88 : 0x89)
        case let .int(number): integer(number)
        case let .double(number): opcode("G"); withUnsafeBytes(of: number.bitPattern.bigEndian) { output += $0 }
        case let .string(text): string(text)
        case let .bytes(bytes):
            // Protocol 2 has no bytes opcode; Python itself writes _codecs.encode(latin-1 text).
            global("_codecs", "encode")
            string(String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) })))
            string("latin1")
            output.append(0x86)
            opcode("R")
        case let .list(items):
            opcode("]")
            guard !items.isEmpty else { return }
            opcode("(")
            for item in items { try write(item, depth: depth + 1) }
            opcode("e")
        case let .dictionary(entries):
            emptyOrderedDict()
            let attributes = entries[.string(TorchCheckpoint.attributesKey)]
            let items = entries.filter { $0.key != .string(TorchCheckpoint.attributesKey) }
            if !items.isEmpty {
                opcode("(")
                for (key, child) in items {
                    switch key {
                    case let .string(text): string(text)
                    case let .int(number): integer(number)
                    }
                    try write(child, depth: depth + 1)
                }
                opcode("u")
            }
            if let attributes {
                // BUILD sets them back as attributes (torch does `__dict__.update`).
                guard case let .dictionary(pairs) = attributes else {
                    throw InteropError.unsupportedValue(file: file, reason: "\(TorchCheckpoint.attributesKey) is not a dictionary")
                }
                opcode("}")
                if !pairs.isEmpty {
                    opcode("(")
                    for (key, child) in pairs {
                        string(key.token)
                        try write(child, depth: depth + 1)
                    }
                    opcode("u")
                }
                opcode("b")
            }
        case let .tensor(tensor):
            try writeTensor(tensor)
        }
    }

    mutating func writeTensor(_ tensor: CheckpointTensor) throws {
        let identity = tensor.storageIdentity
        let key: String
        if let identity, let written = storageKeys[identity] {
            key = written
        } else {
            key = String(storages.count)
            storages.append(try tensor.bytes())
            if let identity { storageKeys[identity] = key }
        }
        global("torch._utils", "_rebuild_tensor_v2")
        opcode("(")
        opcode("(")
        string("storage")
        global("torch", tensor.dtype.torchStorageName)
        string(key)
        string("cpu")
        integer(Int64(tensor.elementCount))
        opcode("t")
        opcode("Q")
        integer(0)
        opcode("(")
        for dimension in tensor.shape { integer(Int64(dimension)) }
        opcode("t")
        opcode("(")
        var stride = 1
        var strides: [Int] = []
        for dimension in tensor.shape.reversed() { strides.append(stride); stride *= max(dimension, 1) }
        for value in strides.reversed() { integer(Int64(value)) }
        opcode("t")
        output.append(0x89)
        emptyOrderedDict()
        opcode("t")
        opcode("R")
    }
}

/// The memory a tensor's bytes live in, with the dtype torch's storage is typed by.
struct StorageIdentity: Hashable {
    enum Owner: Hashable {
        /// An array buffer (one tensor value copied to several places shares it).
        case buffer(UnsafeRawPointer)
        /// A class instance lending the bytes, such as a model's tensor.
        case object(ObjectIdentifier)
    }

    let owner: Owner
    let byteCount: Int
    let dtype: CheckpointDType
}

extension CheckpointTensor {
    /// Where the bytes live, when that can be told; `nil` for bytes read on demand
    /// (each read makes new memory) and for empty tensors.
    ///
    /// Equal content alone never counts as sharing: torch mutates loaded optimizer
    /// state in place (Adam's per-parameter `step`), so two equal tensors must stay two.
    var storageIdentity: StorageIdentity? {
        guard byteCount > 0 else { return nil }
        let owner: StorageIdentity.Owner
        switch storage {
        case let .bytes(bytes):
            guard let base = bytes.withUnsafeBytes({ $0.baseAddress }) else { return nil }
            owner = .buffer(base)
        case let .external(provider):
            guard type(of: provider) is AnyClass else { return nil }
            owner = .object(ObjectIdentifier(provider as AnyObject))
        }
        return StorageIdentity(owner: owner, byteCount: byteCount, dtype: dtype)
    }
}

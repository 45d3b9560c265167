import CairnCheckpoint

/// A Python object as the restricted unpickler builds it. Lists and dicts are
/// classes because pickles mutate them after memoizing them (`APPEND`,
/// `SETITEMS`, `BUILD`), and every memo reference must see those changes.
enum PickleObject {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleObject])
    case list(PickleList)
    case dict(PickleDict)
    /// An allow-listed global (a callable or a storage class), never called directly.
    case global(AllowedGlobal)
    /// A typed storage from the archive's `data/` folder (a persistent id).
    case storage(PickleStorage)
    case tensor(CheckpointTensor)
}

/// A Python list (or set, read as a list) under construction.
final class PickleList {
    var items: [PickleObject] = []
}

/// A Python dict or OrderedDict; `attributes` holds what `BUILD` set on it
/// (the state_dict's `_metadata`).
final class PickleDict {
    var entries: [(key: PickleObject, value: PickleObject)] = []
    var attributes: [(key: PickleObject, value: PickleObject)] = []
}

/// A storage `<root>/data/<key>`: raw little-endian elements, lent in place from the mapped
/// archive. A tensor viewing the whole storage lends through this object, so every such view
/// shares one identity (and export writes the storage once).
final class PickleStorage: CheckpointTensorStorage, @unchecked Sendable {
    let dtype: CheckpointDType
    let key: String
    /// The whole storage in the mapped archive.
    private let whole: MappedTensorBytes

    init(dtype: CheckpointDType, key: String, mapping: MappedFile, range: Range<Int>) {
        self.dtype = dtype
        self.key = key
        whole = MappedTensorBytes(mapping: mapping, range: range)
    }

    var byteCount: Int { whole.range.count }
    var elementCount: Int { byteCount / dtype.byteWidth }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try whole.withUnsafeBytes(body)
    }

    /// A tensor of `shape` over the storage's bytes `bytes` (relative to its start), in place.
    func tensor(shape: [Int], bytes: Range<Int>) -> CheckpointTensor {
        if bytes == 0..<byteCount { return CheckpointTensor(dtype: dtype, shape: shape, storage: .external(self)) }
        return CheckpointTensor(dtype: dtype, shape: shape, storage: .external(whole.subrange(bytes)))
    }
}

/// The only globals a pickle may name: those torch's `weights_only` unpickler
/// allows that occur in plain checkpoints. Anything else is refused when the
/// `GLOBAL` opcode is read, before it could be used.
enum AllowedGlobal: Equatable {
    case orderedDict
    case counter
    case rebuildTensorV2
    case rebuildParameter
    case typedStorage(CheckpointDType)
    case torchSize
    case torchDevice
    case codecsEncode
    case set
    case frozenset
    case bytearray

    static let storageTypes: [String: CheckpointDType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("collections", "Counter"): self = .counter
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", "Size"): self = .torchSize
        case ("torch", "device"): self = .torchDevice
        case ("_codecs", "encode"): self = .codecsEncode
        case ("builtins", "set"), ("__builtin__", "set"): self = .set
        case ("builtins", "frozenset"), ("__builtin__", "frozenset"): self = .frozenset
        case ("builtins", "bytearray"), ("__builtin__", "bytearray"): self = .bytearray
        case ("torch", _):
            guard let dtype = Self.storageTypes[name] else { return nil }
            self = .typedStorage(dtype)
        default: return nil
        }
    }
}

extension CheckpointDType {
    /// torch's name of the typed storage class for this dtype.
    var torchStorageName: String {
        switch self {
        case .f32: return "FloatStorage"
        case .f64: return "DoubleStorage"
        case .f16: return "HalfStorage"
        case .bf16: return "BFloat16Storage"
        case .i64: return "LongStorage"
        case .i32: return "IntStorage"
        case .i16: return "ShortStorage"
        case .i8: return "CharStorage"
        case .u8: return "ByteStorage"
        case .bool: return "BoolStorage"
        }
    }
}

/// Every list and dict one unpickling made. A pickle can build cycles (a dict
/// holding itself, even after popping it off the stack), which ARC never frees;
/// the tree is built from copies, so afterwards every container is emptied.
final class PickleContainers {
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []

    func list(_ items: [PickleObject] = []) -> PickleList {
        let list = PickleList()
        list.items = items
        lists.append(list)
        return list
    }

    func dict() -> PickleDict {
        let dict = PickleDict()
        dicts.append(dict)
        return dict
    }

    /// Cuts every link between containers; call once the result has been converted.
    func breakLinks() {
        for list in lists { list.items = [] }
        for dict in dicts {
            dict.entries = []
            dict.attributes = []
        }
        lists = []
        dicts = []
    }
}

import CairnCheckpoint
import Foundation
import OrderedCollections

extension SafetensorsFile {
    /// Writes `tensors` (in the given order) and `metadata` to `url`. The
    /// header is padded with spaces to a multiple of 8 bytes, as the reference
    /// writer does, so every tensor's data starts 8-byte aligned.
    public static func write(tensors: [(String, CheckpointTensor)], metadata: [String: String] = [:], to url: URL) throws {
        let file = url.path
        var seen = Set<String>()
        for (name, _) in tensors {
            guard name != metadataKey else { throw InteropError.unsupportedValue(file: file, reason: "a tensor cannot be named \(metadataKey)") }
            guard seen.insert(name).inserted else { throw InteropError.unsupportedValue(file: file, reason: "tensor name '\(name)' appears twice") }
        }
        var header = "{"
        var fields: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(JSONText.quoted($0.key)):\(JSONText.quoted($0.value))" }
            fields.append("\(JSONText.quoted(metadataKey)):{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (name, tensor) in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let end = offset + tensor.byteCount
            fields.append("\(JSONText.quoted(name)):{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += fields.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes += Array(repeating: UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8)

        var output = [UInt8]()
        output.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { output += $0 }
        output += headerBytes
        for (name, tensor) in tensors {
            let before = output.count
            try tensor.withUnsafeBytes { output += $0 }
            guard output.count - before == tensor.byteCount else {
                throw InteropError.unsupportedValue(file: file, reason: "tensor '\(name)' lent \(output.count - before) bytes, expected \(tensor.byteCount)")
            }
        }
        do { try Data(output).write(to: url, options: .atomic) } catch {
            throw InteropError.io(file: file, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Writes the tensors under `subtree` of a checkpoint (by default its
    /// `state_dict`) to `url`, naming each by its path below `subtree` joined
    /// with dots (`net.0.weight`). Non-tensor leaves are skipped.
    public static func export(_ tree: CheckpointValue, subtree: JSONPointer = ["state_dict"], metadata: [String: String] = [:], to url: URL) throws {
        guard let root = tree[subtree] else {
            throw InteropError.unsupportedValue(file: url.path, reason: "the checkpoint has nothing at \(subtree)")
        }
        let named = root.tensors().map { (path, tensor) in (path.tokens.joined(separator: "."), tensor) }
        try write(tensors: named, metadata: metadata, to: url)
    }

    /// Reads the file at `url` and stores its tensors, as a flat dictionary
    /// name → tensor, at `subtree` of `tree` (creating dictionaries on the way).
    public static func importTensors(from url: URL, into tree: inout CheckpointValue, at subtree: JSONPointer = ["state_dict"]) throws {
        let tensors = try read(url)
        try tree.setValue(tensors, at: subtree.tokens[...], file: url.path)
    }

}

extension CheckpointValue {
    /// Stores `value` at `tokens`, creating string-keyed dictionaries where
    /// nothing exists yet.
    mutating func setValue(_ value: CheckpointValue, at tokens: ArraySlice<String>, file: String) throws {
        guard let first = tokens.first else { self = value; return }
        guard case var .dictionary(entries) = self else {
            throw InteropError.unsupportedValue(file: file, reason: "cannot insert under '\(first)': the node there is not a dictionary")
        }
        var key = CheckpointKey.string(first)
        if entries[key] == nil, let number = Int64(first), entries[.int(number)] != nil { key = .int(number) }
        var child = entries[key] ?? .dictionary([:])
        try child.setValue(value, at: tokens.dropFirst(), file: file)
        entries[key] = child
        self = .dictionary(entries)
    }
}

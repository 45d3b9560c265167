import OrderedCollections

/// A dictionary key in a checkpoint tree: Lightning's state holds both string
/// keys (`state_dict`) and integer keys (optimizer parameter ids).
public enum CheckpointKey: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int64)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }

    /// The key as one JSON Pointer token.
    public var token: String {
        switch self {
        case let .string(text): return text
        case let .int(number): return String(number)
        }
    }

    public var description: String { token }
}

/// One node of a checkpoint: an ordered tree of dictionaries, lists, scalars,
/// byte strings and tensors.
public indirect enum CheckpointValue: Sendable {
    case dictionary(OrderedDictionary<CheckpointKey, CheckpointValue>)
    case list([CheckpointValue])
    case int(Int64)
    case double(Double)
    case string(String)
    case bool(Bool)
    case null
    case bytes([UInt8])
    case tensor(CheckpointTensor)

    /// The value at `pointer`, or `nil`. A token matches a string key first,
    /// then an integer key with the same decimal spelling, or a list index.
    public subscript(pointer: JSONPointer) -> CheckpointValue? {
        var node = self
        for token in pointer.tokens {
            guard let child = node.child(token) else { return nil }
            node = child
        }
        return node
    }

    /// The value at a JSON Pointer given as text (`"/state_dict/0.weight"`), or, for text
    /// that does not start with `/`, the child under that one key (`checkpoint["state_dict"]`,
    /// as a Python dict reads); `nil` if absent or a malformed pointer.
    ///
    /// A plain key is taken whole, so `"a/b"` names the key `a/b`, never a path.
    public subscript(path: String) -> CheckpointValue? {
        guard path.hasPrefix("/") else { return path.isEmpty ? self : child(path) }
        guard let pointer = try? JSONPointer(parsing: path) else { return nil }
        return self[pointer]
    }

    func child(_ token: String) -> CheckpointValue? {
        switch self {
        case let .dictionary(entries):
            if let value = entries[.string(token)] { return value }
            if let number = Int64(token), String(number) == token { return entries[.int(number)] }
            return nil
        case let .list(items):
            guard let index = Int(token), String(index) == token, items.indices.contains(index) else { return nil }
            return items[index]
        default:
            return nil
        }
    }

    /// The tensor stored in this node, if it is one.
    public var tensor: CheckpointTensor? {
        if case let .tensor(tensor) = self { return tensor }
        return nil
    }

    /// Every tensor in the tree with its pointer, in tree order.
    public func tensors() -> [(path: JSONPointer, tensor: CheckpointTensor)] {
        var found: [(JSONPointer, CheckpointTensor)] = []
        func walk(_ value: CheckpointValue, _ path: JSONPointer) {
            switch value {
            case let .tensor(tensor): found.append((path, tensor))
            case let .dictionary(entries): for (key, child) in entries { walk(child, path.appending(key)) }
            case let .list(items): for (index, child) in items.enumerated() { walk(child, path.appending(String(index))) }
            default: break
            }
        }
        walk(self, .root)
        return found
    }
}

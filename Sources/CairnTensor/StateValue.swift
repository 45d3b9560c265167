import OrderedCollections

/// A key of a ``StateValue`` dictionary: a name or an integer (such as a parameter index).
public enum StateKey: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case string(String)
    case int(Int64)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }

    public var description: String {
        switch self {
        case let .string(name): name
        case let .int(number): String(number)
        }
    }
}

/// An ordered tree of training state (optimizer and sampler state dicts) that every
/// module shares, so the trainer can store any of them in a checkpoint.
public indirect enum StateValue: Sendable {
    case tensor(Tensor)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case string(String)
    case null
    case list([StateValue])
    case dict(OrderedDictionary<StateKey, StateValue>)
}

/// Why a ``StateValue`` tree could not be read back: names the path inside the tree.
public enum StateValueError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required entry is absent.
    case missing(path: String)
    /// An entry holds another kind of value than expected.
    case wrongKind(path: String, expected: String, found: String)
    /// An entry has the right kind but an unusable value (wrong shape, length or range).
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missing(path): "state \(path): missing"
        case let .wrongKind(path, expected, found): "state \(path): expected \(expected), found \(found)"
        case let .invalid(path, reason): "state \(path): \(reason)"
        }
    }
}

extension StateValue {
    /// The kind of value, for error messages.
    public var kind: String {
        switch self {
        case .tensor: "tensor"
        case .int: "int"
        case .double: "double"
        case .bool: "bool"
        case .string: "string"
        case .null: "null"
        case .list: "list"
        case .dict: "dict"
        }
    }

    /// The entry under `key` of a dictionary, or nil.
    public subscript(key: StateKey) -> StateValue? {
        if case let .dict(entries) = self { return entries[key] }
        return nil
    }

    /// The entry under `key`, throwing (with `path`) when it is absent or this is not a dictionary.
    public func required(_ key: StateKey, path: String) throws -> StateValue {
        guard case let .dict(entries) = self else {
            throw StateValueError.wrongKind(path: path, expected: "dict", found: kind)
        }
        guard let value = entries[key] else { throw StateValueError.missing(path: "\(path).\(key)") }
        return value
    }

    /// The dictionary entries, or a typed error naming `path`.
    public func dictionary(path: String) throws -> OrderedDictionary<StateKey, StateValue> {
        if case let .dict(entries) = self { return entries }
        throw StateValueError.wrongKind(path: path, expected: "dict", found: kind)
    }

    /// The list elements, or a typed error naming `path`.
    public func list(path: String) throws -> [StateValue] {
        if case let .list(elements) = self { return elements }
        throw StateValueError.wrongKind(path: path, expected: "list", found: kind)
    }

    /// The integer (exact), or a typed error naming `path`.
    public func int(path: String) throws -> Int64 {
        if case let .int(value) = self { return value }
        throw StateValueError.wrongKind(path: path, expected: "int", found: kind)
    }

    /// The number as a Double (ints widen), or a typed error naming `path`.
    public func double(path: String) throws -> Double {
        switch self {
        case let .double(value): return value
        case let .int(value): return Double(value)
        default: throw StateValueError.wrongKind(path: path, expected: "double", found: kind)
        }
    }

    /// The Boolean, or a typed error naming `path`.
    public func bool(path: String) throws -> Bool {
        if case let .bool(value) = self { return value }
        throw StateValueError.wrongKind(path: path, expected: "bool", found: kind)
    }

    /// The tensor, or a typed error naming `path`.
    public func tensor(path: String) throws -> Tensor {
        if case let .tensor(value) = self { return value }
        throw StateValueError.wrongKind(path: path, expected: "tensor", found: kind)
    }
}

extension StateValue: Equatable {
    /// Trees are equal when they have the same structure and order, and tensors
    /// agree in dtype, shape and exact bytes.
    public static func == (lhs: StateValue, rhs: StateValue) -> Bool {
        switch (lhs, rhs) {
        case let (.tensor(a), .tensor(b)): a.dtype == b.dtype && a.shape == b.shape && a.rawBytes == b.rawBytes
        case let (.int(a), .int(b)): a == b
        case let (.double(a), .double(b)): a == b || (a.isNaN && b.isNaN)
        case let (.bool(a), .bool(b)): a == b
        case let (.string(a), .string(b)): a == b
        case (.null, .null): true
        case let (.list(a), .list(b)): a == b
        case let (.dict(a), .dict(b)): a.keys.elementsEqual(b.keys) && a.values.elementsEqual(b.values)
        default: false
        }
    }
}

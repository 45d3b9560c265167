import OrderedCollections
import CairnCheckpoint
import CairnTensor

extension CheckpointValue {
    /// The checkpoint subtree of an optimizer's, sampler's or module's state tree.
    ///
    /// Tensors are lent, not copied: they are read when the checkpoint is saved.
    public init(_ state: StateValue) {
        switch state {
        case let .tensor(tensor): self = .tensor(CheckpointTensor(tensor))
        case let .int(value): self = .int(value)
        case let .double(value): self = .double(value)
        case let .bool(value): self = .bool(value)
        case let .string(value): self = .string(value)
        case .null: self = .null
        case let .list(items): self = .list(items.map(CheckpointValue.init))
        case let .dict(entries):
            var converted = OrderedDictionary<CheckpointKey, CheckpointValue>()
            for (key, value) in entries { converted[CheckpointKey(key)] = CheckpointValue(value) }
            self = .dictionary(converted)
        }
    }
}

extension CheckpointKey {
    /// The checkpoint spelling of a state-tree key.
    public init(_ key: StateKey) {
        switch key {
        case let .string(name): self = .string(name)
        case let .int(number): self = .int(number)
        }
    }
}

extension StateKey {
    /// The state-tree spelling of a checkpoint key.
    public init(_ key: CheckpointKey) {
        switch key {
        case let .string(name): self = .string(name)
        case let .int(number): self = .int(number)
        }
    }
}

extension StateValue {
    /// The state tree held by a checkpoint subtree; `path` names it in errors.
    ///
    /// Tensors are read (and their checksums verified) here; byte strings have no
    /// state-tree counterpart and are refused.
    public init(_ value: CheckpointValue, path: String = "") throws {
        switch value {
        case let .tensor(tensor): self = .tensor(try Tensor(tensor, name: path))
        case let .int(number): self = .int(number)
        case let .double(number): self = .double(number)
        case let .bool(flag): self = .bool(flag)
        case let .string(text): self = .string(text)
        case .null: self = .null
        case let .list(items):
            self = .list(try items.enumerated().map { try StateValue($0.element, path: "\(path)/\($0.offset)") })
        case let .dictionary(entries):
            var converted = OrderedDictionary<StateKey, StateValue>()
            for (key, child) in entries { converted[StateKey(key)] = try StateValue(child, path: "\(path)/\(key)") }
            self = .dict(converted)
        case .bytes:
            throw StateValueError.wrongKind(path: path, expected: "a state value", found: "bytes")
        }
    }
}

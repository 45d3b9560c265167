import CairnNN
import CairnTensor
import OrderedCollections

extension Optimizer {
    /// `{"state": {index: {...}}, "param_groups": [{options..., "params": [indices]}]}` as torch,
    /// with parameters numbered across groups in order.
    public func stateDict() -> StateValue {
        var states = OrderedDictionary<StateKey, StateValue>()
        var groups: [StateValue] = []
        var index: Int64 = 0
        for group in paramGroups {
            var indices: [StateValue] = []
            for parameter in group.parameters {
                if let parameterState = state[ObjectIdentifier(parameter)] {
                    states[.int(index)] = .dict(OrderedDictionary(uniqueKeysWithValues: parameterState.map { (StateKey.string($0.key), $0.value) }))
                }
                indices.append(.int(index))
                index += 1
            }
            var entries = OrderedDictionary<StateKey, StateValue>()
            for (key, value) in group.options { entries[.string(key)] = value }
            entries["params"] = .list(indices)
            groups.append(.dict(entries))
        }
        return .dict(["state": .dict(states), "param_groups": .list(groups)])
    }

    /// Restores hyperparameters and per-parameter state saved by ``stateDict()``. The groups
    /// must match in number and size, and state tensors in shape; otherwise nothing changes.
    public func loadStateDict(_ saved: StateValue) throws {
        let savedGroups = try saved.required("param_groups", path: "optimizer").list(path: "optimizer.param_groups")
        guard savedGroups.count == paramGroups.count else {
            throw StateValueError.invalid(path: "optimizer.param_groups",
                                          reason: "\(savedGroups.count) groups saved, optimizer has \(paramGroups.count)")
        }
        var newGroups = paramGroups
        var byIndex: [Int64: Parameter] = [:]
        for (groupIndex, savedGroup) in savedGroups.enumerated() {
            let path = "optimizer.param_groups.\(groupIndex)"
            let entries = try savedGroup.dictionary(path: path)
            let indices = try (entries["params"] ?? .null).list(path: "\(path).params").map { try $0.int(path: "\(path).params") }
            guard indices.count == paramGroups[groupIndex].parameters.count else {
                throw StateValueError.invalid(path: "\(path).params",
                                              reason: "\(indices.count) parameters saved, group has \(paramGroups[groupIndex].parameters.count)")
            }
            for (index, parameter) in zip(indices, paramGroups[groupIndex].parameters) { byIndex[index] = parameter }
            var options = OrderedDictionary<String, StateValue>()
            for (key, value) in entries where key != "params" {
                guard case let .string(name) = key else { throw StateValueError.invalid(path: path, reason: "non-string key \(key)") }
                options[name] = value
            }
            for (key, defaultValue) in defaults {
                guard let value = options[key] else { throw StateValueError.missing(path: "\(path).\(key)") }
                try Self.checkKind(value, like: defaultValue, path: "\(path).\(key)")
            }
            newGroups[groupIndex].options = options
        }
        var newState: [ObjectIdentifier: ParameterState] = [:]
        for (key, value) in try saved.required("state", path: "optimizer").dictionary(path: "optimizer.state") {
            let path = "optimizer.state.\(key)"
            guard case let .int(index) = key, let parameter = byIndex[index] else {
                throw StateValueError.invalid(path: path, reason: "no parameter with this index")
            }
            var parameterState = ParameterState()
            for (name, entry) in try value.dictionary(path: path) {
                // Every entry of these optimizers is a tensor: a one-element step or a parameter-shaped buffer.
                let tensor = try entry.tensor(path: "\(path).\(name)")
                let expectedShape = name == "step" ? nil : parameter.value.shape
                if let expectedShape, tensor.shape != expectedShape {
                    throw StateValueError.invalid(path: "\(path).\(name)",
                                                  reason: "shape \(tensor.shape) differs from parameter shape \(expectedShape)")
                }
                if expectedShape == nil, tensor.count != 1 {
                    throw StateValueError.invalid(path: "\(path).\(name)", reason: "step must hold one value, shape \(tensor.shape)")
                }
                parameterState[name.description] = entry
            }
            newState[ObjectIdentifier(parameter)] = parameterState
        }
        paramGroups = newGroups
        state = newState
    }

    /// Saved options must have the kind of their default (ints pass for doubles), so that
    /// `step()` never meets an option it cannot read.
    static func checkKind(_ value: StateValue, like defaultValue: StateValue, path: String) throws {
        switch (defaultValue, value) {
        case (.double, .double), (.double, .int), (.bool, .bool): return
        case let (.list(expected), .list(actual)) where expected.count == actual.count:
            for (index, pair) in zip(expected, actual).enumerated() { try checkKind(pair.1, like: pair.0, path: "\(path).\(index)") }
        default:
            throw StateValueError.wrongKind(path: path, expected: defaultValue.kind, found: value.kind)
        }
    }
}

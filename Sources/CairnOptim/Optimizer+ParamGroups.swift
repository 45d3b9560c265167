import CairnNN

extension Optimizer {
    /// Appends a group as torch's `add_param_group`: missing options come from the defaults.
    /// A parameter already in a group, or an option the optimizer does not know, is a programming error.
    public func addParamGroup(_ group: ParamGroup) {
        var completed = group
        completed.options = defaults.merging(group.options) { _, override in override }
        for key in group.options.keys where defaults[key] == nil {
            preconditionFailure("\(type(of: self)).addParamGroup: unknown option '\(key)'")
        }
        let present = Set(paramGroups.flatMap(\.parameters).map(ObjectIdentifier.init))
        var seen = Set<ObjectIdentifier>()
        for parameter in group.parameters {
            let identity = ObjectIdentifier(parameter)
            precondition(!present.contains(identity) && seen.insert(identity).inserted,
                         "\(type(of: self)).addParamGroup: a parameter appears in two groups")
        }
        paramGroups.append(completed)
    }

    /// Whether `parameter` belongs to one of the groups.
    public func contains(_ parameter: Parameter) -> Bool {
        paramGroups.contains { group in group.parameters.contains { $0 === parameter } }
    }
}

import CairnNN
import CairnTensor
import OrderedCollections

/// Parameters that share hyperparameters (`lr`, `weight_decay`, `betas`, …), as torch's param groups.
public struct ParamGroup: Sendable {
    /// The parameters updated with these options, in order.
    public var parameters: [Parameter]
    /// Hyperparameters by torch name; missing ones are filled from the optimizer's defaults.
    public var options: OrderedDictionary<String, StateValue>

    /// A group of `parameters` overriding the optimizer defaults with `options`.
    public init(_ parameters: [Parameter], options: OrderedDictionary<String, StateValue> = [:]) {
        self.parameters = parameters
        self.options = options
    }

    /// The learning rate (`lr`), for schedulers.
    public var learningRate: Double {
        get { (try? options["lr"]?.double(path: "lr")) ?? 0 }
        set { options["lr"] = .double(newValue) }
    }

    func double(_ key: String) -> Double {
        guard let value = options[key], let number = try? value.double(path: key) else {
            preconditionFailure("optimizer: option '\(key)' missing or not a number")
        }
        return number
    }

    func bool(_ key: String) -> Bool {
        guard let value = options[key], let flag = try? value.bool(path: key) else {
            preconditionFailure("optimizer: option '\(key)' missing or not a Bool")
        }
        return flag
    }

    func pair(_ key: String) -> (Double, Double) {
        guard case let .list(values)? = options[key], values.count == 2,
              let first = try? values[0].double(path: key), let second = try? values[1].double(path: key) else {
            preconditionFailure("optimizer: option '\(key)' must be a list of two numbers")
        }
        return (first, second)
    }
}

/// Per-parameter optimizer state by torch name (`step`, `exp_avg`, `momentum_buffer`, …).
public typealias ParameterState = OrderedDictionary<String, StateValue>

/// The base of every optimizer: param groups, per-parameter state, `step()`, `zeroGrad()` and
/// a `stateDict()` shaped like PyTorch's (`state` by integer index, `param_groups` with `params`).
open class Optimizer: @unchecked Sendable {
    /// The groups, each with its own hyperparameters.
    public var paramGroups: [ParamGroup]
    /// State of each parameter that has been stepped, keyed by its identity.
    var state: [ObjectIdentifier: ParameterState] = [:]
    /// The hyperparameters and their default values, in torch's order.
    public let defaults: OrderedDictionary<String, StateValue>

    /// An optimizer over `groups`, each completed with `defaults` (group options win).
    public init(groups: [ParamGroup], defaults: OrderedDictionary<String, StateValue>) {
        self.defaults = defaults
        paramGroups = groups.map { group in
            var completed = group
            completed.options = defaults.merging(group.options) { _, override in override }
            return completed
        }
        for group in paramGroups {
            for key in group.options.keys where defaults[key] == nil {
                preconditionFailure("\(type(of: self)): unknown option '\(key)'")
            }
        }
        var seen = Set<ObjectIdentifier>()
        for parameter in paramGroups.flatMap(\.parameters) {
            precondition(seen.insert(ObjectIdentifier(parameter)).inserted, "\(type(of: self)): a parameter appears in two groups")
        }
    }

    /// Updates every parameter that has a gradient and is not frozen.
    public final func step() {
        withNoGrad {
            for group in paramGroups {
                for parameter in group.parameters where !parameter.isFrozen {
                    guard let gradient = parameter.grad else { continue }
                    precondition(gradient.shape == parameter.value.shape,
                                 "\(type(of: self)).step: gradient shape \(gradient.shape) differs from parameter shape \(parameter.value.shape)")
                    var parameterState = state[ObjectIdentifier(parameter)] ?? [:]
                    let updated = update(parameter.value.scalars, gradient: gradient.scalars, shape: parameter.value.shape,
                                         group: group, state: &parameterState)
                    parameter.update(scalars: updated)
                    if !parameterState.isEmpty { state[ObjectIdentifier(parameter)] = parameterState }
                }
            }
        }
    }

    /// Returns the new values of one parameter; subclasses implement torch's single-tensor rule.
    open func update(_ values: [Float], gradient: [Float], shape: [Int], group: ParamGroup,
                     state: inout ParameterState) -> [Float] {
        preconditionFailure("\(type(of: self)) does not override update")
    }

    /// Clears the gradients of every parameter in every group.
    public final func zeroGrad() {
        for parameter in paramGroups.flatMap(\.parameters) { parameter.grad = nil }
    }
}

/// Float32 helpers written to keep torch's operation order (see the optimizer files).
enum Kernel {
    /// torch.lerp with a scalar weight: the formula switches at |w| = 0.5 for accuracy.
    static func lerp(_ start: Float, _ end: Float, _ weight: Float) -> Float {
        Swift.abs(weight) < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight)
    }

    /// A state tensor's values, or `initial` when absent.
    static func buffer(_ state: ParameterState, _ key: String, count: Int) -> [Float] {
        if case let .tensor(tensor)? = state[key] { return tensor.scalars }
        return [Float](repeating: 0, count: count)
    }

    /// The step count stored as torch does: a Float32 scalar tensor.
    static func nextStep(_ state: inout ParameterState) -> Double {
        let previous: Float = if case let .tensor(tensor)? = state["step"] { tensor.scalars[0] } else { 0 }
        state["step"] = .tensor(Tensor(previous + 1))
        return Double(previous + 1)
    }
}

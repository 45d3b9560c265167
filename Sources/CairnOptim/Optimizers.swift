import CairnNN
import CairnTensor
import Foundation
import OrderedCollections

// Each rule follows torch's single-tensor (foreach=False) implementation step by step in
// Float32; hyperparameters are Doubles (Python floats) converted where torch converts them.

/// Stochastic gradient descent with momentum, dampening, Nesterov and weight decay (torch.optim.SGD).
public final class SGD: Optimizer, @unchecked Sendable {
    /// SGD over `groups`; group options override these defaults.
    public init(_ groups: [ParamGroup], lr: Double = 1e-3, momentum: Double = 0, dampening: Double = 0,
                weightDecay: Double = 0, nesterov: Bool = false, maximize: Bool = false) {
        precondition(!nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov needs momentum > 0 and dampening 0")
        super.init(groups: groups, defaults: ["lr": .double(lr), "momentum": .double(momentum), "dampening": .double(dampening),
                                              "weight_decay": .double(weightDecay), "nesterov": .bool(nesterov),
                                              "maximize": .bool(maximize)])
    }

    /// SGD over one group of `parameters`.
    public convenience init(_ parameters: [Parameter], lr: Double = 1e-3, momentum: Double = 0, dampening: Double = 0,
                            weightDecay: Double = 0, nesterov: Bool = false, maximize: Bool = false) {
        self.init([ParamGroup(parameters)], lr: lr, momentum: momentum, dampening: dampening,
                  weightDecay: weightDecay, nesterov: nesterov, maximize: maximize)
    }

    override public func update(_ values: [Float], gradient: [Float], shape: [Int], group: ParamGroup,
                                state: inout ParameterState) -> [Float] {
        let lr = Float(group.double("lr")), momentum = Float(group.double("momentum"))
        let dampening = Float(group.double("dampening")), weightDecay = Float(group.double("weight_decay"))
        let nesterov = group.bool("nesterov"), maximize = group.bool("maximize")
        var direction = maximize ? gradient.map { -$0 } : gradient
        if weightDecay != 0 { direction = zip(direction, values).map { $0 + weightDecay * $1 } }
        if momentum != 0 {
            var momentumBuffer: [Float]
            if case let .tensor(previous)? = state["momentum_buffer"] {
                momentumBuffer = zip(previous.scalars, direction).map { $0 * momentum + (1 - dampening) * $1 }
            } else {
                momentumBuffer = direction
            }
            state["momentum_buffer"] = .tensor(Tensor(shape: shape, scalars: momentumBuffer))
            direction = nesterov ? zip(direction, momentumBuffer).map { $0 + momentum * $1 } : momentumBuffer
        }
        return zip(values, direction).map { $0 + -lr * $1 }
    }
}

/// Adam (torch.optim.Adam) with optional AMSGrad, coupled L2 weight decay and maximize;
/// ``AdamW`` switches to decoupled decay.
public class Adam: Optimizer, @unchecked Sendable {
    let decoupledWeightDecay: Bool

    /// Adam over `groups`; group options override these defaults.
    public init(_ groups: [ParamGroup], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Double = 0, amsgrad: Bool = false, maximize: Bool = false) {
        decoupledWeightDecay = false
        super.init(groups: groups, defaults: Adam.defaults(lr: lr, betas: betas, eps: eps, weightDecay: weightDecay,
                                                           amsgrad: amsgrad, maximize: maximize))
    }

    /// Adam over one group of `parameters`.
    public convenience init(_ parameters: [Parameter], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            eps: Double = 1e-8, weightDecay: Double = 0, amsgrad: Bool = false, maximize: Bool = false) {
        self.init([ParamGroup(parameters)], lr: lr, betas: betas, eps: eps, weightDecay: weightDecay,
                  amsgrad: amsgrad, maximize: maximize)
    }

    init(groups: [ParamGroup], decoupled: Bool, defaults: OrderedDictionary<String, StateValue>) {
        decoupledWeightDecay = decoupled
        super.init(groups: groups, defaults: defaults)
    }

    static func defaults(lr: Double, betas: (Double, Double), eps: Double, weightDecay: Double, amsgrad: Bool,
                         maximize: Bool) -> OrderedDictionary<String, StateValue> {
        ["lr": .double(lr), "betas": .list([.double(betas.0), .double(betas.1)]), "eps": .double(eps),
         "weight_decay": .double(weightDecay), "amsgrad": .bool(amsgrad), "maximize": .bool(maximize)]
    }

    override public func update(_ values: [Float], gradient: [Float], shape: [Int], group: ParamGroup,
                                state: inout ParameterState) -> [Float] {
        let lr = group.double("lr"), (beta1, beta2) = group.pair("betas")
        let eps = Float(group.double("eps")), weightDecay = group.double("weight_decay")
        let amsgrad = group.bool("amsgrad")
        var parameter = values
        var grad = group.bool("maximize") ? gradient.map { -$0 } : gradient
        let step = Kernel.nextStep(&state)
        if weightDecay != 0 {
            if decoupledWeightDecay {
                let shrink = Float(1 - lr * weightDecay)
                parameter = parameter.map { $0 * shrink }
            } else {
                let decay = Float(weightDecay)
                grad = zip(grad, parameter).map { $0 + decay * $1 }
            }
        }
        let lerpWeight = Float(1 - beta1), beta2Float = Float(beta2), squareWeight = Float(1 - beta2)
        let expAvg = zip(Kernel.buffer(state, "exp_avg", count: grad.count), grad).map { Kernel.lerp($0, $1, lerpWeight) }
        let expAvgSq = zip(Kernel.buffer(state, "exp_avg_sq", count: grad.count), grad).map { $0 * beta2Float + squareWeight * $1 * $1 }
        state["exp_avg"] = .tensor(Tensor(shape: shape, scalars: expAvg))
        state["exp_avg_sq"] = .tensor(Tensor(shape: shape, scalars: expAvgSq))
        var second = expAvgSq
        if amsgrad {
            second = zip(Kernel.buffer(state, "max_exp_avg_sq", count: grad.count), expAvgSq).map { Swift.max($0, $1) }
            state["max_exp_avg_sq"] = .tensor(Tensor(shape: shape, scalars: second))
        }
        let biasCorrection1 = 1 - Foundation.pow(beta1, step)
        let biasCorrection2Sqrt = Float((1 - Foundation.pow(beta2, step)).squareRoot())
        let negativeStepSize = Float(-(lr / biasCorrection1))
        for index in parameter.indices {
            let denominator = second[index].squareRoot() / biasCorrection2Sqrt + eps
            parameter[index] += negativeStepSize * (expAvg[index] / denominator)
        }
        return parameter
    }
}

/// Adam with decoupled weight decay (torch.optim.AdamW): `p *= 1 - lr·wd` before the Adam step.
public final class AdamW: Adam, @unchecked Sendable {
    /// AdamW over `groups`; group options override these defaults (torch's weight decay default 0.01).
    override public init(_ groups: [ParamGroup], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999), eps: Double = 1e-8,
                weightDecay: Double = 1e-2, amsgrad: Bool = false, maximize: Bool = false) {
        super.init(groups: groups, decoupled: true,
                   defaults: Adam.defaults(lr: lr, betas: betas, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad, maximize: maximize))
    }

    /// AdamW over one group of `parameters`.
    public convenience init(_ parameters: [Parameter], lr: Double = 1e-3, betas: (Double, Double) = (0.9, 0.999),
                            eps: Double = 1e-8, weightDecay: Double = 1e-2, amsgrad: Bool = false, maximize: Bool = false) {
        self.init([ParamGroup(parameters)], lr: lr, betas: betas, eps: eps, weightDecay: weightDecay,
                  amsgrad: amsgrad, maximize: maximize)
    }
}

/// RMSprop (torch.optim.RMSprop) with optional momentum, centering and weight decay.
public final class RMSprop: Optimizer, @unchecked Sendable {
    /// RMSprop over `groups`; group options override these defaults.
    public init(_ groups: [ParamGroup], lr: Double = 1e-2, alpha: Double = 0.99, eps: Double = 1e-8,
                weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false, maximize: Bool = false) {
        super.init(groups: groups, defaults: ["lr": .double(lr), "alpha": .double(alpha), "eps": .double(eps),
                                              "weight_decay": .double(weightDecay), "momentum": .double(momentum),
                                              "centered": .bool(centered), "maximize": .bool(maximize)])
    }

    /// RMSprop over one group of `parameters`.
    public convenience init(_ parameters: [Parameter], lr: Double = 1e-2, alpha: Double = 0.99, eps: Double = 1e-8,
                            weightDecay: Double = 0, momentum: Double = 0, centered: Bool = false, maximize: Bool = false) {
        self.init([ParamGroup(parameters)], lr: lr, alpha: alpha, eps: eps, weightDecay: weightDecay,
                  momentum: momentum, centered: centered, maximize: maximize)
    }

    override public func update(_ values: [Float], gradient: [Float], shape: [Int], group: ParamGroup,
                                state: inout ParameterState) -> [Float] {
        let lr = Float(group.double("lr")), alpha = group.double("alpha"), eps = Float(group.double("eps"))
        let weightDecay = Float(group.double("weight_decay")), momentum = Float(group.double("momentum"))
        var grad = group.bool("maximize") ? gradient.map { -$0 } : gradient
        _ = Kernel.nextStep(&state)
        if weightDecay != 0 { grad = zip(grad, values).map { $0 + weightDecay * $1 } }
        let alphaFloat = Float(alpha), squareWeight = Float(1 - alpha)
        let squareAvg = zip(Kernel.buffer(state, "square_avg", count: grad.count), grad).map { $0 * alphaFloat + squareWeight * $1 * $1 }
        state["square_avg"] = .tensor(Tensor(shape: shape, scalars: squareAvg))
        var average: [Float]
        if group.bool("centered") {
            let gradAvg = zip(Kernel.buffer(state, "grad_avg", count: grad.count), grad).map { Kernel.lerp($0, $1, squareWeight) }
            state["grad_avg"] = .tensor(Tensor(shape: shape, scalars: gradAvg))
            average = zip(squareAvg, gradAvg).map { ($0 + -1 * $1 * $1).squareRoot() }
        } else {
            average = squareAvg.map { $0.squareRoot() }
        }
        average = average.map { $0 + eps }
        if momentum > 0 {
            let buffer = zip(Kernel.buffer(state, "momentum_buffer", count: grad.count), zip(grad, average))
                .map { $0 * momentum + $1.0 / $1.1 }
            state["momentum_buffer"] = .tensor(Tensor(shape: shape, scalars: buffer))
            return zip(values, buffer).map { $0 + -lr * $1 }
        }
        return values.indices.map { values[$0] + -lr * (grad[$0] / average[$0]) }
    }
}

import CairnTensor
import Foundation
import OrderedCollections

// Every formula keeps the operation order of torch's `get_lr` / `_get_closed_form_lr`, so the
// Double results equal torch's Python floats, not merely the same schedule.

/// Multiplies each group's lr by `gamma` every `stepSize` epochs (torch.optim.lr_scheduler.StepLR).
public final class StepLR: LRScheduler, @unchecked Sendable {
    /// Epochs between decays.
    public private(set) var stepSize: Int
    /// The decay factor.
    public private(set) var gamma: Double

    /// A step decay on `optimizer`'s groups.
    public init(_ optimizer: Optimizer, stepSize: Int, gamma: Double = 0.1, lastEpoch: Int = -1) {
        precondition(stepSize > 0, "StepLR: stepSize \(stepSize) must be positive")
        self.stepSize = stepSize
        self.gamma = gamma
        super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    override public func computeLR() -> [Double] {
        if lastEpoch == 0 || lastEpoch % stepSize != 0 { return currentLRs }
        return currentLRs.map { $0 * gamma }
    }

    override public func closedFormLR() -> [Double]? {
        baseLRs.map { $0 * pow(gamma, Double(lastEpoch.floorDivided(by: stepSize))) }
    }

    override public func optionsState() -> OrderedDictionary<StateKey, StateValue> {
        ["step_size": .int(Int64(stepSize)), "gamma": .double(gamma)]
    }

    override public func loadOptionsState(_ saved: StateValue) throws {
        let size = try saved.integer("step_size", path: "StepLR")
        guard size > 0 else { throw StateValueError.invalid(path: "StepLR.step_size", reason: "\(size) is not positive") }
        gamma = try saved.number("gamma", path: "StepLR")
        stepSize = size
    }
}

/// Multiplies each group's lr by `gamma` at each milestone epoch, once per occurrence of the
/// milestone in the list (torch.optim.lr_scheduler.MultiStepLR).
public final class MultiStepLR: LRScheduler, @unchecked Sendable {
    /// How often each milestone was given (torch keeps a `Counter`).
    public private(set) var milestones: OrderedDictionary<Int, Int>
    /// The decay factor.
    public private(set) var gamma: Double

    /// Decays at `milestones` (repeats decay repeatedly).
    public init(_ optimizer: Optimizer, milestones: [Int], gamma: Double = 0.1, lastEpoch: Int = -1) {
        var counts = OrderedDictionary<Int, Int>()
        for milestone in milestones { counts[milestone, default: 0] += 1 }
        self.milestones = counts
        self.gamma = gamma
        super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    override public func computeLR() -> [Double] {
        guard let repeats = milestones[lastEpoch] else { return currentLRs }
        return currentLRs.map { $0 * pow(gamma, Double(repeats)) }
    }

    override public func closedFormLR() -> [Double]? {
        let passed = milestones.filter { $0.key <= lastEpoch }.values.reduce(0, +)
        return baseLRs.map { $0 * pow(gamma, Double(passed)) }
    }

    override public func optionsState() -> OrderedDictionary<StateKey, StateValue> {
        let counts = OrderedDictionary(uniqueKeysWithValues: milestones.map { (StateKey.int(Int64($0.key)), StateValue.int(Int64($0.value))) })
        return ["milestones": .dict(counts), "gamma": .double(gamma)]
    }

    override public func loadOptionsState(_ saved: StateValue) throws {
        let path = "MultiStepLR.milestones"
        var counts = OrderedDictionary<Int, Int>()
        for (key, value) in try saved.required("milestones", path: "MultiStepLR").dictionary(path: path) {
            // Keys are ints in our dicts, strings once torch's Counter has passed through JSON.
            let milestone: Int64? = switch key {
            case let .int(number): number
            case let .string(text): Int64(text)
            }
            guard let milestone, let epoch = Int(exactly: milestone), let count = Int(exactly: try value.int(path: "\(path).\(key)")) else {
                throw StateValueError.invalid(path: "\(path).\(key)", reason: "not an integer milestone")
            }
            counts[epoch] = count
        }
        gamma = try saved.number("gamma", path: "MultiStepLR")
        milestones = counts
    }
}

/// Multiplies each group's lr by `gamma` every epoch (torch.optim.lr_scheduler.ExponentialLR).
public final class ExponentialLR: LRScheduler, @unchecked Sendable {
    /// The decay factor per epoch.
    public private(set) var gamma: Double

    /// An exponential decay on `optimizer`'s groups.
    public init(_ optimizer: Optimizer, gamma: Double, lastEpoch: Int = -1) {
        self.gamma = gamma
        super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    override public func computeLR() -> [Double] {
        isInitial ? currentLRs : currentLRs.map { $0 * gamma }
    }

    override public func closedFormLR() -> [Double]? { baseLRs.map { $0 * pow(gamma, Double(lastEpoch)) } }

    override public func optionsState() -> OrderedDictionary<StateKey, StateValue> { ["gamma": .double(gamma)] }

    override public func loadOptionsState(_ saved: StateValue) throws {
        gamma = try saved.number("gamma", path: "ExponentialLR")
    }
}

/// Cosine annealing from the base lrs to `etaMin` over `tMax` epochs, bouncing back up after
/// (torch.optim.lr_scheduler.CosineAnnealingLR, without restarts). Steps use torch's recursive
/// form, which also follows lrs changed by another scheduler.
public final class CosineAnnealingLR: LRScheduler, @unchecked Sendable {
    /// Epochs of a half period.
    public private(set) var tMax: Int
    /// The lowest lr.
    public private(set) var etaMin: Double

    /// Cosine annealing on `optimizer`'s groups.
    public init(_ optimizer: Optimizer, tMax: Int, etaMin: Double = 0, lastEpoch: Int = -1) {
        precondition(tMax > 0, "CosineAnnealingLR: tMax \(tMax) must be positive")
        self.tMax = tMax
        self.etaMin = etaMin
        super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    override public func computeLR() -> [Double] {
        let epoch = Double(lastEpoch), period = Double(tMax)
        if isInitial { return currentLRs }
        if stepCount == 1 && lastEpoch > 0 {
            return baseLRs.map { etaMin + ($0 - etaMin) * (1 + cos(epoch * Double.pi / period)) / 2 }
        }
        if (lastEpoch - 1 - tMax) % (2 * tMax) == 0 {
            return zip(currentLRs, baseLRs).map { $0 + ($1 - etaMin) * (1 - cos(Double.pi / period)) / 2 }
        }
        return currentLRs.map {
            (1 + cos(Double.pi * epoch / period)) / (1 + cos(Double.pi * (epoch - 1) / period)) * ($0 - etaMin) + etaMin
        }
    }

    override public func closedFormLR() -> [Double]? {
        baseLRs.map { etaMin + ($0 - etaMin) * (1 + cos(Double.pi * Double(lastEpoch) / Double(tMax))) / 2 }
    }

    override public func optionsState() -> OrderedDictionary<StateKey, StateValue> {
        ["T_max": .int(Int64(tMax)), "eta_min": .double(etaMin)]
    }

    override public func loadOptionsState(_ saved: StateValue) throws {
        let period = try saved.integer("T_max", path: "CosineAnnealingLR")
        guard period > 0 else { throw StateValueError.invalid(path: "CosineAnnealingLR.T_max", reason: "\(period) is not positive") }
        etaMin = try saved.number("eta_min", path: "CosineAnnealingLR")
        tMax = period
    }
}

/// Scales the base lrs linearly from `startFactor` to `endFactor` over `totalIters` epochs,
/// the usual warm-up (torch.optim.lr_scheduler.LinearLR).
public final class LinearLR: LRScheduler, @unchecked Sendable {
    /// The factor at epoch 0, in (0, 1].
    public private(set) var startFactor: Double
    /// The factor from `totalIters` on, in [0, 1].
    public private(set) var endFactor: Double
    /// Epochs of the ramp.
    public private(set) var totalIters: Int

    /// A linear ramp on `optimizer`'s groups.
    public init(_ optimizer: Optimizer, startFactor: Double = 1.0 / 3, endFactor: Double = 1, totalIters: Int = 5,
                lastEpoch: Int = -1) {
        precondition(startFactor > 0 && startFactor <= 1, "LinearLR: startFactor \(startFactor) must lie in (0, 1]")
        precondition(endFactor >= 0 && endFactor <= 1, "LinearLR: endFactor \(endFactor) must lie in [0, 1]")
        self.startFactor = startFactor
        self.endFactor = endFactor
        self.totalIters = totalIters
        super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    override public func computeLR() -> [Double] {
        if lastEpoch == 0 { return currentLRs.map { $0 * startFactor } }
        if isInitial || lastEpoch > totalIters { return currentLRs }
        let ratio = 1.0 + (endFactor - startFactor)
            / (Double(totalIters) * startFactor + Double(lastEpoch - 1) * (endFactor - startFactor))
        return currentLRs.map { $0 * ratio }
    }

    override public func closedFormLR() -> [Double]? {
        baseLRs.map {
            $0 * (startFactor + (endFactor - startFactor) * Double(Swift.min(totalIters, lastEpoch)) / Double(totalIters))
        }
    }

    override public func optionsState() -> OrderedDictionary<StateKey, StateValue> {
        ["start_factor": .double(startFactor), "end_factor": .double(endFactor), "total_iters": .int(Int64(totalIters))]
    }

    override public func loadOptionsState(_ saved: StateValue) throws {
        let start = try saved.number("start_factor", path: "LinearLR"), end = try saved.number("end_factor", path: "LinearLR")
        totalIters = try saved.integer("total_iters", path: "LinearLR")
        startFactor = start
        endFactor = end
    }
}

/// Sets each group's lr to its base lr times a function of the epoch
/// (torch.optim.lr_scheduler.LambdaLR). The closures are not saved: `lr_lambdas` holds nulls.
public final class LambdaLR: LRScheduler, @unchecked Sendable {
    /// One factor function per param group.
    public let lrLambdas: [@Sendable (Int) -> Double]

    /// One `lambda` shared by every group.
    public convenience init(_ optimizer: Optimizer, lambda: @escaping @Sendable (Int) -> Double, lastEpoch: Int = -1) {
        self.init(optimizer, lambdas: Array(repeating: lambda, count: optimizer.paramGroups.count), lastEpoch: lastEpoch)
    }

    /// One lambda per param group, in order.
    public init(_ optimizer: Optimizer, lambdas: [@Sendable (Int) -> Double], lastEpoch: Int = -1) {
        precondition(lambdas.count == optimizer.paramGroups.count,
                     "LambdaLR: \(lambdas.count) lambdas for \(optimizer.paramGroups.count) param groups")
        lrLambdas = lambdas
        super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    override public func computeLR() -> [Double] {
        zip(lrLambdas, baseLRs).map { lambda, base in base * lambda(lastEpoch) }
    }

    override public func trailingState() -> OrderedDictionary<StateKey, StateValue> {
        ["lr_lambdas": .list(Array(repeating: .null, count: lrLambdas.count))]
    }
}

extension Int {
    /// Python's `//`: rounds toward negative infinity.
    func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

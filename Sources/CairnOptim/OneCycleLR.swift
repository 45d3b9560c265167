import CairnTensor
import Foundation
import OrderedCollections

/// The 1cycle policy (torch.optim.lr_scheduler.OneCycleLR): per batch, the lr rises from
/// `maxLR / divFactor` to `maxLR` over `pctStart` of `totalSteps`, then anneals to
/// `initial_lr / finalDivFactor` (with `threePhase`, first back down to the initial lr), while
/// momentum (SGD's `momentum` or Adam's β₁) cycles the opposite way. The groups gain torch's
/// `initial_lr`, `max_lr`, `min_lr`, `max_momentum` and `base_momentum` options.
public final class OneCycleLR: LRScheduler, @unchecked Sendable {
    /// How each phase interpolates.
    public enum AnnealStrategy: String, Sendable {
        /// Half a cosine wave.
        case cos
        /// A straight line.
        case linear
    }

    /// One phase: where it ends and which group options it moves between.
    struct Phase: Sendable, Equatable {
        var endStep: Double
        var startLR: String, endLR: String
        var startMomentum: String, endMomentum: String
    }

    /// Steps in the whole cycle; stepping beyond is a programming error, as in torch.
    public private(set) var totalSteps: Int
    /// The interpolation of every phase.
    public private(set) var annealStrategy: AnnealStrategy
    /// Whether momentum cycles too.
    public private(set) var cycleMomentum: Bool
    /// True when the momentum cycled is Adam's β₁ (`betas[0]`) rather than `momentum`.
    public private(set) var usesBeta1: Bool
    private(set) var phases: [Phase]

    /// A one-cycle schedule of `totalSteps` steps; `maxLR` holds one value for all groups or one per group.
    public init(_ optimizer: Optimizer, maxLR: [Double], totalSteps: Int, pctStart: Double = 0.3,
                annealStrategy: AnnealStrategy = .cos, cycleMomentum: Bool = true, baseMomentum: Double = 0.85,
                maxMomentum: Double = 0.95, divFactor: Double = 25, finalDivFactor: Double = 1e4,
                threePhase: Bool = false, lastEpoch: Int = -1) {
        let groupCount = optimizer.paramGroups.count
        precondition(totalSteps > 0, "OneCycleLR: totalSteps \(totalSteps) must be positive")
        precondition(pctStart >= 0 && pctStart <= 1, "OneCycleLR: pctStart \(pctStart) must lie in [0, 1]")
        precondition(maxLR.count == 1 || maxLR.count == groupCount,
                     "OneCycleLR: \(maxLR.count) max lrs for \(groupCount) param groups")
        let total = Double(totalSteps)
        let warmUp = Phase(endStep: pctStart * total - 1, startLR: "initial_lr", endLR: "max_lr",
                           startMomentum: "max_momentum", endMomentum: "base_momentum")
        phases = threePhase
            ? [warmUp,
               Phase(endStep: 2 * pctStart * total - 2, startLR: "max_lr", endLR: "initial_lr",
                     startMomentum: "base_momentum", endMomentum: "max_momentum"),
               Phase(endStep: total - 1, startLR: "initial_lr", endLR: "min_lr",
                     startMomentum: "max_momentum", endMomentum: "max_momentum")]
            : [warmUp,
               Phase(endStep: total - 1, startLR: "max_lr", endLR: "min_lr",
                     startMomentum: "base_momentum", endMomentum: "max_momentum")]
        self.totalSteps = totalSteps
        self.annealStrategy = annealStrategy
        self.cycleMomentum = cycleMomentum
        usesBeta1 = optimizer.defaults["betas"] != nil
        precondition(!cycleMomentum || usesBeta1 || optimizer.defaults["momentum"] != nil,
                     "OneCycleLR: cycleMomentum needs an optimizer with momentum or betas")
        if lastEpoch == -1 {
            for index in 0..<groupCount {
                let peak = maxLR.count == 1 ? maxLR[0] : maxLR[index]
                let initial = peak / divFactor
                optimizer.paramGroups[index].options["initial_lr"] = .double(initial)
                optimizer.paramGroups[index].options["max_lr"] = .double(peak)
                optimizer.paramGroups[index].options["min_lr"] = .double(initial / finalDivFactor)
                if cycleMomentum {
                    Self.setMomentum(maxMomentum, in: &optimizer.paramGroups[index], usesBeta1: usesBeta1)
                    optimizer.paramGroups[index].options["max_momentum"] = .double(maxMomentum)
                    optimizer.paramGroups[index].options["base_momentum"] = .double(baseMomentum)
                }
            }
        }
        super.init(optimizer: optimizer, lastEpoch: lastEpoch)
    }

    /// A one-cycle schedule peaking at the same `maxLR` in every group.
    public convenience init(_ optimizer: Optimizer, maxLR: Double, totalSteps: Int, pctStart: Double = 0.3,
                            annealStrategy: AnnealStrategy = .cos, threePhase: Bool = false) {
        self.init(optimizer, maxLR: [maxLR], totalSteps: totalSteps, pctStart: pctStart,
                  annealStrategy: annealStrategy, threePhase: threePhase)
    }

    private static func setMomentum(_ momentum: Double, in group: inout ParamGroup, usesBeta1: Bool) {
        if usesBeta1 {
            guard case var .list(betas)? = group.options["betas"], !betas.isEmpty else {
                preconditionFailure("OneCycleLR: param group has no betas to cycle")
            }
            betas[0] = .double(momentum)
            group.options["betas"] = .list(betas)
        } else {
            group.options["momentum"] = .double(momentum)
        }
    }

    private func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        switch annealStrategy {
        case .cos: end + (start - end) / 2.0 * (cos(Double.pi * pct) + 1)
        case .linear: (end - start) * pct + start
        }
    }

    override public func computeLR() -> [Double] {
        precondition(lastEpoch <= totalSteps, "OneCycleLR: stepped \(lastEpoch) times, totalSteps is \(totalSteps)")
        let stepNumber = Double(lastEpoch)
        var rates: [Double] = []
        for index in optimizer.paramGroups.indices {
            let group = optimizer.paramGroups[index]
            var startStep = 0.0
            for (phaseIndex, phase) in phases.enumerated() {
                if stepNumber <= phase.endStep || phaseIndex == phases.count - 1 {
                    let pct = (stepNumber - startStep) / (phase.endStep - startStep)
                    rates.append(anneal(group.double(phase.startLR), group.double(phase.endLR), pct))
                    if cycleMomentum {
                        let momentum = anneal(group.double(phase.startMomentum), group.double(phase.endMomentum), pct)
                        Self.setMomentum(momentum, in: &optimizer.paramGroups[index], usesBeta1: usesBeta1)
                    }
                    break
                }
                startStep = phase.endStep
            }
        }
        return rates
    }

    override public func optionsState() -> OrderedDictionary<StateKey, StateValue> {
        let savedPhases: [StateValue] = phases.enumerated().map { index, phase in
            // torch's last phase ends at the int `total_steps - 1`, the others at floats.
            let end: StateValue = index == phases.count - 1 ? .int(Int64(totalSteps - 1)) : .double(phase.endStep)
            return .dict(["end_step": end, "start_lr": .string(phase.startLR), "end_lr": .string(phase.endLR),
                          "start_momentum": .string(phase.startMomentum), "end_momentum": .string(phase.endMomentum)])
        }
        var entries: OrderedDictionary<StateKey, StateValue> = [
            "total_steps": .int(Int64(totalSteps)), "_schedule_phases": .list(savedPhases),
            "_anneal_func_type": .string(annealStrategy.rawValue), "cycle_momentum": .bool(cycleMomentum),
        ]
        if cycleMomentum { entries["use_beta1"] = .bool(usesBeta1) }
        return entries
    }

    override public func loadOptionsState(_ saved: StateValue) throws {
        let path = "OneCycleLR"
        let total = try saved.integer("total_steps", path: path)
        guard total > 0 else { throw StateValueError.invalid(path: "\(path).total_steps", reason: "\(total) is not positive") }
        let strategyName = try saved.text("_anneal_func_type", path: path)
        guard let strategy = AnnealStrategy(rawValue: strategyName) else {
            throw StateValueError.invalid(path: "\(path)._anneal_func_type", reason: "unknown strategy '\(strategyName)'")
        }
        let cycles = try saved.flag("cycle_momentum", path: path)
        let beta1 = cycles ? try saved.flag("use_beta1", path: path) : usesBeta1
        let phaseList = try saved.required("_schedule_phases", path: path).list(path: "\(path)._schedule_phases")
        let groupKeys: Set<String> = ["initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"]
        let loaded = try phaseList.enumerated().map { index, entry in
            let phasePath = "\(path)._schedule_phases.\(index)"
            let names = try ["start_lr", "end_lr", "start_momentum", "end_momentum"].map { key in
                let name = try entry.text(key, path: phasePath)
                guard groupKeys.contains(name) else {
                    throw StateValueError.invalid(path: "\(phasePath).\(key)", reason: "'\(name)' is not a one-cycle group option")
                }
                return name
            }
            return Phase(endStep: try entry.number("end_step", path: phasePath), startLR: names[0], endLR: names[1],
                         startMomentum: names[2], endMomentum: names[3])
        }
        guard !loaded.isEmpty else { throw StateValueError.invalid(path: "\(path)._schedule_phases", reason: "no phases") }
        totalSteps = total
        annealStrategy = strategy
        cycleMomentum = cycles
        usesBeta1 = beta1
        phases = loaded
    }
}

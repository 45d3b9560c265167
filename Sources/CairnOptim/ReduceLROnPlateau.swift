import CairnTensor
import OrderedCollections

/// Cuts the lrs by `factor` when a monitored value stops improving for more than `patience`
/// steps, then waits `cooldown` steps (torch.optim.lr_scheduler.ReduceLROnPlateau).
public final class ReduceLROnPlateau: @unchecked Sendable {
    /// Whether lower or higher values of the metric are better.
    public enum Mode: String, Sendable {
        /// Lower is better (a loss).
        case min
        /// Higher is better (an accuracy).
        case max
    }

    /// How `threshold` defines a significant improvement.
    public enum ThresholdMode: String, Sendable {
        /// Better than `best · (1 ∓ threshold)`.
        case rel
        /// Better than `best ∓ threshold`.
        case abs
    }

    /// The optimizer whose lrs are reduced.
    public let optimizer: Optimizer
    /// The reduction factor, below 1.
    public private(set) var factor: Double
    /// Bad steps tolerated before a reduction.
    public private(set) var patience: Int
    /// Steps after a reduction during which bad steps are not counted.
    public private(set) var cooldown: Int
    /// Reductions smaller than this are skipped.
    public private(set) var eps: Double
    /// The floor of each group's lr.
    public private(set) var minLRs: [Double]
    /// The single floor given for all groups, or nil when one was given per group.
    public private(set) var defaultMinLR: Double?
    /// Lower or higher is better.
    public private(set) var mode: Mode
    /// The significance of an improvement.
    public private(set) var threshold: Double
    /// Relative or absolute threshold.
    public private(set) var thresholdMode: ThresholdMode
    /// The best metric so far (±∞ before the first step).
    public private(set) var best: Double
    /// Consecutive steps without a significant improvement.
    public private(set) var numBadEpochs = 0
    /// Steps of cooldown left.
    public private(set) var cooldownCounter = 0
    /// Steps taken so far.
    public private(set) var lastEpoch = 0
    /// The lrs after the latest step, one per group.
    public private(set) var lastLR: [Double]

    /// A plateau monitor on `optimizer`; `minLR` holds one floor for all groups or one per group.
    public init(_ optimizer: Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .rel, cooldown: Int = 0,
                minLR: [Double] = [0], eps: Double = 1e-8) {
        let groupCount = optimizer.paramGroups.count
        precondition(factor < 1, "ReduceLROnPlateau: factor \(factor) must be below 1")
        precondition(minLR.count == 1 || minLR.count == groupCount,
                     "ReduceLROnPlateau: \(minLR.count) min lrs for \(groupCount) param groups")
        self.optimizer = optimizer
        self.factor = factor
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        // torch keeps a scalar floor as `default_min_lr` (and re-expands it if groups are added).
        defaultMinLR = minLR.count == 1 ? minLR[0] : nil
        minLRs = minLR.count == 1 ? Array(repeating: minLR[0], count: groupCount) : minLR
        self.mode = mode
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        best = mode == .min ? .infinity : -.infinity
        lastLR = optimizer.paramGroups.map(\.learningRate)
    }

    /// A plateau monitor with one lr floor per group (torch's list `min_lr`).
    public convenience init(_ optimizer: Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                            threshold: Double = 1e-4, thresholdMode: ThresholdMode = .rel, cooldown: Int = 0,
                            minLRPerGroup: [Double], eps: Double = 1e-8) {
        self.init(optimizer, mode: mode, factor: factor, patience: patience, threshold: threshold,
                  thresholdMode: thresholdMode, cooldown: cooldown, minLR: minLRPerGroup, eps: eps)
        defaultMinLR = nil
    }

    /// The metric that counts as worst: +∞ when minimising, −∞ when maximising.
    public var modeWorse: Double { mode == .min ? .infinity : -.infinity }

    private func isBetter(_ value: Double, than reference: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .rel): value < reference * (1.0 - threshold)
        case (.min, .abs): value < reference - threshold
        case (.max, .rel): value > reference * (threshold + 1.0)
        case (.max, .abs): value > reference + threshold
        }
    }

    /// Records this step's `metric` and reduces the lrs if it has not improved for too long.
    public func step(_ metric: Double) {
        lastEpoch += 1
        if isBetter(metric, than: best) {
            best = metric
            numBadEpochs = 0
        } else {
            numBadEpochs += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            numBadEpochs = 0
        }
        if numBadEpochs > patience {
            reduceLearningRates()
            cooldownCounter = cooldown
            numBadEpochs = 0
        }
        lastLR = optimizer.paramGroups.map(\.learningRate)
    }

    private func reduceLearningRates() {
        if minLRs.count != optimizer.paramGroups.count {
            guard let defaultMinLR else {
                preconditionFailure("ReduceLROnPlateau: optimizer has \(optimizer.paramGroups.count) param groups, \(minLRs.count) min lrs")
            }
            minLRs = Array(repeating: defaultMinLR, count: optimizer.paramGroups.count)
        }
        for index in optimizer.paramGroups.indices {
            let old = optimizer.paramGroups[index].learningRate
            let new = Swift.max(old * factor, minLRs[index])
            if old - new > eps { optimizer.paramGroups[index].learningRate = new }
        }
    }

    /// torch's entries, in its order: options, `last_epoch`, `_last_lr`, `mode_worse`, the
    /// threshold settings, then `best`, `cooldown_counter`, `num_bad_epochs`.
    public func stateDict() -> StateValue {
        .dict(["factor": .double(factor), "default_min_lr": defaultMinLR.map { .double($0) } ?? .null,
               "min_lrs": .doubles(minLRs), "patience": .int(Int64(patience)), "cooldown": .int(Int64(cooldown)),
               "eps": .double(eps), "last_epoch": .int(Int64(lastEpoch)), "_last_lr": .doubles(lastLR),
               "mode_worse": .double(modeWorse), "mode": .string(mode.rawValue), "threshold": .double(threshold),
               "threshold_mode": .string(thresholdMode.rawValue), "best": .double(best),
               "cooldown_counter": .int(Int64(cooldownCounter)), "num_bad_epochs": .int(Int64(numBadEpochs))])
    }

    /// Restores a state saved by ``stateDict()``; nothing changes when an entry is missing or malformed.
    public func loadStateDict(_ saved: StateValue) throws {
        let path = "ReduceLROnPlateau"
        let modeName = try saved.text("mode", path: path), thresholdName = try saved.text("threshold_mode", path: path)
        guard let savedMode = Mode(rawValue: modeName) else {
            throw StateValueError.invalid(path: "\(path).mode", reason: "unknown mode '\(modeName)'")
        }
        guard let savedThresholdMode = ThresholdMode(rawValue: thresholdName) else {
            throw StateValueError.invalid(path: "\(path).threshold_mode", reason: "unknown threshold mode '\(thresholdName)'")
        }
        let defaultFloor = try saved.required("default_min_lr", path: path)
        let savedDefault: Double? = if case .null = defaultFloor { nil } else { try defaultFloor.double(path: "\(path).default_min_lr") }
        let values = (factor: try saved.number("factor", path: path), floors: try saved.doubles("min_lrs", path: path),
                      patience: try saved.integer("patience", path: path), cooldown: try saved.integer("cooldown", path: path),
                      eps: try saved.number("eps", path: path), epoch: try saved.integer("last_epoch", path: path),
                      last: try saved.doubles("_last_lr", path: path, count: optimizer.paramGroups.count),
                      threshold: try saved.number("threshold", path: path), best: try saved.number("best", path: path),
                      cooldownCounter: try saved.integer("cooldown_counter", path: path),
                      bad: try saved.integer("num_bad_epochs", path: path))
        factor = values.factor
        defaultMinLR = savedDefault
        minLRs = values.floors
        patience = values.patience
        cooldown = values.cooldown
        eps = values.eps
        lastEpoch = values.epoch
        lastLR = values.last
        mode = savedMode
        threshold = values.threshold
        thresholdMode = savedThresholdMode
        best = values.best
        cooldownCounter = values.cooldownCounter
        numBadEpochs = values.bad
    }
}

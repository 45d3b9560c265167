import CairnData
import CairnOptim
import CairnTensor
import OrderedCollections

/// Lightning's LearningRateMonitor: logs each param group's learning rate (and optionally its
/// momentum and weight decay) to the trainer's loggers, as `lr-Adam`, or `lr-Adam/pg1`,
/// `lr-Adam/pg2`, … when the optimizer has several groups.
public final class LearningRateMonitor: Callback, @unchecked Sendable {
    /// When the rates are logged.
    public enum LoggingInterval: String, Sendable { case step, epoch }

    /// `.step`: before each training batch whose step logs (every `logEveryNSteps`); `.epoch`:
    /// at each training epoch's start; nil: by step, as Lightning does for optimizers without a scheduler.
    public let loggingInterval: LoggingInterval?
    /// Also log `lr-Adam-momentum`: `momentum`, or β₁ of optimizers with `betas`.
    public let logMomentum: Bool
    /// Also log `lr-Adam-weight_decay`.
    public let logWeightDecay: Bool

    /// A monitor logging at `loggingInterval`.
    public init(loggingInterval: LoggingInterval? = nil, logMomentum: Bool = false, logWeightDecay: Bool = false) {
        self.loggingInterval = loggingInterval
        self.logMomentum = logMomentum
        self.logWeightDecay = logWeightDecay
        super.init()
    }

    override public func onTrainStart(_ trainer: Trainer, _ module: TrainingModule) throws { try trainer.requireLogger(for: self) }

    override public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int) throws {
        guard loggingInterval != .epoch, trainer.shouldUpdateLogs, let optimizer = trainer.optimizer else { return }
        try trainer.logMetrics(stats(of: optimizer))
    }

    override public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard loggingInterval == .epoch, let optimizer = trainer.optimizer else { return }
        try trainer.logMetrics(stats(of: optimizer))
    }

    /// The logged values of every param group, by Lightning's names.
    public func stats(of optimizer: Optimizer) -> OrderedDictionary<String, Double> {
        let base = "lr-\(type(of: optimizer))"
        var stats: OrderedDictionary<String, Double> = [:]
        let groups = optimizer.paramGroups
        for (index, group) in groups.enumerated() {
            let name = groups.count == 1 ? base : "\(base)/pg\(index + 1)"
            stats[name] = group.learningRate
            if logMomentum { stats["\(name)-momentum"] = Self.momentum(of: group) }
            if logWeightDecay { stats["\(name)-weight_decay"] = Self.number(group.options["weight_decay"]) ?? 0 }
        }
        return stats
    }

    /// β₁ when the group has `betas` (Adam and its kin), else `momentum`, else 0, as Lightning.
    private static func momentum(of group: ParamGroup) -> Double {
        if case let .list(betas)? = group.options["betas"], let first = betas.first { return number(first) ?? 0 }
        return number(group.options["momentum"]) ?? 0
    }

    private static func number(_ value: StateValue?) -> Double? { try? value?.double(path: "") }
}

extension LearningRateMonitor: RegistrableCallback {
    public static var registryName: String { "LearningRateMonitor" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let interval = try arguments.value("logging_interval", default: LoggingInterval?.none, expected: "interval (step, epoch or none)") { text in
            text.lowercased() == "none" ? .some(nil) : LoggingInterval(rawValue: text).map { .some($0) }
        }
        return LearningRateMonitor(loggingInterval: interval, logMomentum: try arguments.bool("log_momentum", default: false),
                                   logWeightDecay: try arguments.bool("log_weight_decay", default: false))
    }
}

import CairnCheckpoint
import Foundation

/// Lightning's `EarlyStopping`: asks the trainer to stop once a monitored metric has not improved
/// for `patience` checks, crossed a stopping or divergence threshold, or stopped being finite.
public final class EarlyStopping: Callback, @unchecked Sendable {
    /// Whether a lower or a higher monitored value is better.
    public enum Mode: String, Sendable { case min, max }

    /// The saved state; keys as Lightning's `EarlyStopping.state_dict`.
    public struct State: Codable, Sendable, Equatable {
        /// Checks in a row without improvement.
        public var waitCount = 0
        /// The epoch at which the callback asked to stop (0 until then).
        public var stoppedEpoch = 0
        /// The best monitored value so far (±infinity before the first check).
        public var bestScore: Double
        /// The patience in force when saved; restored over the configured one, as Lightning does.
        public var patience: Int

        enum CodingKeys: String, CodingKey {
            case waitCount = "wait_count"
            case stoppedEpoch = "stopped_epoch"
            case bestScore = "best_score"
            case patience
        }
    }

    /// The metric watched, as logged (a key of the trainer's callback metrics).
    public let monitor: String
    /// The smallest change that counts as an improvement (always given as a magnitude).
    public let minDelta: Double
    /// Whether lower or higher is better.
    public let mode: Mode
    /// Whether a missing metric is an error (else it is skipped, with a warning when verbose).
    public let strict: Bool
    /// Whether a NaN or infinite value stops training at once.
    public let checkFinite: Bool
    /// Stop as soon as the metric is better than this.
    public let stoppingThreshold: Double?
    /// Stop as soon as the metric is worse than this.
    public let divergenceThreshold: Double?
    /// Check at train epoch end (true) or after each validation (false); nil picks as Lightning does at setup.
    public let checkOnTrainEpochEnd: Bool?
    /// Whether each decision is logged at notice level.
    public let verbose: Bool
    /// The counters so far.
    public private(set) var state: State

    private var checksAtTrainEpochEnd = true

    /// An early-stopping callback; throws when `patience` or `minDelta` is negative.
    public init(monitor: String, minDelta: Double = 0, patience: Int = 3, verbose: Bool = false, mode: Mode = .min,
                strict: Bool = true, checkFinite: Bool = true, stoppingThreshold: Double? = nil,
                divergenceThreshold: Double? = nil, checkOnTrainEpochEnd: Bool? = nil) throws {
        guard patience >= 0 else {
            throw TrainerError.invalidConfiguration(callback: "EarlyStopping", reason: "patience \(patience) must not be negative")
        }
        guard minDelta >= 0, minDelta.isFinite else {
            throw TrainerError.invalidConfiguration(callback: "EarlyStopping", reason: "min_delta \(minDelta) must be finite and not negative")
        }
        self.monitor = monitor
        self.minDelta = minDelta
        self.mode = mode
        self.strict = strict
        self.checkFinite = checkFinite
        self.stoppingThreshold = stoppingThreshold
        self.divergenceThreshold = divergenceThreshold
        self.checkOnTrainEpochEnd = checkOnTrainEpochEnd
        self.verbose = verbose
        state = State(bestScore: mode == .min ? .infinity : -.infinity, patience: patience)
        super.init()
    }

    /// Checks without improvement tolerated before stopping (a restored state's value wins).
    public var patience: Int { state.patience }
    /// Checks in a row without improvement so far.
    public var waitCount: Int { state.waitCount }
    /// The best value so far.
    public var bestScore: Double { state.bestScore }
    /// The epoch at which this callback asked to stop, or 0.
    public var stoppedEpoch: Int { state.stoppedEpoch }

    override public var monitorsMetrics: Bool { true }

    override public var stateKey: String {
        makeStateKey(["monitor": .string(monitor), "mode": .string(mode.rawValue)])
    }

    override public func stateDict() throws -> CheckpointValue? { try CheckpointEncoder().encode(state) }

    override public func loadStateDict(_ saved: CheckpointValue) throws {
        state = try CheckpointDecoder().decode(State.self, from: saved)
    }

    /// Lightning's default: at train epoch end when validation runs once at each epoch's end (or
    /// not at all), so the epoch's validation metrics are in; otherwise after every validation.
    override public func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        checksAtTrainEpochEnd = checkOnTrainEpochEnd
            ?? (trainer.options.valCheckInterval == nil && trainer.options.checkValEveryNEpoch == 1)
    }

    override public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        // An epoch cut short by maxSteps ends the run anyway, often before its validation ran;
        // Lightning checks (and, strict, fails on the missing metric) there — a reported pain.
        guard checksAtTrainEpochEnd, !skipsCheck(trainer), !trainer.maxStepsReached else { return }
        try runCheck(trainer)
    }

    override public func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard !checksAtTrainEpochEnd, !skipsCheck(trainer) else { return }
        try runCheck(trainer)
    }

    private func skipsCheck(_ trainer: Trainer) -> Bool {
        trainer.stage != .fit || trainer.isSanityChecking || trainer.options.fastDevRun != nil
    }

    private func runCheck(_ trainer: Trainer) throws {
        guard let current = trainer.metrics.callbackMetrics[monitor] else {
            let available = Array(trainer.metrics.callbackMetrics.keys)
            if strict { throw EarlyStoppingError.missingMetric(monitor: monitor, available: available) }
            if verbose { trainer.logger.warning("\(EarlyStoppingError.missingMetric(monitor: monitor, available: available))") }
            return
        }
        let (stops, reason) = evaluate(current)
        if stops {
            trainer.shouldStop = true
            state.stoppedEpoch = trainer.currentEpoch
        }
        if verbose, let reason { trainer.logger.notice("EarlyStopping: \(reason)") }
    }

    private func isBetter(_ value: Double, than reference: Double) -> Bool {
        mode == .min ? value < reference : value > reference
    }

    /// Lightning's `_evaluate_stopping_criteria`, in its order: non-finite, stopping threshold,
    /// divergence threshold, improvement by more than `minDelta`, else one more check waited.
    private func evaluate(_ current: Double) -> (stops: Bool, reason: String?) {
        if checkFinite, !current.isFinite {
            return (true, "monitored metric \(monitor) = \(current) is not finite; best was \(state.bestScore); stopping")
        }
        if let threshold = stoppingThreshold, isBetter(current, than: threshold) {
            return (true, "stopping threshold reached: \(monitor) = \(current) is better than \(threshold); stopping")
        }
        if let threshold = divergenceThreshold, isBetter(threshold, than: current) {
            return (true, "divergence threshold reached: \(monitor) = \(current) is worse than \(threshold); stopping")
        }
        let shifted = mode == .min ? current + minDelta : current - minDelta
        if isBetter(shifted, than: state.bestScore) {
            let previous = state.bestScore
            state.bestScore = current
            state.waitCount = 0
            return (false, "metric \(monitor) improved from \(previous) to \(current)")
        }
        state.waitCount += 1
        guard state.waitCount >= state.patience else { return (false, nil) }
        return (true, "metric \(monitor) did not improve in the last \(state.waitCount) checks; best is \(state.bestScore); stopping")
    }
}

/// Why ``EarlyStopping`` could not check its metric.
public enum EarlyStoppingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The monitored metric was not logged; lists the metrics that were.
    case missingMetric(monitor: String, available: [String])

    public var description: String {
        switch self {
        case let .missingMetric(monitor, available):
            "EarlyStopping: metric \(monitor) is not available; logged metrics: "
                + (available.isEmpty ? "(none)" : available.joined(separator: ", "))
        }
    }
}

extension EarlyStopping: RegistrableCallback {
    public static var registryName: String { "EarlyStopping" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        guard let monitor = arguments.string("monitor") else {
            throw TrainerError.invalidConfiguration(callback: "EarlyStopping", reason: "monitor is required")
        }
        let checkOnTrainEpochEnd: Bool? = try arguments.value("check_on_train_epoch_end", default: nil, expected: "Boolean (true or false)") {
            ["true": true, "1": true, "false": false, "0": false][$0.lowercased()].map { Optional($0) }
        }
        return try EarlyStopping(
            monitor: monitor, minDelta: try arguments.double("min_delta") ?? 0, patience: try arguments.int("patience") ?? 3,
            verbose: try arguments.bool("verbose", default: false),
            mode: try arguments.value("mode", default: .min, expected: "mode (min or max)") { Mode(rawValue: $0) },
            strict: try arguments.bool("strict", default: true), checkFinite: try arguments.bool("check_finite", default: true),
            stoppingThreshold: try arguments.double("stopping_threshold"),
            divergenceThreshold: try arguments.double("divergence_threshold"), checkOnTrainEpochEnd: checkOnTrainEpochEnd)
    }
}

import CairnCheckpoint
import CairnData
import CairnTensor
import Foundation
import OrderedCollections

/// Lightning's `Timer` callback (registered and saved as `Timer`; the Swift name avoids Foundation's
/// `Timer`): times each stage and asks fit to stop once the training time, counted across resumes,
/// reaches a budget.
public final class TrainingTimer: Callback, @unchecked Sendable {
    /// When the budget is checked: after every train batch or at each train epoch's end.
    public enum Interval: String, Sendable { case step, epoch }

    /// The stages timed, named as Lightning's `RunningStage` values in the saved state.
    public enum TimedStage: String, Sendable, CaseIterable {
        case train
        case sanityCheck = "sanity_check"
        case validate, test, predict
    }

    /// Seconds on a monotonic clock; tests inject a fake one.
    public typealias Clock = @Sendable () -> Double

    /// The budget in seconds, or nil to only measure.
    public let durationSeconds: Double?
    /// When the budget is checked.
    public let interval: Interval
    /// Whether reaching the budget is logged.
    public let verbose: Bool

    private let clock: Clock
    private var startTimes: [TimedStage: Double] = [:]
    private var endTimes: [TimedStage: Double] = [:]
    /// Training seconds from the runs before a resume.
    private var trainingOffset = 0.0

    /// A timer with `duration` as budget (nil: measure only).
    public init(duration: Duration? = nil, interval: Interval = .step, verbose: Bool = true,
                clock: @escaping Clock = { ProcessInfo.processInfo.systemUptime }) {
        durationSeconds = duration.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
        self.interval = interval
        self.verbose = verbose
        self.clock = clock
        super.init()
    }

    /// A timer whose budget is the sum of the parts, as Lightning's dict form `{"days": 1, "hours": 2}`.
    public convenience init(days: Double = 0, hours: Double = 0, minutes: Double = 0, seconds: Double = 0,
                            interval: Interval = .step, verbose: Bool = true,
                            clock: @escaping Clock = { ProcessInfo.processInfo.systemUptime }) throws {
        let total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
        guard total.isFinite, total >= 0, total < Double(Int64.max) else {
            throw TrainerError.invalidConfiguration(callback: "Timer", reason: "duration of \(total) seconds is not a valid budget")
        }
        self.init(duration: .seconds(total), interval: interval, verbose: verbose, clock: clock)
    }

    /// A timer whose budget is written `DD:HH:MM:SS` (days of any length, the rest two digits each).
    public convenience init(duration text: String, interval: Interval = .step, verbose: Bool = true,
                            clock: @escaping Clock = { ProcessInfo.processInfo.systemUptime }) throws {
        try self.init(seconds: Self.parseSeconds(text), interval: interval, verbose: verbose, clock: clock)
    }

    /// Seconds in a `DD:HH:MM:SS` text; errors name the text.
    static func parseSeconds(_ text: String) throws -> Double {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
        let digitsOnly = parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
        guard parts.count == 4, digitsOnly, parts.dropFirst().allSatisfy({ $0.count == 2 }),
              let days = Double(parts[0]), let hours = Double(parts[1]), let minutes = Double(parts[2]), let seconds = Double(parts[3]) else {
            throw TrainerError.invalidConfiguration(callback: "Timer", reason: "duration '\(text)' is not in the form DD:HH:MM:SS")
        }
        return ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    }

    override public var stateKey: String { "Timer" }

    // MARK: Readings

    /// The clock reading when `stage` last started, or nil.
    public func startTime(_ stage: TimedStage = .train) -> Double? { startTimes[stage] }

    /// The clock reading when `stage` last ended, or nil (not ended yet, or never run).
    public func endTime(_ stage: TimedStage = .train) -> Double? { endTimes[stage] }

    /// Seconds spent in `stage`'s latest run; for training, plus the time restored from a checkpoint.
    public func timeElapsed(_ stage: TimedStage = .train) -> Double {
        let offset = stage == .train ? trainingOffset : 0
        guard let start = startTimes[stage] else { return offset }
        return (endTimes[stage] ?? clock()) - start + offset
    }

    /// Seconds left of the budget (negative once overrun), or nil without a budget.
    public func timeRemaining(_ stage: TimedStage = .train) -> Double? {
        durationSeconds.map { $0 - timeElapsed(stage) }
    }

    // MARK: Hooks

    override public func onTrainStart(_ trainer: Trainer, _ module: TrainingModule) throws { begin(.train) }
    override public func onTrainEnd(_ trainer: Trainer, _ module: TrainingModule) throws { end(.train) }
    override public func onValidationStart(_ trainer: Trainer, _ module: TrainingModule) throws { begin(.validate) }
    override public func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws { end(.validate) }
    override public func onTestStart(_ trainer: Trainer, _ module: TrainingModule) throws { begin(.test) }
    override public func onTestEnd(_ trainer: Trainer, _ module: TrainingModule) throws { end(.test) }

    private func begin(_ stage: TimedStage) {
        startTimes[stage] = clock()
        endTimes[stage] = nil
    }

    private func end(_ stage: TimedStage) { endTimes[stage] = clock() }

    /// Checked once the state is restored, whatever the interval, so a resumed run whose budget
    /// is already spent trains nothing.
    override public func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws { checkBudget(trainer) }

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        if interval == .step { checkBudget(trainer) }
    }

    override public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        if interval == .epoch { checkBudget(trainer) }
    }

    private func checkBudget(_ trainer: Trainer) {
        guard let durationSeconds, timeElapsed(.train) >= durationSeconds else { return }
        trainer.shouldStop = true
        if verbose {
            trainer.logger.notice("Timer: time limit reached after \(Int(timeElapsed(.train))) s of training; stopping")
        }
    }

    // MARK: State

    /// `{"time_elapsed": {stage name: seconds}}` for every stage, as Lightning.
    override public func stateDict() throws -> CheckpointValue? {
        var elapsed = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for stage in TimedStage.allCases { elapsed[.string(stage.rawValue)] = .double(timeElapsed(stage)) }
        return .dictionary(["time_elapsed": .dictionary(elapsed)])
    }

    /// Only the training time carries over (Lightning's offset); the other stages restart.
    override public func loadStateDict(_ saved: CheckpointValue) throws {
        switch saved["/time_elapsed/train"] {
        case let .double(seconds)?: trainingOffset = seconds
        case let .int(seconds)?: trainingOffset = Double(seconds)
        case nil: trainingOffset = 0
        default: throw TrainerError.malformedCheckpoint(path: "/callbacks/Timer/time_elapsed/train", reason: "expected a number of seconds")
        }
    }
}

extension TrainingTimer: RegistrableCallback {
    public static var registryName: String { "Timer" }

    /// `duration` is `DD:HH:MM:SS`; the parts `days`, `hours`, `minutes`, `seconds` may be given instead.
    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let interval = try arguments.value("interval", default: Interval.step, expected: "interval (step or epoch)") { Interval(rawValue: $0) }
        let verbose = try arguments.bool("verbose", default: true)
        let parts = try ["days", "hours", "minutes", "seconds"].map { try arguments.double($0) }
        if let text = arguments.string("duration") {
            guard parts.allSatisfy({ $0 == nil }) else {
                throw TrainerError.invalidConfiguration(callback: "Timer", reason: "give duration or days/hours/minutes/seconds, not both")
            }
            return try TrainingTimer(duration: text, interval: interval, verbose: verbose)
        }
        guard parts.contains(where: { $0 != nil }) else { return TrainingTimer(interval: interval, verbose: verbose) }
        return try TrainingTimer(days: parts[0] ?? 0, hours: parts[1] ?? 0, minutes: parts[2] ?? 0, seconds: parts[3] ?? 0,
                                 interval: interval, verbose: verbose)
    }
}

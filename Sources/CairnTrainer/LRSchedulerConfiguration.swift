import CairnOptim
import CairnTensor

/// A learning-rate scheduler and when the trainer steps it: Lightning's lr scheduler dict
/// (`scheduler`, `interval`, `frequency`, `monitor`, `strict`, `name`) as returned by
/// ``TrainingModule/configureLRSchedulers(optimizer:)``.
public struct LRSchedulerConfiguration: @unchecked Sendable {
    /// When the scheduler steps.
    public enum Interval: String, Sendable {
        /// After every optimizer step (so every `accumulateGradBatches` batches).
        case step
        /// Once per training epoch.
        case epoch
    }

    /// The scheduler itself: an epoch-indexed schedule or a plateau monitor.
    public enum Scheduler: @unchecked Sendable {
        /// Any ``LRScheduler`` subclass (StepLR, OneCycleLR, SequentialLR, …); stepped without a metric.
        case schedule(LRScheduler)
        /// A ``ReduceLROnPlateau``, stepped with the value of ``LRSchedulerConfiguration/monitor``.
        case plateau(ReduceLROnPlateau)
    }

    /// The scheduler stepped.
    public var scheduler: Scheduler
    /// Step or epoch.
    public var interval: Interval
    /// Step only every this many intervals: when `(index + 1) % frequency == 0`, the index being the
    /// batch index within the epoch (step interval) or the epoch (epoch interval), as in Lightning.
    public var frequency: Int
    /// The metric a ``ReduceLROnPlateau`` reads from the callback metrics (nil for other schedulers).
    public var monitor: String?
    /// With a missing monitored metric: throw (true) or skip this step with a warning (false).
    public var strict: Bool
    /// A name for loggers and learning-rate monitors (nil: none given).
    public var name: String?

    /// A schedule stepped every `frequency` intervals.
    public init(_ scheduler: LRScheduler, interval: Interval = .epoch, frequency: Int = 1, name: String? = nil) {
        precondition(frequency >= 1, "LRSchedulerConfiguration: frequency \(frequency) must be at least 1")
        self.scheduler = .schedule(scheduler)
        self.interval = interval
        self.frequency = frequency
        monitor = nil
        strict = true
        self.name = name
    }

    /// A plateau monitor reading `monitor` (Lightning requires one for ReduceLROnPlateau).
    public init(_ scheduler: ReduceLROnPlateau, monitor: String, interval: Interval = .epoch, frequency: Int = 1,
                strict: Bool = true, name: String? = nil) {
        precondition(frequency >= 1, "LRSchedulerConfiguration: frequency \(frequency) must be at least 1")
        self.scheduler = .plateau(scheduler)
        self.interval = interval
        self.frequency = frequency
        self.monitor = monitor
        self.strict = strict
        self.name = name
    }

    /// Whether the scheduler needs a metric (Lightning's `reduce_on_plateau`).
    public var reducesOnPlateau: Bool {
        if case .plateau = scheduler { return true }
        return false
    }

    /// The optimizer the scheduler acts on.
    public var optimizer: Optimizer {
        switch scheduler {
        case let .schedule(schedule): schedule.optimizer
        case let .plateau(plateau): plateau.optimizer
        }
    }

    /// The scheduler's torch-shaped state dict, as saved under `/lr_schedulers`.
    public func stateDict() -> StateValue {
        switch scheduler {
        case let .schedule(schedule): schedule.stateDict()
        case let .plateau(plateau): plateau.stateDict()
        }
    }

    /// Restores a state saved by ``stateDict()``.
    public func loadStateDict(_ saved: StateValue) throws {
        switch scheduler {
        case let .schedule(schedule): try schedule.loadStateDict(saved)
        case let .plateau(plateau): try plateau.loadStateDict(saved)
        }
    }
}

import CairnCheckpoint
import Foundation
import OrderedCollections

/// Where a run's metrics and hyper-parameters go (Lightning's `Logger`): CSV files,
/// TensorBoard event files, …; given to ``Trainer/init(_:callbacks:loggers:logger:)``.
///
/// A logger that writes files keeps its place in them as state (``stateDict()``), filed in
/// checkpoints under `/loggers/<stateKey>`, so that a resumed fit continues the same run:
/// same version folder, and nothing the interrupted run recorded after its checkpoint.
public protocol ExperimentLogger: AnyObject, Sendable {
    /// The experiment's name (a folder under the root directory for file loggers).
    var name: String { get }
    /// The run's version within the experiment, such as `version_0`.
    var version: String { get }
    /// The folder this run writes to, when the logger writes files.
    var logDirectory: URL? { get }
    /// Where this logger's state lives under `/loggers` in a checkpoint; defaults to the type name.
    var stateKey: String { get }
    /// Records metrics at an optimizer step (Lightning logs at `_batches_that_stepped`).
    func logMetrics(_ metrics: OrderedDictionary<String, Double>, step: Int) throws
    /// Records the run's hyper-parameters.
    func logHyperparameters(_ hyperparameters: CheckpointValue) throws
    /// Records a piece of text under `tag` at `step` (loggers without text support ignore it).
    func logText(_ text: String, tag: String, step: Int) throws
    /// Makes everything recorded so far durable (called when a checkpoint is saved).
    func save() throws
    /// Ends the run; `status` is `success`, `failed` or `interrupted`.
    func finalize(status: String) throws
    /// Where the logger stands (its version and how much it has written), or nil when it keeps
    /// nothing worth restoring. Called right after ``save()`` while a checkpoint is gathered.
    func stateDict() throws -> CheckpointValue?
    /// Continues the run a checkpoint's ``stateDict()`` describes (called when fit resumes).
    func loadStateDict(_ state: CheckpointValue) throws
}

extension ExperimentLogger {
    public var logDirectory: URL? { nil }
    public var stateKey: String { String(describing: type(of: self)) }
    public func logText(_ text: String, tag: String, step: Int) throws {}
    public func stateDict() throws -> CheckpointValue? { nil }
    public func loadStateDict(_ state: CheckpointValue) throws {}
}

/// The statuses ``ExperimentLogger/finalize(status:)`` receives.
public enum LoggerStatus {
    /// The stage ran to its end.
    public static let success = "success"
    /// The stage stopped on an error.
    public static let failed = "failed"
    /// The stage was stopped on request (Ctrl-C or ``Trainer/interruptFlag``).
    public static let interrupted = "interrupted"
}

extension Trainer {
    /// Sends `metrics` to every logger at `step` (default: the step the trainer's own logging uses
    /// now, Lightning's `_batches_that_stepped`), as Lightning's callbacks do with `trainer.logger.log_metrics`.
    public func logMetrics(_ metrics: OrderedDictionary<String, Double>, step: Int? = nil) throws {
        for logger in loggers { try logger.logMetrics(metrics, step: step ?? loggingStep) }
    }
}

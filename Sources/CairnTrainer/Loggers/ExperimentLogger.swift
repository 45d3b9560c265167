import CairnCheckpoint
import OrderedCollections

/// Where a run's metrics and hyper-parameters go (Lightning's `Logger`): CSV files,
/// TensorBoard event files, …; given to ``Trainer/init(_:callbacks:loggers:logger:)``.
public protocol ExperimentLogger: AnyObject, Sendable {
    /// The experiment's name (a folder under the root directory for file loggers).
    var name: String { get }
    /// The run's version within the experiment, such as `version_0`.
    var version: String { get }
    /// Records metrics at an optimizer step (Lightning logs at `_batches_that_stepped`).
    func logMetrics(_ metrics: OrderedDictionary<String, Double>, step: Int) throws
    /// Records the run's hyper-parameters.
    func logHyperparameters(_ hyperparameters: CheckpointValue) throws
    /// Makes everything recorded so far durable (called when a checkpoint is saved).
    func save() throws
    /// Ends the run; `status` is `success`, `failed` or `interrupted`.
    func finalize(status: String) throws
}

extension Trainer {
    /// Sends `metrics` to every logger at `step` (default: the optimizer steps taken so far),
    /// as Lightning's callbacks do with `trainer.logger.log_metrics`.
    public func logMetrics(_ metrics: OrderedDictionary<String, Double>, step: Int? = nil) throws {
        for logger in loggers { try logger.logMetrics(metrics, step: step ?? progress.batchesThatStepped) }
    }
}

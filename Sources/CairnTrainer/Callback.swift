import CairnCheckpoint
import CairnData
import CairnOptim
import CairnTensor

/// Non-essential logic plugged into a ``Trainer``: every hook is a no-op until overridden,
/// so `override` catches a misspelt hook name at compile time.
///
/// Hooks run for the callbacks in the order given to the trainer, then for the module
/// (see <doc:Hooks>). A callback with state returns it from ``stateDict()`` and is told it
/// back through ``loadStateDict(_:)``; checkpoints file it under ``stateKey``.
open class Callback: @unchecked Sendable {
    public init() {}

    /// Where this callback's state lives under `/callbacks`; defaults to the type name.
    /// Override with ``makeStateKey(_:)`` when several instances may be passed to one trainer.
    open var stateKey: String { String(describing: type(of: self)) }

    /// Whether this callback watches logged metrics: at train epoch end such callbacks run
    /// after the module, so they see what the module logged in its own epoch-end hook.
    open var monitorsMetrics: Bool { false }

    /// The callback's state for a checkpoint, or nil when it keeps none.
    open func stateDict() throws -> CheckpointValue? { nil }

    /// Restores the state saved by ``stateDict()``.
    open func loadStateDict(_ state: CheckpointValue) throws {}

    /// `TypeName<"key":value,...>`: the type name then the identifying arguments as JSON
    /// pairs, in the order given, comma-separated without spaces.
    public final func makeStateKey(_ arguments: KeyValuePairs<String, StateKeyArgument>) -> String {
        StateKeyArgument.key(typeName: String(describing: type(of: self)), arguments: Array(arguments))
    }

    // MARK: Stage set-up and tear-down

    /// Called when fit, validate, test or predict begins, after the data module's setup.
    open func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {}
    /// Called when fit, validate, test or predict ends.
    open func teardown(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {}

    // MARK: Stage start and end

    /// Called at the very beginning of fit.
    open func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called at the very end of fit.
    open func onFitEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called before the sanity-check validation batches.
    open func onSanityCheckStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called after the sanity-check validation batches.
    open func onSanityCheckEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when training begins, after the sanity check.
    open func onTrainStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when training ends.
    open func onTrainEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when a validation run begins (also during fit and the sanity check).
    open func onValidationStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when a validation run ends.
    open func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when testing begins.
    open func onTestStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when testing ends.
    open func onTestEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when prediction begins.
    open func onPredictStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when prediction ends.
    open func onPredictEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}

    // MARK: Epochs

    /// Called when a training epoch begins.
    open func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when a training epoch ends (after its end-of-epoch validation).
    open func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when a validation epoch begins.
    open func onValidationEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when a validation epoch ends.
    open func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when a test epoch begins.
    open func onTestEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when a test epoch ends.
    open func onTestEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when a prediction epoch begins.
    open func onPredictEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called when a prediction epoch ends.
    open func onPredictEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {}

    // MARK: Batches

    /// Called before a training batch; batchIndex counts from 0 in the epoch.
    open func onTrainBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int) throws {}
    /// Called after a training batch (after the optimizer step when one was taken).
    open func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {}
    /// Called before a validation batch.
    open func onValidationBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// Called after a validation batch.
    open func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// Called before a test batch.
    open func onTestBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// Called after a test batch.
    open func onTestBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// Called before a prediction batch.
    open func onPredictBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// Called after a prediction batch.
    open func onPredictBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}

    // MARK: Optimization

    /// Called before the loss is back-propagated.
    open func onBeforeBackward(_ trainer: Trainer, _ module: TrainingModule, loss: Tensor) throws {}
    /// Called after back-propagation, before the optimizer step.
    open func onAfterBackward(_ trainer: Trainer, _ module: TrainingModule) throws {}
    /// Called once the gradients are accumulated, before clipping and the optimizer step.
    open func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainingModule, optimizer: Optimizer) throws {}
    /// Called before the gradients are cleared (at the first batch of each accumulation window).
    open func onBeforeZeroGrad(_ trainer: Trainer, _ module: TrainingModule, optimizer: Optimizer) throws {}

    // MARK: Failures and checkpoints

    /// Called when fit, validate, test or predict fails; the error is then rethrown.
    open func onException(_ trainer: Trainer, _ module: TrainingModule, error: any Error) throws {}
    /// Called while a checkpoint is assembled, after every state is in it; may add entries.
    open func onSaveCheckpoint(_ trainer: Trainer, _ module: TrainingModule, checkpoint: inout CheckpointValue) throws {}
    /// Called when a checkpoint is restored, before the callbacks' states are loaded.
    open func onLoadCheckpoint(_ trainer: Trainer, _ module: TrainingModule, checkpoint: CheckpointValue) throws {}
}

/// Which entry point is running, as passed to `setup` and `teardown`.
public enum Stage: String, Sendable, CaseIterable {
    case fit, validate, test, predict
}

/// A callback that writes checkpoints, as subclasses of Lightning's `Checkpoint` do: the trainer
/// runs these after all other callbacks in every hook (in their given order), so a file written
/// in a hook already holds every other callback's work for that hook, which a resume then neither
/// repeats nor misses. ``ModelCheckpoint`` and ``OnExceptionCheckpoint`` are ones; adopt it in a
/// callback of your own that saves checkpoints.
public protocol CheckpointingCallback: Callback {}

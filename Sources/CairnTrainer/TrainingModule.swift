import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor

/// The research code of a model (Lightning's LightningModule): the steps, the optimizers,
/// logging, and the same hooks as ``Callback`` (run after the callbacks').
open class TrainingModule: Module, @unchecked Sendable {
    /// The trainer running this module, while one is.
    public internal(set) weak var trainer: Trainer?
    /// The hyper-parameters given to ``saveHyperparameters(_:)`` or read from a checkpoint.
    public internal(set) var hyperparameters: CheckpointValue?

    override public init() { super.init() }

    // MARK: Steps

    /// The loss of one training batch; nil skips the backward pass and the optimizer step.
    open func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        preconditionFailure("trainingStep: \(type(of: self)) does not override trainingStep(_:batchIndex:)")
    }
    /// One validation batch (log metrics with `log(_:_:)`).
    open func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? { nil }
    /// One test batch.
    open func testStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? { nil }
    /// The prediction for one batch; defaults to ``forward(batch:)``.
    open func predictStep(_ batch: Batch, batchIndex: Int) throws -> Tensor { try forward(batch: batch) }
    /// The forward pass on a whole batch (as Lightning hands the batch to `forward`); used by
    /// ``predictStep(_:batchIndex:)`` and weight averaging's batch-norm refresh. Defaults to the
    /// module called on the batch's first tensor; override it for batches of several inputs.
    open func forward(batch: Batch) throws -> Tensor {
        guard let input = batch.tensors.values.first else {
            throw BatchError.missingKey("(any tensor)", available: [])
        }
        return self(input)
    }
    /// A sample batch of features (Lightning's `example_input_array`): when given, the model
    /// summary runs it once to show each submodule's output shape.
    open var exampleInput: Tensor? { nil }
    /// The optimizer; called once per fit, validate, test or predict run.
    open func configureOptimizers() throws -> Optimizer {
        preconditionFailure("configureOptimizers: \(type(of: self)) does not override configureOptimizers()")
    }

    /// The learning-rate schedulers of `optimizer` and when to step them (the `lr_scheduler`
    /// part of Lightning's `configure_optimizers` dict); called once per fit, after
    /// ``configureOptimizers()``. Defaults to none.
    open func configureLRSchedulers(optimizer: Optimizer) throws -> [LRSchedulerConfiguration] { [] }

    /// Steps one scheduler when the trainer decides it is due (Lightning's `lr_scheduler_step`):
    /// `metric` is the monitored value for a plateau monitor, nil otherwise. Override to drive a
    /// scheduler differently; the default calls its `step`.
    open func lrSchedulerStep(_ scheduler: LRSchedulerConfiguration.Scheduler, metric: Double?) throws {
        switch scheduler {
        case let .schedule(schedule): schedule.step()
        case let .plateau(plateau):
            guard let metric else { preconditionFailure("lrSchedulerStep: ReduceLROnPlateau needs a metric") }
            plateau.step(metric)
        }
    }

    // MARK: Logging and hyper-parameters

    /// Records a metric. `onStep` defaults to true within a training batch (its hooks and step)
    /// and false elsewhere, `onEpoch` to the opposite, as Lightning; epoch values are means weighted by `batchSize` (the batch's rows when nil).
    public final func log(_ name: String, _ value: Double, batchSize: Int? = nil,
                          onStep: Bool? = nil, onEpoch: Bool? = nil, progressBar: Bool = false) {
        guard let trainer else { return }
        let training = trainer.isTrainingStep
        trainer.metrics.record(name, value, batchSize: batchSize ?? trainer.currentBatchSize,
                               onStep: onStep ?? training, onEpoch: onEpoch ?? !training, progressBar: progressBar,
                               phase: trainer.metricPhase)
    }

    /// Records a one-element tensor as a metric (see `log(_:_:)`).
    public final func log(_ name: String, _ value: Tensor, batchSize: Int? = nil,
                          onStep: Bool? = nil, onEpoch: Bool? = nil, progressBar: Bool = false) {
        precondition(value.shape.reduce(1, *) == 1, "log(\(name)): expects one element, got shape \(value.shape)")
        log(name, Double(value.scalars[0]), batchSize: batchSize, onStep: onStep, onEpoch: onEpoch, progressBar: progressBar)
    }

    /// Keeps `values` as the module's hyper-parameters, saved under `/hyper_parameters`.
    public final func saveHyperparameters<Values: Encodable>(_ values: Values) throws {
        hyperparameters = try CheckpointEncoder().encode(values)
    }

    /// The saved hyper-parameters decoded as `type`, or nil when none were saved.
    public final func hyperparameters<Values: Decodable>(as type: Values.Type) throws -> Values? {
        guard let hyperparameters else { return nil }
        return try CheckpointDecoder().decode(type, from: hyperparameters)
    }

    // MARK: Hooks (called after the callbacks' hooks of the same name)

    /// See ``Callback/setup(_:_:stage:)``.
    open func setup(stage: Stage) throws {}
    /// See ``Callback/teardown(_:_:stage:)``.
    open func teardown(stage: Stage) throws {}
    /// See ``Callback/onFitStart(_:_:)``.
    open func onFitStart() throws {}
    /// See ``Callback/onFitEnd(_:_:)``.
    open func onFitEnd() throws {}
    /// See ``Callback/onTrainStart(_:_:)``.
    open func onTrainStart() throws {}
    /// See ``Callback/onTrainEnd(_:_:)``.
    open func onTrainEnd() throws {}
    /// See ``Callback/onValidationStart(_:_:)``.
    open func onValidationStart() throws {}
    /// See ``Callback/onValidationEnd(_:_:)``.
    open func onValidationEnd() throws {}
    /// See ``Callback/onTestStart(_:_:)``.
    open func onTestStart() throws {}
    /// See ``Callback/onTestEnd(_:_:)``.
    open func onTestEnd() throws {}
    /// See ``Callback/onPredictStart(_:_:)``.
    open func onPredictStart() throws {}
    /// See ``Callback/onPredictEnd(_:_:)``.
    open func onPredictEnd() throws {}
    /// See ``Callback/onTrainEpochStart(_:_:)``.
    open func onTrainEpochStart() throws {}
    /// See ``Callback/onTrainEpochEnd(_:_:)``.
    open func onTrainEpochEnd() throws {}
    /// See ``Callback/onValidationEpochStart(_:_:)``.
    open func onValidationEpochStart() throws {}
    /// See ``Callback/onValidationEpochEnd(_:_:)``.
    open func onValidationEpochEnd() throws {}
    /// See ``Callback/onTestEpochStart(_:_:)``.
    open func onTestEpochStart() throws {}
    /// See ``Callback/onTestEpochEnd(_:_:)``.
    open func onTestEpochEnd() throws {}
    /// See ``Callback/onPredictEpochStart(_:_:)``.
    open func onPredictEpochStart() throws {}
    /// See ``Callback/onPredictEpochEnd(_:_:)``.
    open func onPredictEpochEnd() throws {}
    /// See ``Callback/onTrainBatchStart(_:_:batch:batchIndex:)``; returning false skips the rest of the epoch.
    open func onTrainBatchStart(batch: Batch, batchIndex: Int) throws -> Bool { true }
    /// See ``Callback/onTrainBatchEnd(_:_:outputs:batch:batchIndex:)``.
    open func onTrainBatchEnd(outputs: Tensor?, batch: Batch, batchIndex: Int) throws {}
    /// See ``Callback/onValidationBatchStart(_:_:batch:batchIndex:dataloaderIndex:)``.
    open func onValidationBatchStart(batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// See ``Callback/onValidationBatchEnd(_:_:outputs:batch:batchIndex:dataloaderIndex:)``.
    open func onValidationBatchEnd(outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// See ``Callback/onTestBatchStart(_:_:batch:batchIndex:dataloaderIndex:)``.
    open func onTestBatchStart(batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// See ``Callback/onTestBatchEnd(_:_:outputs:batch:batchIndex:dataloaderIndex:)``.
    open func onTestBatchEnd(outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// See ``Callback/onPredictBatchStart(_:_:batch:batchIndex:dataloaderIndex:)``.
    open func onPredictBatchStart(batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// See ``Callback/onPredictBatchEnd(_:_:outputs:batch:batchIndex:dataloaderIndex:)``.
    open func onPredictBatchEnd(outputs: Tensor, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {}
    /// See ``Callback/onBeforeBackward(_:_:loss:)``.
    open func onBeforeBackward(loss: Tensor) throws {}
    /// See ``Callback/onAfterBackward(_:_:)``.
    open func onAfterBackward() throws {}
    /// See ``Callback/onBeforeOptimizerStep(_:_:optimizer:)``.
    open func onBeforeOptimizerStep(optimizer: Optimizer) throws {}
    /// See ``Callback/onBeforeZeroGrad(_:_:optimizer:)``.
    open func onBeforeZeroGrad(optimizer: Optimizer) throws {}
    /// Not called by the trainer on failure, as in Lightning 2.x (callbacks and the data module are).
    open func onException(error: any Error) throws {}
    /// See ``Callback/onSaveCheckpoint(_:_:checkpoint:)``; runs after the callbacks'.
    open func onSaveCheckpoint(checkpoint: inout CheckpointValue) throws {}
    /// Called when a checkpoint is restored, before the weights are loaded.
    open func onLoadCheckpoint(checkpoint: CheckpointValue) throws {}
}

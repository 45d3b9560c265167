import CairnCheckpoint
import CairnData
import CairnOptim
import CairnTensor

/// Lightning's `LambdaCallback`: a callback whose hooks are closures, for one-off behaviour without
/// a subclass. Each closure receives the hook's arguments in order; a nil closure leaves the hook a
/// no-op. Closures cannot be written in a spec, so it is not in the ``CallbackRegistry``.
public final class LambdaCallback: Callback, @unchecked Sendable {
    /// Called as the `setup` hook.
    public var setup: ((Trainer, TrainingModule, Stage) throws -> Void)?
    /// Called as the `teardown` hook.
    public var teardown: ((Trainer, TrainingModule, Stage) throws -> Void)?
    /// Called as the `onFitStart` hook.
    public var onFitStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onFitEnd` hook.
    public var onFitEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onSanityCheckStart` hook.
    public var onSanityCheckStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onSanityCheckEnd` hook.
    public var onSanityCheckEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onTrainStart` hook.
    public var onTrainStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onTrainEnd` hook.
    public var onTrainEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onValidationStart` hook.
    public var onValidationStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onValidationEnd` hook.
    public var onValidationEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onTestStart` hook.
    public var onTestStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onTestEnd` hook.
    public var onTestEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onPredictStart` hook.
    public var onPredictStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onPredictEnd` hook.
    public var onPredictEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onTrainEpochStart` hook.
    public var onTrainEpochStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onTrainEpochEnd` hook.
    public var onTrainEpochEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onValidationEpochStart` hook.
    public var onValidationEpochStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onValidationEpochEnd` hook.
    public var onValidationEpochEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onTestEpochStart` hook.
    public var onTestEpochStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onTestEpochEnd` hook.
    public var onTestEpochEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onPredictEpochStart` hook.
    public var onPredictEpochStart: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onPredictEpochEnd` hook.
    public var onPredictEpochEnd: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onAfterBackward` hook.
    public var onAfterBackward: ((Trainer, TrainingModule) throws -> Void)?
    /// Called as the `onTrainBatchStart` hook.
    public var onTrainBatchStart: ((Trainer, TrainingModule, Batch, Int) throws -> Void)?
    /// Called as the `onTrainBatchEnd` hook.
    public var onTrainBatchEnd: ((Trainer, TrainingModule, Tensor?, Batch, Int) throws -> Void)?
    /// Called as the `onValidationBatchStart` hook.
    public var onValidationBatchStart: ((Trainer, TrainingModule, Batch, Int, Int) throws -> Void)?
    /// Called as the `onValidationBatchEnd` hook.
    public var onValidationBatchEnd: ((Trainer, TrainingModule, Tensor?, Batch, Int, Int) throws -> Void)?
    /// Called as the `onTestBatchStart` hook.
    public var onTestBatchStart: ((Trainer, TrainingModule, Batch, Int, Int) throws -> Void)?
    /// Called as the `onTestBatchEnd` hook.
    public var onTestBatchEnd: ((Trainer, TrainingModule, Tensor?, Batch, Int, Int) throws -> Void)?
    /// Called as the `onPredictBatchStart` hook.
    public var onPredictBatchStart: ((Trainer, TrainingModule, Batch, Int, Int) throws -> Void)?
    /// Called as the `onPredictBatchEnd` hook.
    public var onPredictBatchEnd: ((Trainer, TrainingModule, Tensor, Batch, Int, Int) throws -> Void)?
    /// Called as the `onBeforeBackward` hook.
    public var onBeforeBackward: ((Trainer, TrainingModule, Tensor) throws -> Void)?
    /// Called as the `onBeforeOptimizerStep` hook.
    public var onBeforeOptimizerStep: ((Trainer, TrainingModule, Optimizer) throws -> Void)?
    /// Called as the `onBeforeZeroGrad` hook.
    public var onBeforeZeroGrad: ((Trainer, TrainingModule, Optimizer) throws -> Void)?
    /// Called as the `onException` hook.
    public var onException: ((Trainer, TrainingModule, any Error) throws -> Void)?
    /// Called as the `onSaveCheckpoint` hook.
    public var onSaveCheckpoint: ((Trainer, TrainingModule, inout CheckpointValue) throws -> Void)?
    /// Called as the `onLoadCheckpoint` hook.
    public var onLoadCheckpoint: ((Trainer, TrainingModule, CheckpointValue) throws -> Void)?

    /// A callback running the given closures; every one may be omitted.
    public init(
        setup: ((Trainer, TrainingModule, Stage) throws -> Void)? = nil,
        teardown: ((Trainer, TrainingModule, Stage) throws -> Void)? = nil,
        onFitStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onFitEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onSanityCheckStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onSanityCheckEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onTrainStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onTrainEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onValidationStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onValidationEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onTestStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onTestEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onPredictStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onPredictEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onTrainEpochStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onTrainEpochEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onValidationEpochStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onValidationEpochEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onTestEpochStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onTestEpochEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onPredictEpochStart: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onPredictEpochEnd: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onAfterBackward: ((Trainer, TrainingModule) throws -> Void)? = nil,
        onTrainBatchStart: ((Trainer, TrainingModule, Batch, Int) throws -> Void)? = nil,
        onTrainBatchEnd: ((Trainer, TrainingModule, Tensor?, Batch, Int) throws -> Void)? = nil,
        onValidationBatchStart: ((Trainer, TrainingModule, Batch, Int, Int) throws -> Void)? = nil,
        onValidationBatchEnd: ((Trainer, TrainingModule, Tensor?, Batch, Int, Int) throws -> Void)? = nil,
        onTestBatchStart: ((Trainer, TrainingModule, Batch, Int, Int) throws -> Void)? = nil,
        onTestBatchEnd: ((Trainer, TrainingModule, Tensor?, Batch, Int, Int) throws -> Void)? = nil,
        onPredictBatchStart: ((Trainer, TrainingModule, Batch, Int, Int) throws -> Void)? = nil,
        onPredictBatchEnd: ((Trainer, TrainingModule, Tensor, Batch, Int, Int) throws -> Void)? = nil,
        onBeforeBackward: ((Trainer, TrainingModule, Tensor) throws -> Void)? = nil,
        onBeforeOptimizerStep: ((Trainer, TrainingModule, Optimizer) throws -> Void)? = nil,
        onBeforeZeroGrad: ((Trainer, TrainingModule, Optimizer) throws -> Void)? = nil,
        onException: ((Trainer, TrainingModule, any Error) throws -> Void)? = nil,
        onSaveCheckpoint: ((Trainer, TrainingModule, inout CheckpointValue) throws -> Void)? = nil,
        onLoadCheckpoint: ((Trainer, TrainingModule, CheckpointValue) throws -> Void)? = nil
    ) {
        self.setup = setup
        self.teardown = teardown
        self.onFitStart = onFitStart
        self.onFitEnd = onFitEnd
        self.onSanityCheckStart = onSanityCheckStart
        self.onSanityCheckEnd = onSanityCheckEnd
        self.onTrainStart = onTrainStart
        self.onTrainEnd = onTrainEnd
        self.onValidationStart = onValidationStart
        self.onValidationEnd = onValidationEnd
        self.onTestStart = onTestStart
        self.onTestEnd = onTestEnd
        self.onPredictStart = onPredictStart
        self.onPredictEnd = onPredictEnd
        self.onTrainEpochStart = onTrainEpochStart
        self.onTrainEpochEnd = onTrainEpochEnd
        self.onValidationEpochStart = onValidationEpochStart
        self.onValidationEpochEnd = onValidationEpochEnd
        self.onTestEpochStart = onTestEpochStart
        self.onTestEpochEnd = onTestEpochEnd
        self.onPredictEpochStart = onPredictEpochStart
        self.onPredictEpochEnd = onPredictEpochEnd
        self.onAfterBackward = onAfterBackward
        self.onTrainBatchStart = onTrainBatchStart
        self.onTrainBatchEnd = onTrainBatchEnd
        self.onValidationBatchStart = onValidationBatchStart
        self.onValidationBatchEnd = onValidationBatchEnd
        self.onTestBatchStart = onTestBatchStart
        self.onTestBatchEnd = onTestBatchEnd
        self.onPredictBatchStart = onPredictBatchStart
        self.onPredictBatchEnd = onPredictBatchEnd
        self.onBeforeBackward = onBeforeBackward
        self.onBeforeOptimizerStep = onBeforeOptimizerStep
        self.onBeforeZeroGrad = onBeforeZeroGrad
        self.onException = onException
        self.onSaveCheckpoint = onSaveCheckpoint
        self.onLoadCheckpoint = onLoadCheckpoint
        super.init()
    }

    override public func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        try self.setup?(trainer, module, stage)
    }

    override public func teardown(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        try self.teardown?(trainer, module, stage)
    }

    override public func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onFitStart?(trainer, module)
    }

    override public func onFitEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onFitEnd?(trainer, module)
    }

    override public func onSanityCheckStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onSanityCheckStart?(trainer, module)
    }

    override public func onSanityCheckEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onSanityCheckEnd?(trainer, module)
    }

    override public func onTrainStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onTrainStart?(trainer, module)
    }

    override public func onTrainEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onTrainEnd?(trainer, module)
    }

    override public func onValidationStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onValidationStart?(trainer, module)
    }

    override public func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onValidationEnd?(trainer, module)
    }

    override public func onTestStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onTestStart?(trainer, module)
    }

    override public func onTestEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onTestEnd?(trainer, module)
    }

    override public func onPredictStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onPredictStart?(trainer, module)
    }

    override public func onPredictEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onPredictEnd?(trainer, module)
    }

    override public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onTrainEpochStart?(trainer, module)
    }

    override public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onTrainEpochEnd?(trainer, module)
    }

    override public func onValidationEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onValidationEpochStart?(trainer, module)
    }

    override public func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onValidationEpochEnd?(trainer, module)
    }

    override public func onTestEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onTestEpochStart?(trainer, module)
    }

    override public func onTestEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onTestEpochEnd?(trainer, module)
    }

    override public func onPredictEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onPredictEpochStart?(trainer, module)
    }

    override public func onPredictEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onPredictEpochEnd?(trainer, module)
    }

    override public func onAfterBackward(_ trainer: Trainer, _ module: TrainingModule) throws {
        try self.onAfterBackward?(trainer, module)
    }

    override public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int) throws {
        try self.onTrainBatchStart?(trainer, module, batch, batchIndex)
    }

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        try self.onTrainBatchEnd?(trainer, module, outputs, batch, batchIndex)
    }

    override public func onValidationBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {
        try self.onValidationBatchStart?(trainer, module, batch, batchIndex, dataloaderIndex)
    }

    override public func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {
        try self.onValidationBatchEnd?(trainer, module, outputs, batch, batchIndex, dataloaderIndex)
    }

    override public func onTestBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {
        try self.onTestBatchStart?(trainer, module, batch, batchIndex, dataloaderIndex)
    }

    override public func onTestBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {
        try self.onTestBatchEnd?(trainer, module, outputs, batch, batchIndex, dataloaderIndex)
    }

    override public func onPredictBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {
        try self.onPredictBatchStart?(trainer, module, batch, batchIndex, dataloaderIndex)
    }

    override public func onPredictBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws {
        try self.onPredictBatchEnd?(trainer, module, outputs, batch, batchIndex, dataloaderIndex)
    }

    override public func onBeforeBackward(_ trainer: Trainer, _ module: TrainingModule, loss: Tensor) throws {
        try self.onBeforeBackward?(trainer, module, loss)
    }

    override public func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainingModule, optimizer: Optimizer) throws {
        try self.onBeforeOptimizerStep?(trainer, module, optimizer)
    }

    override public func onBeforeZeroGrad(_ trainer: Trainer, _ module: TrainingModule, optimizer: Optimizer) throws {
        try self.onBeforeZeroGrad?(trainer, module, optimizer)
    }

    override public func onException(_ trainer: Trainer, _ module: TrainingModule, error: any Error) throws {
        try self.onException?(trainer, module, error)
    }

    override public func onSaveCheckpoint(_ trainer: Trainer, _ module: TrainingModule, checkpoint: inout CheckpointValue) throws {
        try self.onSaveCheckpoint?(trainer, module, &checkpoint)
    }

    override public func onLoadCheckpoint(_ trainer: Trainer, _ module: TrainingModule, checkpoint: CheckpointValue) throws {
        try self.onLoadCheckpoint?(trainer, module, checkpoint)
    }
}

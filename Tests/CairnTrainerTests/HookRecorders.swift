import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer

/// The shared, ordered record of every hook call in a run.
final class HookTrace: @unchecked Sendable {
    var entries: [String] = []
    func add(_ owner: String, _ hook: String) { entries.append("\(owner).\(hook)") }
}

/// A callback that records every hook under `name`.
final class RecordingCallback: Callback, @unchecked Sendable {
    let name: String
    let trace: HookTrace
    let monitoring: Bool

    init(_ name: String, trace: HookTrace, monitoring: Bool = false) {
        self.name = name
        self.trace = trace
        self.monitoring = monitoring
    }

    override var stateKey: String { makeStateKey(["name": .string(name)]) }
    override var monitorsMetrics: Bool { monitoring }
    private func record(_ hook: String = #function) { trace.add(name, String(hook.prefix { $0 != "(" })) }

    override func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws { trace.add(name, "setup(\(stage))") }
    override func teardown(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws { trace.add(name, "teardown(\(stage))") }
    override func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onFitEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onSanityCheckStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onSanityCheckEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onTrainStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onTrainEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onValidationStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onTestStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onTestEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onPredictStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onPredictEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onValidationEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onTestEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onTestEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onPredictEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onPredictEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onTrainBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int) throws { record() }
    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws { record() }
    override func onValidationBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onTestBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onTestBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onPredictBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onPredictBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onBeforeBackward(_ trainer: Trainer, _ module: TrainingModule, loss: Tensor) throws { record() }
    override func onAfterBackward(_ trainer: Trainer, _ module: TrainingModule) throws { record() }
    override func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainingModule, optimizer: Optimizer) throws { record() }
    override func onBeforeZeroGrad(_ trainer: Trainer, _ module: TrainingModule, optimizer: Optimizer) throws { record() }
    override func onException(_ trainer: Trainer, _ module: TrainingModule, error: any Error) throws { record() }
    override func onSaveCheckpoint(_ trainer: Trainer, _ module: TrainingModule, checkpoint: inout CheckpointValue) throws { record() }
    override func onLoadCheckpoint(_ trainer: Trainer, _ module: TrainingModule, checkpoint: CheckpointValue) throws { record() }
}

/// Raised by ``RecordingModule`` to exercise the exception path.
struct PlannedFailure: Error, Equatable {}

/// A ``TinyClassifier`` that records its steps and hooks as `module`.
final class RecordingModule: TinyClassifier, @unchecked Sendable {
    let trace: HookTrace
    var failAtBatch: Int?

    init(trace: HookTrace) {
        self.trace = trace
        super.init(seed: 3)
    }

    private func record(_ hook: String = #function) { trace.add("module", String(hook.prefix { $0 != "(" })) }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        record()
        if batchIndex == failAtBatch { throw PlannedFailure() }
        return try super.trainingStep(batch, batchIndex: batchIndex)
    }
    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        record()
        return try super.validationStep(batch, batchIndex: batchIndex)
    }
    override func testStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        record()
        return try super.testStep(batch, batchIndex: batchIndex)
    }
    override func predictStep(_ batch: Batch, batchIndex: Int) throws -> Tensor {
        record()
        return try super.predictStep(batch, batchIndex: batchIndex)
    }
    override func configureOptimizers() throws -> Optimizer {
        record()
        return try super.configureOptimizers()
    }

    override func setup(stage: Stage) throws { trace.add("module", "setup(\(stage))") }
    override func teardown(stage: Stage) throws { trace.add("module", "teardown(\(stage))") }
    override func onFitStart() throws { record() }
    override func onFitEnd() throws { record() }
    override func onTrainStart() throws { record() }
    override func onTrainEnd() throws { record() }
    override func onValidationStart() throws { record() }
    override func onValidationEnd() throws { record() }
    override func onTestStart() throws { record() }
    override func onTestEnd() throws { record() }
    override func onPredictStart() throws { record() }
    override func onPredictEnd() throws { record() }
    override func onTrainEpochStart() throws { record() }
    override func onTrainEpochEnd() throws { record() }
    override func onValidationEpochStart() throws { record() }
    override func onValidationEpochEnd() throws { record() }
    override func onTestEpochStart() throws { record() }
    override func onTestEpochEnd() throws { record() }
    override func onPredictEpochStart() throws { record() }
    override func onPredictEpochEnd() throws { record() }
    override func onTrainBatchStart(batch: Batch, batchIndex: Int) throws -> Bool { record(); return true }
    override func onTrainBatchEnd(outputs: Tensor?, batch: Batch, batchIndex: Int) throws { record() }
    override func onValidationBatchStart(batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onValidationBatchEnd(outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onTestBatchStart(batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onTestBatchEnd(outputs: Tensor?, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onPredictBatchStart(batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onPredictBatchEnd(outputs: Tensor, batch: Batch, batchIndex: Int, dataloaderIndex: Int) throws { record() }
    override func onBeforeBackward(loss: Tensor) throws { record() }
    override func onAfterBackward() throws { record() }
    override func onBeforeOptimizerStep(optimizer: Optimizer) throws { record() }
    override func onBeforeZeroGrad(optimizer: Optimizer) throws { record() }
    override func onException(error: any Error) throws { record() }
    override func onSaveCheckpoint(checkpoint: inout CheckpointValue) throws { record() }
    override func onLoadCheckpoint(checkpoint: CheckpointValue) throws { record() }
}

/// A data module over fixed loaders that records its set-up, tear-down and failures as `data`.
final class RecordingDataModule: DataModule, @unchecked Sendable {
    let trace: HookTrace
    let train: DataLoader<CSVDataset>
    let validation: DataLoader<CSVDataset>

    init(trace: HookTrace) throws {
        self.trace = trace
        train = DataLoader(try syntheticDataset(rows: 12), batchSize: 4, shuffle: true, seed: 5)
        validation = DataLoader(try syntheticDataset(rows: 8, offset: 3), batchSize: 4, shuffle: false)
        super.init()
    }

    override func setup(stage: Stage) throws { trace.add("data", "setup(\(stage))") }
    override func teardown(stage: Stage) throws { trace.add("data", "teardown(\(stage))") }
    override func onException(error: any Error) throws { trace.add("data", "onException") }
    override func trainLoader() throws -> (any BatchLoader)? { train }
    override func validationLoader() throws -> (any BatchLoader)? { validation }
    override func testLoader() throws -> (any BatchLoader)? { validation }
    override func predictLoader() throws -> (any BatchLoader)? { validation }
}

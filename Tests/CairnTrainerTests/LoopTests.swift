import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Records at which global batch positions validation ran.
final class ValidationSpy: Callback, @unchecked Sendable {
    var validatedAfter: [String] = []
    override func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard !trainer.isSanityChecking else { return }
        validatedAfter.append("e\(trainer.currentEpoch)b\(trainer.progress.trainBatch.current.processed)")
    }
}

@Suite struct LoopTests {
    /// 20 rows in batches of 4, limited to 3 per epoch, two epochs, two batches per step.
    @Test func countersFollowLightning() throws {
        let options = Trainer.Options(maxEpochs: 2, limitTrainBatches: 3, numSanityValSteps: 0, accumulateGradBatches: 2,
                                      enableCheckpointing: false)
        let trainer = try Trainer(options)
        try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        let progress = trainer.progress
        #expect(progress.epoch.total.completed == 2)
        #expect(progress.trainBatch.total.completed == 6)
        #expect(progress.trainBatch.current.completed == 3)
        // Steps after batches 1 and 2 (the epoch's last) of each epoch.
        #expect(trainer.globalStep == 4)
        #expect(progress.zeroGrad.total.completed == 4)
        #expect(progress.fitValidationBatch.total.completed == 4)
        #expect(trainer.currentEpoch == 2)
    }

    @Test func validationIntervals() throws {
        let everyTwo = ValidationSpy()
        try Trainer(Trainer.Options(maxEpochs: 2, valCheckInterval: 2, numSanityValSteps: 0, enableCheckpointing: false),
                    callbacks: [everyTwo]).fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(everyTwo.validatedAfter == ["e0b2", "e0b4", "e1b2", "e1b4"])

        let acrossEpochs = ValidationSpy()
        try Trainer(Trainer.Options(maxEpochs: 2, valCheckInterval: 3, checkValEveryNEpoch: nil, numSanityValSteps: 0,
                                    enableCheckpointing: false),
                    callbacks: [acrossEpochs]).fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(acrossEpochs.validatedAfter == ["e0b3", "e1b1", "e1b4"])

        let everySecondEpoch = ValidationSpy()
        try Trainer(Trainer.Options(maxEpochs: 4, checkValEveryNEpoch: 2, numSanityValSteps: 0, enableCheckpointing: false),
                    callbacks: [everySecondEpoch]).fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(everySecondEpoch.validatedAfter == ["e1b5", "e3b5"])
    }

    @Test func maxStepsStopsMidEpoch() throws {
        let trainer = try Trainer(Trainer.Options(maxSteps: 7, numSanityValSteps: 0, enableCheckpointing: false))
        try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(trainer.globalStep == 7)
        #expect(trainer.currentEpoch == 2)
    }

    @Test func malformedCheckpointNamesThePath() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bad.ckpt")
        try Checkpoint.save(.dictionary(["epoch": .int(0)]), to: url)
        #expect(throws: TrainerError.malformedCheckpoint(path: "/state_dict", reason: "missing or not a dictionary")) {
            try Trainer(quietOptions()).fit(TinyClassifier(seed: 1), data: try freshData(), ckptPath: url)
        }
    }

    @Test func trainingMetricsLogPerStepAndEpochMeans() throws {
        let trainer = try Trainer(Trainer.Options(maxEpochs: 1, numSanityValSteps: 0, logEveryNSteps: 1, enableCheckpointing: false))
        try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(trainer.metrics.callbackMetrics["train_loss"] != nil)
        #expect(trainer.metrics.loggedMetrics["train_loss"] != nil)
        #expect(trainer.metrics.callbackMetrics["val_loss"] != nil)
    }
}

/// Raises the trainer's interrupt flag after a given train, validation or predict batch.
final class InterruptAfterBatch: Callback, @unchecked Sendable {
    let batchIndex: Int
    init(batchIndex: Int) { self.batchIndex = batchIndex }
    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        if batchIndex == self.batchIndex { trainer.interruptFlag.raise() }
    }
    var endings: [String] = []
    override func onException(_ trainer: Trainer, _ module: TrainingModule, error: any Error) throws { endings.append("onException") }
    override func teardown(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws { endings.append("teardown(\(stage))") }
    override func onPredictBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor, batch: Batch,
                                    batchIndex: Int, dataloaderIndex: Int) throws {
        if batchIndex == self.batchIndex { trainer.interruptFlag.raise() }
    }
}

@Suite struct InterruptTests {
    /// The batch in flight finishes, then fit throws; the flag is consumed so the next run proceeds.
    @Test func fitStopsAfterTheCurrentBatch() throws {
        let interrupter = InterruptAfterBatch(batchIndex: 1)
        let trainer = try Trainer(quietOptions(maxEpochs: 3), callbacks: [interrupter])
        #expect(throws: TrainerError.interrupted(stage: .fit)) {
            try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        }
        #expect(interrupter.endings == ["onException", "teardown(fit)"])
        #expect(trainer.progress.trainBatch.total.completed == 2)
        #expect(trainer.globalStep == 2)
        #expect(!trainer.interruptFlag.isRaised)
        try trainer.validate(TinyClassifier(seed: 1), data: try freshData())
    }

    @Test func predictStopsAfterTheCurrentBatch() throws {
        let trainer = try Trainer(quietOptions(), callbacks: [InterruptAfterBatch(batchIndex: 0)])
        #expect(throws: TrainerError.interrupted(stage: .predict)) {
            _ = try trainer.predict(TinyClassifier(seed: 1), data: try predictionData())
        }
        #expect(trainer.progress.predictBatch.total.completed == 1)
    }
}

/// Twelve rows to predict, in batches of four.
func predictionData() throws -> LoaderDataModule {
    LoaderDataModule(predict: DataLoader(try syntheticDataset(rows: 12), batchSize: 4, shuffle: false))
}

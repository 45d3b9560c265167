import CairnCheckpoint
import CairnData
import CairnExamples
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// 40 synthetic training rows whose loaders are made with the current batch size.
final class AdjustableData: DataModule, BatchSizeAdjustable, @unchecked Sendable {
    var batchSize: Int
    init(batchSize: Int = 4) { self.batchSize = batchSize }
    override func trainLoader() throws -> (any BatchLoader)? {
        DataLoader(try syntheticDataset(rows: 40), batchSize: batchSize, shuffle: true, seed: 5)
    }
    override func validationLoader() throws -> (any BatchLoader)? {
        DataLoader(try syntheticDataset(rows: 8, offset: 5), batchSize: batchSize, shuffle: false)
    }
}

/// Fails, as an out-of-memory error would, on batches above `limit` rows.
final class LimitedClassifier: TinyClassifier, @unchecked Sendable {
    struct TooLarge: Error {}
    let limit: Int
    init(seed: UInt64, limit: Int) {
        self.limit = limit
        super.init(seed: seed)
    }
    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        guard try batch.tensor("features").shape[0] <= limit else { throw TooLarge() }
        return try super.trainingStep(batch, batchIndex: batchIndex)
    }
}

/// Records the rows of every training batch.
final class BatchRowsRecorder: Callback, @unchecked Sendable {
    var rows: [Int] = []
    override func onTrainBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int) throws {
        rows.append(try batch.tensor("features").shape[0])
    }
}

@Suite struct BatchSizeFinderTests {
    @Test func powerModeDoublesUntilTheBoundAndAppliesTheSize() throws {
        let module = TinyClassifier(seed: 2)
        let initial = weightBytes(module)
        let data = AdjustableData()
        let finder = BatchSizeFinder(mode: .power, stepsPerTrial: 2, maxBatchSize: 20)
        let atStart = FitStartRecorder()
        let rows = BatchRowsRecorder()
        let logger = RecordingLogger()
        let trainer = try Trainer(Trainer.Options(maxEpochs: 1, enableCheckpointing: false),
                                  callbacks: [finder, atStart, rows], loggers: [logger])
        try trainer.fit(module, data: data)

        #expect(finder.trials.map(\.size) == [2, 4, 8, 16, 32])
        #expect(finder.trials.map(\.succeeded) == [true, true, true, true, false])
        #expect(finder.optimalBatchSize == 16)
        #expect(data.batchSize == 16)
        #expect(atStart.weights == initial)
        #expect(rows.rows == [16, 16, 8])
        #expect(logger.metricRows.contains { $0.metrics["batch_size"] == 16 })
    }

    /// The search leaves no trace: a fit after it equals a fit with the found size and no finder.
    @Test func theSearchIsUndone() throws {
        let plain = TinyClassifier(seed: 7)
        try Trainer(Trainer.Options(maxEpochs: 2, enableCheckpointing: false)).fit(plain, data: AdjustableData(batchSize: 8))
        let searched = TinyClassifier(seed: 7)
        let finder = BatchSizeFinder(mode: .power, stepsPerTrial: 3, maxBatchSize: 12)
        try Trainer(Trainer.Options(maxEpochs: 2, enableCheckpointing: false), callbacks: [finder])
            .fit(searched, data: AdjustableData())
        #expect(finder.optimalBatchSize == 8)
        #expect(weightBytes(searched) == weightBytes(plain))
    }

    @Test func binsearchBisectsAfterAThrownStep() throws {
        let finder = BatchSizeFinder(mode: .binsearch, stepsPerTrial: 1)
        let data = AdjustableData()
        try Trainer(Trainer.Options(maxEpochs: 1, limitTrainBatches: 0, enableCheckpointing: false), callbacks: [finder])
            .fit(LimitedClassifier(seed: 1, limit: 12), data: data)
        #expect(finder.trials.map(\.size) == [2, 4, 8, 16, 12, 14, 13])
        #expect(finder.trials.map(\.succeeded) == [true, true, true, false, true, false, false])
        #expect(finder.optimalBatchSize == 12)
        #expect(data.batchSize == 12)
    }

    @Test func growthStopsOnceABatchHoldsTheTrainingSet() throws {
        let finder = BatchSizeFinder(stepsPerTrial: 1)
        try Trainer(Trainer.Options(maxEpochs: 1, limitTrainBatches: 0, enableCheckpointing: false), callbacks: [finder])
            .fit(TinyClassifier(seed: 1), data: AdjustableData())
        // As Lightning: 64 is tried (one batch of all 40 rows), then growth stops.
        #expect(finder.trials.map(\.size) == [2, 4, 8, 16, 32, 64])
        #expect(finder.optimalBatchSize == 64)
    }

    /// A resumed fit applies the saved size again without searching.
    @Test func theFoundSizeSurvivesAResume() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step3.ckpt")
        try Trainer(Trainer.Options(maxEpochs: 2, enableCheckpointing: false),
                    callbacks: [BatchSizeFinder(maxBatchSize: 10), StopAndSave(step: 3, url: checkpoint)])
            .fit(TinyClassifier(seed: 4), data: AdjustableData())
        let saved = try Checkpoint.load(checkpoint)
        #expect(integer(saved["/callbacks/BatchSizeFinder/optimal_batch_size"]) == 8)

        let resumedFinder = BatchSizeFinder(maxBatchSize: 10)
        let data = AdjustableData()
        let rows = BatchRowsRecorder()
        try Trainer(Trainer.Options(maxEpochs: 2, enableCheckpointing: false), callbacks: [resumedFinder, rows])
            .fit(TinyClassifier(seed: 4), data: data, ckptPath: checkpoint)
        #expect(resumedFinder.trials.isEmpty)
        #expect(data.batchSize == 8)
        #expect(rows.rows.allSatisfy { $0 == 8 })
    }

    /// The digits example's data module adopts the protocol: the finder's size reaches its loaders.
    @Test func digitsDataModuleTakesTheFoundSize() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fixtures/digits.csv").standardized.path
        let data = DigitsDataModule(path: path, batchSize: 16)
        let finder = BatchSizeFinder(stepsPerTrial: 1, maxBatchSize: 100)
        let rows = BatchRowsRecorder()
        try Trainer(Trainer.Options(maxEpochs: 1, limitTrainBatches: 2, limitValBatches: 0, enableCheckpointing: false),
                    callbacks: [finder, rows])
            .fit(DigitsClassifier(), data: data)
        #expect(finder.optimalBatchSize == 64)
        #expect(data.batchSize == 64)
        #expect(rows.rows == [64, 64])
    }

    @Test func aFixedDataModuleIsAConfigurationError() throws {
        let trainer = try Trainer(Trainer.Options(maxEpochs: 1, enableCheckpointing: false), callbacks: [BatchSizeFinder()])
        #expect(throws: TrainerError.self) { try trainer.fit(TinyClassifier(seed: 1), data: try freshData()) }
    }

    @Test func registryReadsLightningArguments() throws {
        let finder = try #require(try CallbackRegistry().make("BatchSizeFinder:mode=binsearch,steps_per_trial=2,init_val=4,max_trials=5,max_batch_size=64")
            as? BatchSizeFinder)
        #expect(finder.mode == .binsearch && finder.stepsPerTrial == 2 && finder.initVal == 4)
        #expect(finder.maxTrials == 5 && finder.maxBatchSize == 64)
        #expect(throws: CallbackSpecError.self) { try CallbackRegistry().make("BatchSizeFinder:init_val=0") }
    }
}

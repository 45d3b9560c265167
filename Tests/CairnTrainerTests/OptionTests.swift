import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Asks the trainer to stop after every train batch, as an early-stopping callback might.
final class StopAfterEveryBatch: Callback, @unchecked Sendable {
    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        trainer.shouldStop = true
    }
}

/// Train and validation as ``freshData()``, plus three test and three prediction batches.
func allStagesData() throws -> LoaderDataModule {
    LoaderDataModule(train: DataLoader(try syntheticDataset(rows: 20), batchSize: 4, shuffle: true, seed: 11),
                     validation: DataLoader(try syntheticDataset(rows: 8, offset: 5), batchSize: 4, shuffle: false),
                     test: DataLoader(try syntheticDataset(rows: 12, offset: 3), batchSize: 4, shuffle: false),
                     predict: DataLoader(try syntheticDataset(rows: 12, offset: 7), batchSize: 4, shuffle: false))
}

@Suite struct OptionTests {
    /// 20 rows in batches of 4: five batches per epoch.
    @Test func minEpochsOverridesShouldStop() throws {
        let unbounded = try Trainer(quietOptions(maxEpochs: 5), callbacks: [StopAfterEveryBatch()])
        try unbounded.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(unbounded.globalStep == 1)
        #expect(unbounded.currentEpoch == 1)

        var options = quietOptions(maxEpochs: 5)
        options.minEpochs = 2
        let bounded = try Trainer(options, callbacks: [StopAfterEveryBatch()])
        try bounded.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(bounded.globalStep == 10)
        #expect(bounded.currentEpoch == 2)
    }

    @Test func maxTimeStopsAfterTheCurrentBatch() throws {
        var options = quietOptions(maxEpochs: 3)
        options.maxTime = .zero
        let expired = try Trainer(options)
        try expired.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(expired.globalStep == 1)

        options.maxTime = .seconds(3600)
        let ample = try Trainer(options)
        try ample.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(ample.globalStep == 15)
    }

    @Test func limitTestAndPredictBatches() throws {
        var options = quietOptions()
        let trainer = try Trainer(options)
        try trainer.test(TinyClassifier(seed: 1), data: try allStagesData())
        #expect(trainer.progress.testBatch.total.completed == 3)
        #expect(try trainer.predict(TinyClassifier(seed: 1), data: try allStagesData()).count == 3)

        options.limitTestBatches = 2
        options.limitPredictBatches = 1
        let limited = try Trainer(options)
        try limited.test(TinyClassifier(seed: 1), data: try allStagesData())
        #expect(limited.progress.testBatch.total.completed == 2)
        #expect(try limited.predict(TinyClassifier(seed: 1), data: try allStagesData()).count == 1)
    }

    /// Two batches of each stage, no sanity check, one epoch, and no checkpoint files even from
    /// an explicit ModelCheckpoint.
    @Test func fastDevRunRunsFewBatchesAndWritesNothing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = try ModelCheckpoint(dirpath: directory.path, saveLast: true, everyNTrainSteps: 1)
        let spy = SanityCheckSpy()
        let options = Trainer.Options(maxEpochs: 10, numSanityValSteps: 2, defaultRootDir: directory.path, fastDevRun: 2)
        let trainer = try Trainer(options, callbacks: [checkpoint, spy])
        try trainer.fit(TinyClassifier(seed: 1), data: try allStagesData())
        #expect(trainer.globalStep == 2)
        #expect(trainer.currentEpoch == 1)
        #expect(trainer.progress.fitValidationBatch.total.completed == 2)
        #expect(!spy.sanityChecked)
        try trainer.test(TinyClassifier(seed: 1), data: try allStagesData())
        #expect(trainer.progress.testBatch.total.completed == 2)
        #expect(try trainer.predict(TinyClassifier(seed: 1), data: try allStagesData()).count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }
}

/// Notes whether a sanity check ran.
final class SanityCheckSpy: Callback, @unchecked Sendable {
    var sanityChecked = false
    override func onSanityCheckStart(_ trainer: Trainer, _ module: TrainingModule) throws { sanityChecked = true }
}

/// Any subset of options, in any order, with the same defaults as the full initializer.
@Suite struct OptionsConfigurationTests {
    @Test func aClosureSetsAnySubsetInAnyOrder() throws {
        let configured = Trainer.Options {
            $0.enableModelSummary = false
            $0.accumulateGradBatches = 4
            $0.maxSteps = 12
        }
        var expected = Trainer.Options()
        expected.maxSteps = 12
        expected.accumulateGradBatches = 4
        expected.enableModelSummary = false
        #expect(String(describing: configured) == String(describing: expected))
        let defaults = Trainer.Options { _ in }
        #expect(defaults.numSanityValSteps == 2 && defaults.logEveryNSteps == 50 && defaults.checkValEveryNEpoch == 1)
        #expect(defaults.enableCheckpointing && defaults.enableProgressBar && defaults.gradientClipAlgorithm == .norm)
        #expect(String(describing: defaults) == String(describing: Trainer.Options()))
    }

    @Test func anOptionOutOfRangeIsAThrownErrorNamingIt() {
        #expect(throws: TrainerError.invalidOption(name: "accumulateGradBatches", reason: "0 must be at least 1")) {
            try Trainer(Trainer.Options { $0.accumulateGradBatches = 0 })
        }
        #expect(throws: TrainerError.invalidOption(name: "checkValEveryNEpoch", reason: "must be at least 1")) {
            try Trainer(Trainer.Options { $0.checkValEveryNEpoch = 0 })
        }
        #expect(throws: TrainerError.self) { try Trainer(Trainer.Options { $0.numSanityValSteps = -1 }) }
    }
}

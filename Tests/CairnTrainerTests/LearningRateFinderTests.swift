import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import OrderedCollections
import Testing

/// Records the weights and each group's learning rate when fit starts (placed after a finder).
final class FitStartRecorder: Callback, @unchecked Sendable {
    var weights: [String: [UInt8]] = [:]
    var rates: [Double] = []
    override func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        weights = weightBytes(module)
        rates = trainer.optimizer?.paramGroups.map(\.learningRate) ?? []
    }
}

/// More rows than the resume fixtures, so a 30-step sweep crosses epochs.
func finderData() throws -> LoaderDataModule {
    LoaderDataModule(train: DataLoader(try syntheticDataset(rows: 40), batchSize: 4, shuffle: true, seed: 3),
                     validation: DataLoader(try syntheticDataset(rows: 8, offset: 5), batchSize: 4, shuffle: false))
}

@Suite struct LearningRateFinderTests {
    @Test func theSweepFollowsTheScheduleAndTheSuggestionIsApplied() throws {
        let module = TinyClassifier(seed: 6)
        let initial = weightBytes(module)
        let finder = LearningRateFinder(minLR: 1e-4, maxLR: 1, numTrainingSteps: 30, earlyStopThreshold: nil)
        let recorder = FitStartRecorder()
        let logger = RecordingLogger()
        let trainer = try Trainer(Trainer.Options(maxEpochs: 1, limitTrainBatches: 0, enableCheckpointing: false),
                                  callbacks: [finder, recorder], loggers: [logger])
        try trainer.fit(module, data: try finderData())

        #expect(finder.results.lr.count == 30)
        #expect(finder.results.loss.count == 30)
        #expect(finder.results.lr[0] == 1e-4)
        #expect(abs(finder.results.lr[29] - 1) < 1e-12)
        for step in 1..<30 {
            let expected = 1e-4 * pow(1e4, Double(step + 1) / 30)
            #expect(abs(finder.results.lr[step] - expected) <= 1e-12 * expected)
        }
        #expect(finder.results.loss.allSatisfy { $0.isFinite })
        #expect(recorder.weights == initial)
        let suggestion = try #require(finder.optimalLR)
        #expect(suggestion >= 1e-4 && suggestion <= 1)
        #expect(finder.results.lr.dropFirst(10).dropLast().contains(suggestion))
        #expect(recorder.rates == [suggestion])
        #expect(trainer.optimizer?.paramGroups.map(\.learningRate) == [suggestion])
        #expect(logger.metricRows.contains { $0.metrics["lr_finder_suggestion"] == suggestion })
    }

    @Test func linearModeAndEarlyStop() throws {
        let linear = LearningRateFinder(minLR: 0.1, maxLR: 1.1, numTrainingSteps: 10, mode: .linear)
        #expect(linear.learningRate(atStep: 0) == 0.1)
        #expect(abs(linear.learningRate(atStep: 4) - 0.6) < 1e-12)
        #expect(abs(linear.learningRate(atStep: 9) - 1.1) < 1e-12)

        // Rates up to 1e4 make Adam diverge, so the sweep stops before its 60 steps.
        let finder = LearningRateFinder(minLR: 1e-3, maxLR: 1e4, numTrainingSteps: 60, earlyStopThreshold: 1.5)
        try Trainer(Trainer.Options(maxEpochs: 1, limitTrainBatches: 0, enableCheckpointing: false), callbacks: [finder])
            .fit(TinyClassifier(seed: 6), data: try finderData())
        #expect(finder.results.lr.count < 60)
        #expect(finder.results.lr.count == finder.results.loss.count)
    }

    /// The sweep leaves no trace: a fit after it (suggestion not applied) equals a fit without it,
    /// dropout generators and loader position included.
    @Test func theSweepIsUndoneCompletely() throws {
        let plain = TinyClassifier(seed: 9)
        let plainTrainer = try Trainer(Trainer.Options(maxEpochs: 2, enableCheckpointing: false))
        try plainTrainer.fit(plain, data: try finderData())

        let swept = TinyClassifier(seed: 9)
        let finder = LearningRateFinder(numTrainingSteps: 15, updateAttr: false)
        let sweptTrainer = try Trainer(Trainer.Options(maxEpochs: 2, enableCheckpointing: false), callbacks: [finder])
        try sweptTrainer.fit(swept, data: try finderData())
        #expect(finder.results.lr.count == 15)
        #expect(weightBytes(swept) == weightBytes(plain))
        #expect(sweptTrainer.optimizer?.stateDict() == plainTrainer.optimizer?.stateDict())
        #expect(sweptTrainer.globalStep == plainTrainer.globalStep)
    }

    @Test func gradientMatchesTorchOnUnevenSpacing() {
        // f = x² sampled at 1, 2, 4, 7: the central formula is exact for quadratics inside.
        let gradient = LearningRateFinder.gradient([1, 4, 16, 49], at: [1, 2, 4, 7])
        #expect(gradient == [3, 4, 8, 11])
    }

    @Test func registryReadsLightningArguments() throws {
        let callback = try CallbackRegistry().make("LearningRateFinder:min_lr=1e-5,max_lr=0.5,num_training_steps=40,mode=linear,early_stop_threshold=none,update_attr=false")
        let finder = try #require(callback as? LearningRateFinder)
        #expect(finder.minLR == 1e-5 && finder.maxLR == 0.5 && finder.numTrainingSteps == 40)
        #expect(finder.mode == .linear && finder.earlyStopThreshold == nil && !finder.updateAttr)
    }
}

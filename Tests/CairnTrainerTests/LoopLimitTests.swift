import CairnData
import CairnNN
@testable import CairnTrainer
import Foundation
import Testing

/// Asks fit to stop before any training, as a callback that decides from restored state might.
final class StopAtFitStart: Callback, @unchecked Sendable {
    override func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws { trainer.shouldStop = true }
}

@Suite struct LoopLimitTests {
    /// Lightning's `_parse_loop_limits` makes `min_epochs` 0 when unset, so a stop requested at
    /// fit start trains nothing; with minEpochs 2 it trains exactly two epochs.
    @Test func minEpochsDefaultsToZero() throws {
        #expect(Trainer.Options().minEpochs == nil)
        let unbounded = try Trainer(quietOptions(maxEpochs: 5), callbacks: [StopAtFitStart()])
        try unbounded.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(unbounded.globalStep == 0)
        #expect(unbounded.currentEpoch == 0)

        var options = quietOptions(maxEpochs: 5)
        options.minEpochs = 2
        let bounded = try Trainer(options, callbacks: [StopAtFitStart()])
        try bounded.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(bounded.currentEpoch == 2)
        #expect(bounded.globalStep == 10)
    }

    /// max_epochs falls back to 1000 only when neither max_steps nor max_time bounds the run.
    @Test func maxEpochsDefault() throws {
        #expect(try Trainer(Trainer.Options()).maxEpochs == 1000)
        #expect(try Trainer(Trainer.Options(maxSteps: 3)).maxEpochs == nil)
        #expect(try Trainer(Trainer.Options(maxTime: .seconds(60))).maxEpochs == nil)
        #expect(try Trainer(Trainer.Options(maxEpochs: 4, maxTime: .seconds(60))).maxEpochs == 4)
    }

    /// Two deterministic fits with one seed — shuffling, dropout, initialisation and Adam all
    /// involved — end with byte-identical weights and optimizer states; another seed does not.
    @Test func deterministicRunsAreByteIdentical() throws {
        func run(seed: UInt64) throws -> (weights: [String: [UInt8]], optimizer: Trainer) {
            var options = Trainer.Options(maxEpochs: 3, numSanityValSteps: 1, accumulateGradBatches: 2, gradientClipVal: 0.5,
                                          enableCheckpointing: false, seed: seed, deterministic: true)
            options.valCheckInterval = 0.5
            let module = TinyClassifier(seed: seed)
            let trainer = try Trainer(options)
            let data = LoaderDataModule(train: DataLoader(try syntheticDataset(rows: 20), batchSize: 4, shuffle: true, seed: seed),
                                        validation: DataLoader(try syntheticDataset(rows: 8, offset: 5), batchSize: 4, shuffle: false))
            try trainer.fit(module, data: data)
            return (weightBytes(module), trainer)
        }
        let first = try run(seed: 5), second = try run(seed: 5), other = try run(seed: 6)
        #expect(first.optimizer.options.deterministic)
        #expect(first.weights == second.weights)
        #expect(first.optimizer.optimizer?.stateDict() == second.optimizer.optimizer?.stateDict())
        #expect(first.weights != other.weights)
    }
}

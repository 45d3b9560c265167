import CairnData
@testable import CairnTrainer
import Foundation
import Testing

/// 80 training rows in batches of 4 (20 batches per epoch), 8 validation rows.
func twentyBatchData() throws -> LoaderDataModule {
    LoaderDataModule(train: DataLoader(try syntheticDataset(rows: 80), batchSize: 4, shuffle: false),
                     validation: DataLoader(try syntheticDataset(rows: 8, offset: 5), batchSize: 4, shuffle: false))
}

@Suite struct ValCheckIntervalTests {
    func validations(_ interval: Trainer.ValCheckInterval?, maxEpochs: Int = 1, limitTrainBatches: Int? = nil) throws -> [String] {
        let spy = ValidationSpy()
        let options = Trainer.Options(maxEpochs: maxEpochs, limitTrainBatches: limitTrainBatches, valCheckInterval: interval,
                                      numSanityValSteps: 0, enableCheckpointing: false)
        try Trainer(options, callbacks: [spy]).fit(TinyClassifier(seed: 1), data: try twentyBatchData())
        return spy.validatedAfter
    }

    @Test func quarterOfTwentyBatches() throws {
        #expect(try validations(0.25) == ["e0b5", "e0b10", "e0b15", "e0b20"])
    }

    /// Lightning's `val_check_batch = max(1, int(batches × fraction))`: 0.3 of 10 batches is every 3rd,
    /// so not at the last; the whole epoch is its end; a tiny fraction is every batch.
    @Test func fractionRoundsDownAsLightning() throws {
        #expect(try validations(0.3, limitTrainBatches: 10) == ["e0b3", "e0b6", "e0b9"])
        #expect(try validations(1.0, maxEpochs: 2) == ["e0b20", "e1b20"])
        #expect(try validations(0.01, limitTrainBatches: 3) == ["e0b1", "e0b2", "e0b3"])
    }

    @Test func literalsPickTheCase() {
        let count: Trainer.ValCheckInterval = 5
        let fraction: Trainer.ValCheckInterval = 0.5
        #expect(count == .batches(5))
        #expect(fraction == .fraction(0.5))
        #expect(Trainer.Options(valCheckInterval: 7).valCheckInterval == .batches(7))
    }

    /// A batch count beyond the epoch would never validate: Lightning raises, so does fit.
    @Test func batchCountLongerThanEpochIsRefused() throws {
        #expect(throws: TrainerError.self) { try validations(21) }
        do {
            _ = try validations(25, limitTrainBatches: 10)
        } catch let TrainerError.invalidOption(name, reason) {
            #expect(name == "valCheckInterval")
            #expect(reason.contains("25 batches is more than the 10 training batches"))
        }
    }
}

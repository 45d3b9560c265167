import CairnData
import CairnTensor
@testable import CairnTrainer
import Testing

/// Logs the batch index as a metric, so epoch means are easy to predict.
final class IndexLogger: TinyClassifier, @unchecked Sendable {
    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        log("index", Double(batchIndex))
        log("index_each_step", Double(batchIndex), onStep: true, onEpoch: true)
        return nil
    }
}

@Suite struct MetricTests {
    /// Ten rows in batches of 4, 4, 2: the epoch mean weights each batch by its rows.
    @Test func epochMeansAreWeightedByBatchSize() throws {
        let data = LoaderDataModule(validation: DataLoader(try syntheticDataset(rows: 10), batchSize: 4, shuffle: false))
        let metrics = try Trainer(quietOptions()).validate(IndexLogger(seed: 1), data: data)
        #expect(metrics["index"] == 0.8)
        #expect(metrics["index_each_step_epoch"] == 0.8)
        #expect(metrics["index_each_step_step"] == 2)
    }

    @Test func missingLoaderIsATypedError() throws {
        #expect(throws: TrainerError.missingLoader(stage: .test, loader: "test")) {
            try Trainer(quietOptions()).test(TinyClassifier(seed: 1), data: LoaderDataModule())
        }
    }
}

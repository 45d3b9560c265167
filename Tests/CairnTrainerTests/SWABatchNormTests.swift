import CairnData
import CairnNN
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

@Suite struct SWABatchNormTests {
    /// After the average replaces the weights, the batch-norm statistics are those of one
    /// forward pass in training mode over the next epoch's batches, every batch weighted equally
    /// (torch's `update_bn`), and the train loader is back where training left it.
    @Test func batchNormStatisticsAreRecomputedForTheAveragedWeights() throws {
        let module = NormalizedClassifier(seed: 5)
        let data = try freshData()
        let swa = StochasticWeightAveraging(swaLR: 0.01, swaEpochStart: .epoch(2), annealingEpochs: 1)
        let trainer = try Trainer(swaOptions(), callbacks: [swa])
        let loader = try #require(try data.trainLoader())
        try trainer.fit(module, data: data)
        let positionAfterFit = loader.stateDict()

        // The same weights, statistics recomputed by hand over epoch 4's batches.
        let reference = NormalizedClassifier(seed: 99)
        try reference.loadStateDict(module.stateDict())
        reference.norm.resetRunningStatistics()
        reference.norm.usesCumulativeAverage = true
        let replay = try #require(try freshData().trainLoader())
        try replay.startEpoch(4)
        var batches = 0
        try withNoGrad {
            while let batch = try replay.nextBatch() {
                _ = reference(try batch.tensor("features"))
                batches += 1
            }
        }
        #expect(batches == 5)
        #expect(module.norm.numBatchesTracked.value.integers == [Int64(batches)])
        #expect(module.norm.runningMean.value.rawBytes == reference.norm.runningMean.value.rawBytes)
        #expect(module.norm.runningVar.value.rawBytes == reference.norm.runningVar.value.rawBytes)
        #expect(!module.norm.usesCumulativeAverage)
        #expect(loader.stateDict() == positionAfterFit)
    }

    /// The cumulative mode is an equal-weight mean of the batch statistics.
    @Test func cumulativeAverageWeighsEveryBatchEqually() {
        let norm = BatchNorm1d(1)
        norm.resetRunningStatistics()
        norm.usesCumulativeAverage = true
        for values: [Float] in [[0, 2], [4, 6], [8, 10]] { _ = norm(Tensor(shape: [2, 1], scalars: values)) }
        #expect(norm.runningMean.value.scalars == [5])
        // Unbiased variance of each pair is 2, so their mean is 2.
        #expect(norm.runningVar.value.scalars == [2])
    }
}

import CairnData
import CairnTensor
import Foundation
import Synchronization
import Testing

/// A data set whose example i has feature i and label i % 3, counting every read.
final class CountingDataset: Dataset, @unchecked Sendable {
    let count: Int
    let featureCount = 1
    let reads = Mutex<[Int]>([])

    init(count: Int) { self.count = count }

    func example(at index: Int) -> Example {
        reads.withLock { $0.append(index) }
        return Example(features: [Float(index)], label: Int64(index % 3))
    }
}

func labels(_ batches: [Batch]) -> [[Int64]] { batches.map { $0.labels.integers } }
func firstFeatures(_ batches: [Batch]) -> [[Float]] { batches.map { $0.features.scalars } }

@Suite struct DataLoaderTests {
    @Test func batchesCollateIntoFeatureAndLabelTensors() {
        let loader = DataLoader(CountingDataset(count: 10), batchSize: 4, shuffle: false)
        let batches = loader.epochBatches()
        #expect(batches.map { $0.features.shape } == [[4, 1], [4, 1], [2, 1]])
        #expect(batches[0].labels.dtype == .i64 && batches[0].labels.shape == [4])
        #expect(batches[0].features.scalars == [0, 1, 2, 3])
        #expect(loader.epoch == 1)
        let dropping = DataLoader(CountingDataset(count: 10), batchSize: 4, dropLast: true)
        #expect(dropping.epochBatches().count == 2 && dropping.batchesPerEpoch == 2)
    }

    @Test func shuffleDiffersByEpochAndIsFixedBySeed() {
        let first = DataLoader(CountingDataset(count: 20), batchSize: 5, seed: 9)
        let second = DataLoader(CountingDataset(count: 20), batchSize: 5, seed: 9)
        let epoch0 = firstFeatures(first.epochBatches()), epoch1 = firstFeatures(first.epochBatches())
        #expect(epoch0 != epoch1)
        #expect(firstFeatures(second.epochBatches()) == epoch0)
        #expect(Set(epoch0.flatMap { $0 }) == Set((0..<20).map(Float.init)))
    }

    @Test func resumedLoaderYieldsExactlyTheRemainingBatchesWithoutReadingSkippedOnes() throws {
        let stopped = DataLoader(CountingDataset(count: 23), batchSize: 4, seed: 77)
        _ = stopped.epochBatches()
        _ = stopped.epochBatches()
        for _ in 0..<3 { _ = stopped.nextBatch() }  // stop at batch 3 of epoch 2
        let saved = stopped.stateDict()
        #expect(saved == .dict(["seed": .int(77), "epoch": .int(2), "position": .int(12)]))
        let expected = firstFeatures(stopped.epochBatches()) + firstFeatures(stopped.epochBatches())

        let freshData = CountingDataset(count: 23)
        let resumed = DataLoader(freshData, batchSize: 4, seed: 0)
        try resumed.loadStateDict(saved)
        #expect(resumed.stateDict() == saved)
        let remaining = resumed.epochBatches()
        #expect(freshData.reads.withLock { $0.count } == 23 - 12)
        #expect(firstFeatures(remaining) + firstFeatures(resumed.epochBatches()) == expected)
    }

    @Test func samplerStateRoundTripsAndLazyBatchesMatch() throws {
        var sampler = StatefulSampler(count: 9, shuffle: true, seed: 3)
        _ = sampler.next(4)
        var restored = StatefulSampler(count: 9, shuffle: true, seed: 0)
        try restored.loadStateDict(sampler.stateDict())
        #expect(restored == sampler)
        #expect(restored.next(9) == sampler.next(9))
        let eager = DataLoader(CountingDataset(count: 10), batchSize: 3, seed: 1)
        let lazy = DataLoader(CountingDataset(count: 10), batchSize: 3, seed: 1)
        #expect(firstFeatures(eager.epochBatches()) == firstFeatures(Array(lazy.remainingBatches())))
        #expect(lazy.epoch == 1)
    }

    @Test func badSamplerStateThrows() {
        let loader = DataLoader(CountingDataset(count: 5), batchSize: 2)
        #expect(throws: StateValueError.missing(path: "sampler.position")) {
            try loader.loadStateDict(.dict(["seed": .int(1), "epoch": .int(0)]))
        }
        #expect(throws: StateValueError.self) {
            try loader.loadStateDict(.dict(["seed": .int(1), "epoch": .int(0), "position": .int(6)]))
        }
    }
}

@Suite struct CSVDatasetTests {
    @Test func readsFeaturesAndLabelByName() throws {
        let data = try CSVDataset(text: "a,label,b\n1,2,3\n4,0,6\n", file: "t.csv")
        #expect(data.count == 2 && data.featureCount == 2 && data.featureNames == ["a", "b"])
        #expect(data.example(at: 1) == Example(features: [4, 6], label: 0))
    }

    @Test func badRowsNameFileAndLine() {
        #expect(throws: DatasetError.invalidLabel(file: "t.csv", line: 3, value: 1.5)) {
            try CSVDataset(text: "a,label\n1,2\n4,1.5\n", file: "t.csv")
        }
        #expect(throws: DatasetError.invalidLabel(file: "t.csv", line: 5, value: -2)) {
            try CSVDataset(text: "a,label\n\n1,2\n  \n4,-2\n", file: "t.csv")
        }
        #expect(throws: DatasetError.self) { try CSVDataset(contentsOfFile: "/nonexistent/cairn.csv") }
        #expect(throws: DatasetError.csv(.nonNumeric(file: "t.csv", line: 2, column: 1, cell: "x"))) {
            try CSVDataset(text: "a,label\nx,2\n", file: "t.csv")
        }
        #expect(throws: DatasetError.self) { try CSVDataset(text: "a,b\n1,2\n", file: "t.csv") }
        let message = DatasetError.invalidLabel(file: "t.csv", line: 3, value: -1).description
        #expect(message.contains("t.csv:3"))
    }

    @Test func splitsAreDisjointCompleteAndSeeded() {
        let data = CountingDataset(count: 100)
        let splits = data.split(validationFraction: 0.2, testFraction: 0.1, seed: 5)
        #expect(splits.train.count == 70 && splits.validation.count == 20 && splits.test.count == 10)
        let all = splits.train.indices + splits.validation.indices + splits.test.indices
        #expect(Set(all).count == 100)
        #expect(data.split(validationFraction: 0.2, testFraction: 0.1, seed: 5).test.indices == splits.test.indices)
        #expect(data.split(validationFraction: 0.2, testFraction: 0.1, seed: 6).test.indices != splits.test.indices)
    }
}

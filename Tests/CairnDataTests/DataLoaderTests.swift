import CairnData
import CairnTensor
import Foundation
import Synchronization
import Testing

/// A data set whose example i has feature i and class i % 3, counting every read.
final class CountingDataset: Dataset, @unchecked Sendable {
    let count: Int
    let reads = Mutex<[Int]>([])

    init(count: Int) { self.count = count }

    func example(at index: Int) -> Example {
        reads.withLock { $0.append(index) }
        return Example(["features": Tensor(shape: [1], scalars: [Float(index)]), "target": Tensor(indices: [index % 3], shape: [])])
    }
}

func firstFeatures(_ batches: [Batch]) -> [[Float]] { batches.map { $0["features"]?.scalars ?? [] } }

@Suite struct DataLoaderTests {
    @Test func batchesStackEachKeyKeepingItsDtype() throws {
        let loader = DataLoader(CountingDataset(count: 10), batchSize: 4, shuffle: false)
        let batches = try loader.epochBatches()
        #expect(batches.map { $0["features"]?.shape } == [[4, 1], [4, 1], [2, 1]])
        #expect(batches.map(\.size) == [4, 4, 2])
        let target = try batches[0].tensor("target")
        #expect(target.dtype == .i64 && target.shape == [4] && target.integers == [0, 1, 2, 0])
        #expect(batches[0]["features"]?.scalars == [0, 1, 2, 3])
        #expect(loader.epoch == 1)
        let dropping = DataLoader(CountingDataset(count: 10), batchSize: 4, dropLast: true)
        #expect(try dropping.epochBatches().count == 2 && dropping.batchesPerEpoch == 2)
    }

    @Test func shuffleDiffersByEpochAndIsFixedBySeed() throws {
        let first = DataLoader(CountingDataset(count: 20), batchSize: 5, seed: 9)
        let second = DataLoader(CountingDataset(count: 20), batchSize: 5, seed: 9)
        let epoch0 = firstFeatures(try first.epochBatches()), epoch1 = firstFeatures(try first.epochBatches())
        #expect(epoch0 != epoch1)
        #expect(firstFeatures(try second.epochBatches()) == epoch0)
        #expect(Set(epoch0.flatMap { $0 }) == Set((0..<20).map(Float.init)))
    }

    @Test func resumedLoaderYieldsExactlyTheRemainingBatchesWithoutReadingSkippedOnes() throws {
        let stopped = DataLoader(CountingDataset(count: 23), batchSize: 4, seed: 77)
        _ = try stopped.epochBatches()
        _ = try stopped.epochBatches()
        for _ in 0..<3 { _ = try stopped.nextBatch() }  // stop at batch 3 of epoch 2
        let saved = stopped.stateDict()
        #expect(saved == .dict(["seed": .int(77), "epoch": .int(2), "position": .int(12)]))
        let expected = firstFeatures(try stopped.epochBatches()) + firstFeatures(try stopped.epochBatches())

        let freshData = CountingDataset(count: 23)
        let resumed = DataLoader(freshData, batchSize: 4, seed: 0)
        try resumed.loadStateDict(saved)
        #expect(resumed.stateDict() == saved)
        let remaining = try resumed.epochBatches()
        #expect(freshData.reads.withLock { $0.count } == 23 - 12)
        #expect(firstFeatures(remaining) + firstFeatures(try resumed.epochBatches()) == expected)
    }

    @Test func samplerStateRoundTrips() throws {
        var sampler = StatefulSampler(count: 9, shuffle: true, seed: 3)
        _ = sampler.next(4)
        var restored = StatefulSampler(count: 9, shuffle: true, seed: 0)
        try restored.loadStateDict(sampler.stateDict())
        #expect(restored == sampler)
        #expect(restored.next(9) == sampler.next(9))
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

    /// A custom collate makes a value of the user's own type, which the step takes back as is.
    @Test func aCustomCollateMakesAnyValue() throws {
        struct Pairs: Sendable, Equatable { var sums: [Float] }
        let loader = DataLoader(CountingDataset(count: 5), batchSize: 2, shuffle: false) { examples, indices in
            Batch(value: Pairs(sums: examples.map { ($0["features"]?.item ?? 0) + Float(indices.count) }), size: examples.count)
        }
        let batches = try loader.epochBatches()
        #expect(try batches.map { try $0.value(as: Pairs.self) } == [Pairs(sums: [2, 3]), Pairs(sums: [4, 5]), Pairs(sums: [5])])
        #expect(batches.map(\.size) == [2, 2, 1])
        #expect(throws: BatchError.wrongValueType(expected: "Int", actual: "Pairs")) { try batches[0].value(as: Int.self) }
        #expect(throws: BatchError.missingKey("features", available: [])) { try batches[0].tensor("features") }
    }
}

/// The default collate stacks tensors of any shape and dtype and names the example and key at fault.
@Suite struct CollateTests {
    static func example(_ image: Tensor, label: Int) -> Example {
        Example(["image": image, "label": Tensor(indices: [label], shape: [])])
    }

    @Test func stacksImagesOfAnyRank() throws {
        let images = (0..<3).map { image in Tensor(shape: [2, 2, 2], scalars: (0..<8).map { Float(image * 10 + $0) }) }
        let batch = try Collation.stack(images.enumerated().map { Self.example($1, label: $0) }, indices: [7, 8, 9])
        #expect(batch["image"]?.shape == [3, 2, 2, 2])
        #expect(batch["label"]?.integers == [0, 1, 2])
        #expect(batch.size == 3)
        #expect(Array(batch.tensors.keys) == ["image", "label"])
    }

    @Test func shapeMismatchNamesTheExampleAndKey() {
        let examples = [Self.example(Tensor.zeros([2, 2]), label: 0), Self.example(Tensor.zeros([2, 3]), label: 1)]
        #expect(throws: CollateError.shapeMismatch(example: 41, key: "image", expected: [2, 2], actual: [2, 3])) {
            try Collation.stack(examples, indices: [40, 41])
        }
        #expect(CollateError.shapeMismatch(example: 41, key: "image", expected: [2, 2], actual: [2, 3]).description
                    == "example 41: 'image' has shape [2, 3], the batch's first example has [2, 2]")
    }

    @Test func missingAndExtraKeysAndDtypesNameTheExample() {
        let full = Self.example(Tensor.zeros([2]), label: 0)
        let missing = Example(["image": Tensor.zeros([2])])
        #expect(throws: CollateError.missingKey(example: 6, key: "label")) { try Collation.stack([full, missing], indices: [5, 6]) }
        #expect(throws: CollateError.unexpectedKey(example: 6, key: "label")) { try Collation.stack([missing, full], indices: [5, 6]) }
        let floatLabel = Example(["image": Tensor.zeros([2]), "label": Tensor(0.5)])
        #expect(throws: CollateError.dtypeMismatch(example: 6, key: "label", expected: .i64, actual: .f32)) {
            try Collation.stack([full, floatLabel], indices: [5, 6])
        }
    }

    /// A loader surfaces the collate's error as a thrown error, not a trap.
    @Test func aLoaderThrowsTheCollateError() throws {
        let data = try TensorDataset(["x": Tensor.zeros([4, 2])])
        let loader = DataLoader(data, batchSize: 2, shuffle: false) { examples, indices in
            try Collation.stack(examples + [Example(["y": Tensor.zeros([1])])], indices: indices + [99])
        }
        #expect(throws: CollateError.unexpectedKey(example: 99, key: "y")) { try loader.nextBatch() }
    }
}

@Suite struct TensorDatasetTests {
    @Test func examplesAreRowsOfEveryTensorWithTheirDtype() throws {
        let inputs = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        let classes = Tensor(indices: [7, 8, 9])
        let data = try TensorDataset(["x": inputs, "y": classes])
        #expect(data.count == 3)
        #expect(data.example(at: 1)["x"]?.scalars == [3, 4] && data.example(at: 1)["x"]?.shape == [2])
        #expect(data.example(at: 2)["y"]?.integers == [9] && data.example(at: 2)["y"]?.shape == [Int]() && data.example(at: 2)["y"]?.dtype == .i64)
        let batch = try #require(try DataLoader(data, batchSize: 3, shuffle: false).nextBatch())
        #expect(batch["x"]?.scalars == inputs.scalars && batch["y"]?.integers == [7, 8, 9])
        #expect(data.split(validationFraction: 1.0 / 3, testFraction: 0, seed: 1).validation.count == 1)
    }

    @Test func tensorsOfDifferentLengthsAreRefused() {
        #expect(throws: DatasetError.lengthMismatch(key: "y", count: 2, expected: 3)) {
            try TensorDataset(["x": Tensor.zeros([3, 1]), "y": Tensor.zeros([2])])
        }
    }
}

@Suite struct TokenWindowDatasetTests {
    @Test func windowsAndTheirShiftedTargets() throws {
        let data = try TokenWindowDataset(tokens: (0..<10).map(Int64.init), window: 4, stride: 3)
        // Starts 0, 3: each window needs the token after it, so a start of 6 would need token 10.
        #expect(data.count == 2)
        #expect(data.example(at: 1)["tokens"]?.integers == [3, 4, 5, 6])
        #expect(data.example(at: 1)["targets"]?.integers == [4, 5, 6, 7])
        let batch = try #require(try DataLoader(data, batchSize: 2, shuffle: false).nextBatch())
        #expect(batch["tokens"]?.shape == [2, 4] && batch["tokens"]?.dtype == .i64)
        #expect(try TokenWindowDataset(tokens: (0..<9).map(Int64.init), window: 4).count == 2)
    }

    @Test func windowsThatCannotBeCutAreRefused() {
        #expect(throws: DatasetError.self) { try TokenWindowDataset(tokens: [1, 2, 3], window: 3) }
        #expect(throws: DatasetError.self) { try TokenWindowDataset(tokens: [1, 2, 3], window: 0) }
        #expect(throws: DatasetError.self) { try TokenWindowDataset(tokens: [1, 2, 3], window: 1, stride: -1) }
    }
}

@Suite struct CSVDatasetTests {
    @Test func readsFeaturesAndClassIndexByName() throws {
        let data = try CSVDataset(text: "a,label,b\n1,2,3\n4,0,6\n", file: "t.csv")
        #expect(data.count == 2 && data.featureCount == 2 && data.featureNames == ["a", "b"])
        #expect(data.example(at: 1)["features"]?.scalars == [4, 6])
        #expect(data.example(at: 1)["target"]?.integers == [0] && data.example(at: 1)["target"]?.shape == [])
    }

    @Test func readsFloatTargetsFromChosenColumns() throws {
        let data = try CSVDataset(text: "a,y,b,z,unused\n1,0.5,3,-1,9\n4,1.5,6,2,9\n", file: "t.csv",
                                  target: .values(columns: ["y", "z"]), featureColumns: ["b", "a"])
        #expect(data.featureNames == ["b", "a"])
        #expect(data.example(at: 1)["features"]?.scalars == [6, 4])
        #expect(data.example(at: 1)["target"]?.scalars == [1.5, 2] && data.example(at: 1)["target"]?.dtype == .f32)
        #expect(throws: DatasetError.missingColumn(file: "t.csv", column: "w", header: ["a", "y", "b", "z", "unused"])) {
            try CSVDataset(text: "a,y,b,z,unused\n1,0.5,3,-1,9\n", file: "t.csv", target: .values(columns: ["w"]))
        }
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

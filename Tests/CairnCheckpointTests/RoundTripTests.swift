import CairnTestSupport
import Foundation
import OrderedCollections
import Testing
@testable import CairnCheckpoint

@Suite struct RoundTripTests {
    let smallChunks = CheckpointSaveOptions(chunkSize: 1000)

    func roundTrip(_ tree: CheckpointValue, options: CheckpointSaveOptions = .init()) throws -> CheckpointValue {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("model.ckpt")
        try Checkpoint.save(tree, to: url, options: options)
        return try Checkpoint.open(url).materializedTree()
    }

    @Test(arguments: CheckpointDType.allCases)
    func everyDTypeRoundTrips(dtype: CheckpointDType) throws {
        let shape = [3, 5]
        let tensor = CheckpointTensor(dtype: dtype, shape: shape, bytes: patternBytes(15 * dtype.byteWidth, seed: 3))
        let tree: CheckpointValue = .dictionary(["w": .tensor(tensor)])
        let loaded = try roundTrip(tree, options: smallChunks)
        #expect(try firstDifference(tree, loaded) == nil)
        #expect(loaded["/w"]?.tensor?.dtype == dtype)
    }

    @Test func zeroDimensionalEmptyAndMultiChunkTensors() throws {
        let scalar = CheckpointTensor(float32: [42.5], shape: [])
        let empty = CheckpointTensor(dtype: .f32, shape: [0, 7], bytes: [])
        let big = CheckpointTensor(dtype: .u8, shape: [10, 1001], bytes: patternBytes(10_010, seed: 9))
        let tree: CheckpointValue = .dictionary(["scalar": .tensor(scalar), "empty": .tensor(empty), "big": .tensor(big)])
        let loaded = try roundTrip(tree, options: smallChunks)
        #expect(try firstDifference(tree, loaded) == nil)
        #expect(try loaded["/scalar"]?.tensor?.float32s() == [42.5])
        #expect(loaded["/empty"]?.tensor?.shape == [0, 7])
    }

    @Test func scalarsKeysAndOrderRoundTrip() throws {
        let longKey = String(repeating: "ключ/~λ", count: 2000)
        var entries = OrderedDictionary<CheckpointKey, CheckpointValue>()
        entries["zeta"] = .int(-7)
        entries["alpha"] = .double(-0.0)
        entries["日本語 ✓"] = .string("emoji 🎉 and nul\u{0}inside")
        entries[.string(longKey)] = .bool(true)
        entries["none"] = .null
        entries["raw"] = .bytes([0, 255, 1, 254])
        entries["noBytes"] = .bytes([])
        entries["optimizer"] = .dictionary([.int(3): .string("three"), .int(-1): .int(Int64.min), "3": .string("text three")])
        entries["nested"] = .list([.list([.int(1), .list([])]), .dictionary([:]), .double(.infinity)])
        let tree = CheckpointValue.dictionary(entries)
        let loaded = try roundTrip(tree)
        #expect(try firstDifference(tree, loaded) == nil)
        #expect(loaded[JSONPointer(tokens: [longKey])] != nil)
        #expect(loaded["/optimizer/3"].map { if case .string("text three") = $0 { true } else { false } } == true)
    }

    @Test func lazyTreeReadsTensorsOnDemandAndByPath() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("lazy.ckpt")
        let weights = (0..<3000).map { Float($0) * 0.5 }
        let tree: CheckpointValue = .dictionary([
            "epoch": .int(4), "global_step": .int(1200),
            "state_dict": .dictionary(["net.0.weight": .tensor(CheckpointTensor(float32: weights, shape: [30, 100]))]),
        ])
        try Checkpoint.save(tree, to: url, options: smallChunks)
        let reader = try Checkpoint.open(url)
        #expect(reader.metadata.epoch == 4)
        #expect(reader.metadata.globalStep == 1200)
        #expect(reader.metadata.tensorCount == 1)
        #expect(reader.metadata.totalBytes == 12_000)
        #expect(reader.metadata.producer == "cairn")
        let lazy = try reader.tree()
        #expect(try lazy["/state_dict/net.0.weight"]?.tensor?.float32s() == weights)
        var buffer = [Float](repeating: 0, count: 3000)
        try buffer.withUnsafeMutableBytes { try reader.readTensor(at: ["state_dict", "net.0.weight"], into: $0) }
        #expect(buffer == weights)
        var tooSmall = [UInt8](repeating: 0, count: 10)
        #expect(throws: CheckpointError.self) {
            try tooSmall.withUnsafeMutableBytes { try reader.readTensor(at: ["state_dict", "net.0.weight"], into: $0) }
        }
    }

    @Test func identicalTensorsAreStoredOnce() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let bytes = patternBytes(400_000, seed: 1)
        let tensor = CheckpointTensor(dtype: .u8, shape: [400_000], bytes: bytes)
        let other = CheckpointTensor(dtype: .u8, shape: [400_000], bytes: patternBytes(400_000, seed: 2))
        let single = scratch.file("single.ckpt"), tied = scratch.file("tied.ckpt"), distinct = scratch.file("distinct.ckpt")
        try Checkpoint.save(.dictionary(["a": .tensor(tensor)]), to: single)
        try Checkpoint.save(.dictionary(["a": .tensor(tensor), "b": .tensor(tensor), "c": .tensor(tensor)]), to: tied)
        try Checkpoint.save(.dictionary(["a": .tensor(tensor), "b": .tensor(other)]), to: distinct)
        func size(_ url: URL) throws -> Int { try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int }
        #expect(try size(tied) < size(single) + 100_000)
        #expect(try size(distinct) > size(single) + 350_000)
        let loaded = try Checkpoint.open(tied).materializedTree()
        #expect(try loaded["/c"]?.tensor?.bytes() == bytes)
    }

    @Test func externalStorageIsSavedWithoutCopyIntoTheTree() throws {
        final class Parameter: CheckpointTensorStorage, @unchecked Sendable {
            var values: [Float] = (0..<2048).map { Float($0) }
            func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
                try values.withUnsafeBytes(body)
            }
        }
        let parameter = Parameter()
        let tree: CheckpointValue = .dictionary(["p": .tensor(CheckpointTensor(dtype: .f32, shape: [2048], storage: .external(parameter)))])
        let loaded = try roundTrip(tree, options: smallChunks)
        #expect(try loaded["/p"]?.tensor?.float32s() == parameter.values)
    }

    @Test func saveReplacesTheFileAndRemovesLeftoverTemporaries() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("run.ckpt")
        let leftover = scratch.file(".run.ckpt.tmp-1-dead")
        _ = FileManager.default.createFile(atPath: leftover.path, contents: Data([1, 2, 3]))
        try Checkpoint.save(.dictionary(["epoch": .int(1)]), to: url)
        try Checkpoint.save(.dictionary(["epoch": .int(2)]), to: url)
        #expect(try Checkpoint.open(url).metadata.epoch == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.url.path) == ["run.ckpt"])
    }
}

/// Small states get small pages, large ones the pages big chunks stream through.
@Test func pageSizeFollowsTheAmountOfTensorData() throws {
    let scratch = try ScratchDirectory()
    defer { scratch.cleanUp() }
    func pageSize(ofStateWith bytes: Int) throws -> Int64 {
        let url = scratch.file("state-\(bytes).ckpt")
        try Checkpoint.save(.dictionary(["w": .tensor(CheckpointTensor(dtype: .u8, shape: [bytes], bytes: [UInt8](repeating: 1, count: bytes)))]), to: url)
        let connection = try SQLiteConnection(file: url.path, mode: .readOnly)
        defer { try? connection.close() }
        let statement = try connection.prepare("PRAGMA page_size")
        _ = try statement.step()
        return statement.int64(0)
    }
    #expect(try pageSize(ofStateWith: 120 << 10) == 4096)
    #expect(try pageSize(ofStateWith: 9 << 20) == 65536)
}

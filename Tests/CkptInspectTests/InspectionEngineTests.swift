import CairnCheckpoint
import Foundation
import Testing

/// The checkpoint-module pieces the CLI builds on, tested without the executable.
@Suite struct InspectionEngineTests {
    private func decode(_ bits: UInt16, _ dtype: CheckpointDType) -> Double {
        withUnsafeBytes(of: bits.littleEndian) { TensorElementDecoding.element($0, at: 0, dtype: dtype) }
    }

    @Test func halfAndBFloatDecoding() {
        #expect(decode(0x3C00, .f16) == 1)
        #expect(decode(0xC000, .f16) == -2)
        #expect(decode(0x3555, .f16) == 0.333251953125)
        #expect(decode(0x0001, .f16) == 0x1p-24, "smallest subnormal")
        #expect(decode(0x7BFF, .f16) == 65504, "largest normal")
        #expect(decode(0xFC00, .f16) == -.infinity)
        #expect(decode(0x7E00, .f16).isNaN)
        #expect(decode(0x3F80, .bf16) == 1)
        #expect(decode(0xC0A0, .bf16) == -5)
        #expect(decode(0xFFFF, .i16) == -1)
    }

    @Test func toleranceFollowsTorchIsclose() {
        let tolerance = TensorTolerance(absolute: 0.1, relative: 0.01)
        #expect(!tolerance.differ(1.0, 1.1))             // 0.1 <= 0.1 + 0.011
        #expect(tolerance.differ(1.0, 1.2))
        #expect(!tolerance.differ(100, 101))             // 1 <= 0.1 + 1.01
        #expect(tolerance.differ(.nan, .nan))
        #expect(!tolerance.differ(.infinity, .infinity))
        #expect(tolerance.differ(.infinity, -.infinity))
        #expect(TensorTolerance.exact.differ(0, 1e-300))
    }

    @Test func statisticsSkipNonFinite() {
        var statistics = TensorStatistics()
        statistics.add([1, 2, .nan])
        statistics.add([3, 4, .infinity, -.infinity])
        #expect(statistics.count == 7)
        #expect(statistics.nanCount == 1)
        #expect(statistics.infinityCount == 2)
        #expect(statistics.minimum == 1 && statistics.maximum == 4)
        #expect(statistics.mean == 2.5)
        #expect(abs((statistics.standardDeviation ?? 0) - 1.25.squareRoot()) < 1e-12)
        #expect(TensorStatistics().mean == nil)
    }

    @Test func streamCrossesChunkBoundariesAndComparisonCounts() throws {
        let run = try RunDirectory()
        defer { run.cleanUp() }
        let values = (0..<1000).map { Double($0) * 0.5 }
        let tree: CheckpointValue = .dictionary(["x": .tensor(CheckpointTensor(
            dtype: .f64, shape: [1000], bytes: values.withUnsafeBytes { Array($0) }))])
        var changed = values
        changed[10] += 1
        changed[999] = .nan
        let other: CheckpointValue = .dictionary(["x": .tensor(CheckpointTensor(
            dtype: .f64, shape: [1000], bytes: changed.withUnsafeBytes { Array($0) }))])
        // 13-byte chunks split almost every element across two chunks.
        let old = try Checkpoint.open(URL(fileURLWithPath: try run.save("old.ckpt", tree, chunkSize: 13)))
        let new = try Checkpoint.open(URL(fileURLWithPath: try run.save("new.ckpt", other, chunkSize: 4096)))
        let info = try old.tensorInfo(at: ["x"])
        #expect(old.chunkCount(of: info) == 616)

        let stream = TensorElementStream(reader: old, info: info)
        var read: [Double] = []
        while case let block = try stream.next(limit: 77), !block.isEmpty { read += block }
        #expect(read == values)

        let comparison = try TensorComparison.of(old: info, in: old, new: try new.tensorInfo(at: ["x"]), in: new, tolerance: .exact)
        #expect(comparison.elementCount == 1000)
        #expect(comparison.differingCount == 2)
        #expect(comparison.maximumAbsoluteDifference == 1)
        #expect(old.verifyChecksums().isEmpty)
    }
}

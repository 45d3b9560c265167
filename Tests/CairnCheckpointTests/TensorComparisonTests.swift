import CairnTestSupport
import Foundation
import Testing
@testable import CairnCheckpoint

/// `diff`'s tensor comparison reads only what differs.
@Suite struct TensorComparisonTests {
    /// 1,000 float32 values in four 1,000-byte chunks.
    static func save(_ values: [Float], to url: URL, chunkSize: Int = 1000) throws {
        let tree: CheckpointValue = .dictionary(["w": .tensor(CheckpointTensor(float32: values, shape: [10, 100]))])
        try Checkpoint.save(tree, to: url, options: CheckpointSaveOptions(chunkSize: chunkSize))
    }

    static func compare(_ old: URL, _ new: URL) throws -> TensorComparison {
        let oldReader = try Checkpoint.open(old), newReader = try Checkpoint.open(new)
        return try TensorComparison.of(old: oldReader.tensorInfos[0], in: oldReader, new: newReader.tensorInfos[0],
                                       in: newReader, tolerance: TensorTolerance(absolute: 0, relative: 0))
    }

    let original = (0..<1000).map { Float($0) / 7 }
    var changed: [Float] {
        var values = original
        values[900] += 1  // only the last chunk differs
        return values
    }

    @Test func identicalChunksAreNotReadFromTheNewFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let old = scratch.file("old.ckpt"), new = scratch.file("new.ckpt")
        try Self.save(original, to: old)
        try Self.save(changed, to: new)

        let comparison = try Self.compare(old, new)
        #expect(comparison.elementCount == 1000)
        #expect(comparison.differingCount == 1)
        #expect(comparison.maximumAbsoluteDifference == 1)

        // The same answer as streaming every element (different chunk sizes force that path).
        let streamed = scratch.file("streamed.ckpt")
        try Self.save(changed, to: streamed, chunkSize: 600)
        #expect(try Self.compare(old, streamed) == comparison)

        // Damage a chunk the new file shares with the old one: it is never read, so nothing notices.
        #expect(try damage(new, where: original[0..<16].withUnsafeBytes { Data($0) }, atOffset: 3, mask: 0x10) >= 1)
        #expect(try Self.compare(old, new) == comparison)
    }

    @Test func aDamagedDifferingChunkIsAChecksumError() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let old = scratch.file("old.ckpt"), new = scratch.file("new.ckpt")
        try Self.save(original, to: old)
        try Self.save(changed, to: new)
        #expect(try damage(new, where: changed[900..<916].withUnsafeBytes { Data($0) }, atOffset: 1, mask: 0x10) >= 1)
        #expect {
            try Self.compare(old, new)
        } throws: { error in
            guard case let CheckpointError.checksumMismatch(_, path, _, _) = error else { return false }
            return path == "/w"
        }
    }
}

@testable import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing

/// Large reads map the destination's pages in before SQLite fills them; the bytes
/// must land exactly, whatever the destination's alignment, and nothing outside it.
@Suite struct PrefaultedReadTests {
    @Test func unalignedMultiChunkReadLandsExactlyAndLeavesNeighboursAlone() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("prefault.ckpt")
        let byteCount = 3 << 20 + 4099  // several 1 MiB chunks, the last one partial, ends mid-page
        let bytes = patternBytes(byteCount, seed: 9)
        let tree: CheckpointValue = .dictionary(["w": .tensor(CheckpointTensor(dtype: .u8, shape: [byteCount], bytes: bytes))])
        try Checkpoint.save(tree, to: url, options: CheckpointSaveOptions(chunkSize: 1 << 20))

        let reader = try Checkpoint.open(url)
        let guardBytes = 777  // starts the destination off any page boundary
        var region = [UInt8](repeating: 0xA5, count: guardBytes + byteCount + guardBytes)
        try region.withUnsafeMutableBytes { whole in
            let destination = UnsafeMutableRawBufferPointer(rebasing: whole[guardBytes ..< guardBytes + byteCount])
            try reader.readTensor(at: ["w"], into: destination)
        }
        #expect(Array(region[guardBytes ..< guardBytes + byteCount]) == bytes)
        #expect(region.prefix(guardBytes).allSatisfy { $0 == 0xA5 })
        #expect(region.suffix(guardBytes).allSatisfy { $0 == 0xA5 })
        #expect(try reader.tensorBytes(at: ["w"]) == bytes)
    }
}

import CairnTestSupport
import Foundation
import Testing
@testable import CairnCheckpoint

@Suite struct AsyncSaveTests {
    /// A parameter the "training loop" keeps changing after the save call returns.
    final class MutableParameter: CheckpointTensorStorage, @unchecked Sendable {
        var bytes: [UInt8]
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
            try bytes.withUnsafeBytes(body)
        }
    }

    @Test func savesWhatTheTreeHeldAtTheCallEvenIfItChangesAfter() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let saver = AsyncCheckpointSaver(options: CheckpointSaveOptions(chunkSize: 4096))
        let original = patternBytes(200_000, seed: 4)
        let parameter = MutableParameter(original)
        let frozen = patternBytes(50_000, seed: 8)
        for epoch in 1...3 {
            parameter.bytes = patternBytes(200_000, seed: UInt8(epoch))
            let expected = parameter.bytes
            let tree: CheckpointValue = .dictionary([
                "epoch": .int(Int64(epoch)),
                "w": .tensor(CheckpointTensor(dtype: .u8, shape: [200_000], storage: .external(parameter))),
                "frozen": .tensor(CheckpointTensor(dtype: .u8, shape: [50_000], storage: .bytes(frozen), isImmutableUntilSaved: true)),
                "biases": .list((0..<5).map { .tensor(CheckpointTensor(dtype: .i16, shape: [100 * $0], bytes: patternBytes(200 * $0, seed: UInt8($0)))) }),
            ])
            let url = scratch.file("epoch\(epoch).ckpt")
            try saver.save(tree, to: url)
            parameter.bytes = [UInt8](repeating: 0xEE, count: 200_000) // the next step overwrites weights
            try saver.wait()
            let loaded = try Checkpoint.open(url).materializedTree()
            #expect(try loaded["/w"]?.tensor?.bytes() == expected)
            #expect(try loaded["/frozen"]?.tensor?.bytes() == frozen)
            #expect(try firstDifference(tree["/biases"]!, loaded["/biases"]!) == nil)
        }
        try saver.close()
    }

    @Test func aFailedSaveSurfacesOnTheNextCallAndThenClears() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let saver = AsyncCheckpointSaver()
        let tree: CheckpointValue = .dictionary(["epoch": .int(1)])
        try saver.save(tree, to: scratch.file("no-such-dir/x.ckpt"))
        #expect(throws: CheckpointError.self) { try saver.save(tree, to: scratch.file("ok.ckpt")) }
        try saver.save(tree, to: scratch.file("ok.ckpt"))
        try saver.close()
        #expect(try Checkpoint.open(scratch.file("ok.ckpt")).metadata.epoch == 1)
        try saver.save(tree, to: scratch.file("no-such-dir/y.ckpt"))
        #expect(throws: CheckpointError.self) { try saver.wait() }
    }
}

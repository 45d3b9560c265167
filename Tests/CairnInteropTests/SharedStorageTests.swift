import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

/// A tensor referenced from several places is exported as one storage, as torch writes it;
/// equal but separate tensors stay separate.
@Suite struct SharedStorageTests {
    /// A tree with `weight` at two places (or, untied, a copy at the second) and `twin`,
    /// equal in content but its own tensor.
    static func tiedTree(tied: Bool = true) -> (tree: CheckpointValue, twin: CheckpointTensor) {
        let values = (0..<1024).map { Float($0) / 7 }
        let weight = CheckpointTensor(float32: values, shape: [32, 32])
        let twin = CheckpointTensor(float32: values, shape: [32, 32])
        let decoder = tied ? weight : CheckpointTensor(float32: values, shape: [32, 32])
        let tree: CheckpointValue = .dictionary([
            "state_dict": .dictionary(["encoder.weight": .tensor(weight), "decoder.weight": .tensor(decoder)]),
            "twin": .tensor(twin),
        ])
        return (tree, twin)
    }

    /// The storage members (`<root>/data/N`) of a torch zip file.
    static func storageMembers(_ url: URL) throws -> [String] {
        let archive = try TorchArchiveReader(url: url)
        return archive.entries.keys.filter { $0.hasPrefix("\(archive.root)/data/") }.sorted()
    }

    @Test func tensorAtSeveralPlacesIsWrittenOnceAndReadsBackEverywhere() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let (tree, twin) = Self.tiedTree()
        let tied = scratch.file("tied.ckpt")
        try TorchCheckpoint.write(tree, to: tied, lightning: false)

        let separate = scratch.file("separate.ckpt")
        try TorchCheckpoint.write(Self.tiedTree(tied: false).tree, to: separate, lightning: false)

        #expect(try Self.storageMembers(tied) == ["archive/data/0", "archive/data/1"])
        #expect(try Self.storageMembers(separate).count == 3)
        let tiedSize = try #require(try FileManager.default.attributesOfItem(atPath: tied.path)[.size] as? Int)
        let separateSize = try #require(try FileManager.default.attributesOfItem(atPath: separate.path)[.size] as? Int)
        #expect(separateSize - tiedSize >= 4096, "tied \(tiedSize) bytes, separate \(separateSize)")

        let back = try TorchCheckpoint.read(tied)
        let expected = try twin.float32s()
        for path in ["/state_dict/encoder.weight", "/state_dict/decoder.weight", "/twin"] {
            #expect(try back[path]?.tensor?.float32s() == expected, "\(path)")
            #expect(back[path]?.tensor?.shape == [32, 32], "\(path)")
        }
    }

    @Test(.needsPython)
    func torchLoadsTiedTensorsOverOneStorage() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("tied.ckpt")
        try TorchCheckpoint.write(Self.tiedTree().tree, to: url, lightning: false)
        let storages = try #require(try InteropPython.runJSON("roundtrip.py", ["torch-storages", url.path]) as? [String: Int])
        #expect(storages["/state_dict/encoder.weight"] == storages["/state_dict/decoder.weight"])
        // Equal content is not sharing: torch updates loaded optimizer state in place.
        #expect(storages["/twin"] != storages["/state_dict/encoder.weight"])
        #expect(storages.count == 3)
    }

    @Test(.needsPython)
    func lightningCheckpointKeepsItsSharedTensorsThroughImportAndExport() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let fixture = lightningFixture("last.ckpt")
        let url = scratch.file("exported.ckpt")
        try TorchCheckpoint.write(try TorchCheckpoint.read(fixture), to: url)
        let original = try #require(try InteropPython.runJSON("roundtrip.py", ["torch-storages", fixture.path]) as? [String: Int])
        let exported = try #require(try InteropPython.runJSON("roundtrip.py", ["torch-storages", url.path]) as? [String: Int])
        #expect(exported == original)
        // The fixture does share: a ModelCheckpoint's current_score is its best_model_score.
        #expect(Set(original.values).count < original.count)
        #expect(try Self.storageMembers(url).count == Set(original.values).count)
    }
}

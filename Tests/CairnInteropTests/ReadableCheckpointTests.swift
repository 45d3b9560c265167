import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

/// One interface reads every kind of checkpoint file, foreign ones in place.
@Suite struct ReadableCheckpointTests {
    static let weight = CheckpointTensor(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3])

    @Test func everyFormatListsTheSameTensorAndItsValues() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let tree: CheckpointValue = .dictionary(["epoch": .int(3), "state_dict": .dictionary(["net.weight": .tensor(Self.weight)])])
        let cairn = scratch.file("model.ckpt")
        try Checkpoint.save(tree, to: cairn)
        let torch = scratch.file("model.pt")
        try TorchCheckpoint.write(tree, to: torch, lightning: false)
        let safetensors = scratch.file("model.safetensors")
        try SafetensorsFile.write(tensors: [("net.weight", Self.weight)], to: safetensors)
        let sharded = scratch.file("sharded")
        try FileManager.default.createDirectory(at: sharded, withIntermediateDirectories: true)
        try SafetensorsFile.write(tensors: [("net.weight", Self.weight)], to: sharded.appendingPathComponent("model-00001-of-00001.safetensors"))
        try Data(#"{"weight_map": {"net.weight": "model-00001-of-00001.safetensors"}}"#.utf8)
            .write(to: sharded.appendingPathComponent("model.safetensors.index.json"))

        for (url, format, producer) in [(cairn, CheckpointFileFormat.cairn, nil), (torch, .torchZip, "torch zip"),
                                        (safetensors, .safetensors, "safetensors"), (sharded, nil, "sharded (model.safetensors.index.json)")] {
            if let format { #expect(try CheckpointFileFormat(of: url) == format) }
            let checkpoint = try openCheckpointForReading(url.path)
            #expect(checkpoint.tensors.map(\.path.description) == ["/state_dict/net.weight"], "\(url.lastPathComponent)")
            #expect(checkpoint.tensors.first?.shape == [2, 3])
            #expect(try checkpoint.tree()["/state_dict/net.weight"]?.tensor?.float32s() == [1, 2, 3, 4, 5, 6])
            #expect(try checkpoint.statistics(of: 0).mean == 3.5)
            if let producer {
                #expect(checkpoint is InPlaceCheckpoint)
                #expect(try checkpoint.engineVersion() == producer)
            } else {
                #expect(checkpoint is StoredCheckpoint)
            }
        }
        #expect(try openCheckpointForReading(torch.path).metadata.epoch == 3)
    }

    @Test func anUnreadablePathIsAnErrorNamingIt() throws {
        let missing = "/nonexistent/model.safetensors"
        #expect { _ = try openCheckpointForReading(missing) } throws: { "\($0)".contains(missing) }
    }
}

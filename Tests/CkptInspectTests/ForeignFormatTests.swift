import CairnCheckpoint
import CairnInterop
import CairnTestSupport
import Foundation
import Testing

/// Every reading command takes Lightning `.ckpt` and safetensors files as they are.
@Suite struct ForeignFormatTests {
    static func lightning(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fixtures/lightning/\(name)").standardized.path
    }

    @Test func showsALightningCheckpointWithItsStateKeysVerbatim() throws {
        let result = try Inspector.run(["callbacks", Self.lightning("last.ckpt"), "--no-color"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Counter{'what': 'batches'}"))
        #expect(try Inspector.run(["get", Self.lightning("last.ckpt"), "/global_step", "--json"]).stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines) == "69")
        #expect(try Inspector.run(["verify", Self.lightning("plain_state_dict.pt")]).status == 0)
    }

    @Test func diffsALightningCheckpointAgainstAnother() throws {
        let result = try Inspector.run(["diff", Self.lightning("midepoch-epoch=1-step=30.ckpt"),
                                        Self.lightning("last.ckpt"), "--only", "/global_step"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("/global_step: 30 → 69"), "\(result.stdout)")
    }

    @Test func readsSafetensorsAndComparesThemWithACairnCheckpoint() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let weight = CheckpointTensor(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3])
        let safetensors = scratch.file("model.safetensors")
        try SafetensorsFile.write(tensors: [("net.weight", weight)], to: safetensors)
        let tensors = try Inspector.run(["tensors", safetensors.path, "--json"])
        #expect(tensors.status == 0, "\(tensors.stderr)")
        #expect(tensors.stdout.contains("/state_dict/net.weight"))

        // The same weights in a Cairn checkpoint: no differences, across formats.
        let cairn = scratch.file("model.ckpt")
        try Checkpoint.save(.dictionary(["state_dict": .dictionary(["net.weight": .tensor(weight)])]), to: cairn)
        #expect(try Inspector.run(["diff", cairn.path, safetensors.path]).status == 0)

        let sql = try Inspector.run(["sql", safetensors.path, "SELECT 1"])
        #expect(sql.status == 2)
        #expect(sql.stderr.contains("model.safetensors"))
    }
}

/// `convert` goes between any two of the three formats without losing a value.
@Suite struct ConvertCommandTests {
    @Test func lightningToCairnToLightningKeepsEveryValue() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let source = ForeignFormatTests.lightning("last.ckpt")
        let cairn = scratch.file("imported.ckpt").path, back = scratch.file("back.ckpt").path
        #expect(try Inspector.run(["convert", source, cairn, "--to", "cairn"]).status == 0)
        #expect(try Checkpoint.open(URL(fileURLWithPath: cairn)).metadata.globalStep == 69)
        let exported = try Inspector.run(["convert", cairn, back, "--to", "lightning", "--json"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.contains("\"format\": \"lightning\""), "\(exported.stdout)")
        let diff = try Inspector.run(["diff", source, back])
        #expect(diff.status == 0, "\(diff.stdout)")
    }

    @Test func exportsTheStateDictAsSafetensorsByExtension() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let cairn = scratch.file("model.ckpt")
        let weight = CheckpointTensor(float32: [0.5, -1, 2], shape: [3])
        try Checkpoint.save(.dictionary(["state_dict": .dictionary(["net": .dictionary(["bias": .tensor(weight)])]),
                                         "global_step": .int(3)]), to: cairn)
        let out = scratch.file("model.safetensors")
        let result = try Inspector.run(["convert", cairn.path, out.path])
        #expect(result.stdout.contains("safetensors, 1 tensors"), "\(result.stdout) \(result.stderr)")
        let read = try SafetensorsFile.read(out)
        #expect(try read["/net.bias"]?.tensor?.float32s() == [0.5, -1, 2])
    }

    @Test func aMissingSubtreeIsOneErrorLine() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let result = try Inspector.run(["convert", ForeignFormatTests.lightning("last.ckpt"),
                                        scratch.file("x.safetensors").path, "--subtree", "/nope"])
        #expect(result.status == 2)
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
}

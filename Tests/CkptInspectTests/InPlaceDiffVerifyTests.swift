import CairnCheckpoint
import CairnInterop
import CairnTestSupport
import Foundation
import Testing

/// `diff` and `verify` read foreign files in place, like every other reading command.
@Suite struct InPlaceDiffVerifyTests {
    static let weights: [Float] = [1, 2, 3, 4, 5, 6]

    /// A Cairn checkpoint and a safetensors file holding `/state_dict/net.weight`.
    static func pair(in scratch: ScratchDirectory, safetensorsWeights: [Float]) throws -> (cairn: String, safetensors: String) {
        let cairn = scratch.file("model.ckpt")
        try Checkpoint.save(.dictionary(["state_dict": .dictionary(["net.weight": .tensor(CheckpointTensor(float32: weights, shape: [2, 3]))])]),
                            to: cairn)
        let safetensors = scratch.file("model.safetensors")
        try SafetensorsFile.write(tensors: [("net.weight", CheckpointTensor(float32: safetensorsWeights, shape: [2, 3]))], to: safetensors)
        return (cairn.path, safetensors.path)
    }

    @Test func diffComparesTensorValuesAcrossFormatsBothWays() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        var changed = Self.weights
        changed[4] += 0.5
        let (cairn, safetensors) = try Self.pair(in: scratch, safetensorsWeights: changed)
        for (old, new) in [(cairn, safetensors), (safetensors, cairn)] {
            let result = try Inspector.run(["diff", old, new, "--no-color"])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stdout.contains("~ /state_dict/net.weight: max |Δ| 0.5"), "\(result.stdout)")
            #expect(result.stdout.contains("1 of 6 elements differ"), "\(result.stdout)")
            #expect(try Inspector.run(["diff", old, new, "--atol", "0.5"]).status == 0)
        }
        // Two foreign files, both in place.
        let torch = scratch.file("model.pt")
        try TorchCheckpoint.write(.dictionary(["state_dict": .dictionary(["net.weight": .tensor(CheckpointTensor(float32: Self.weights, shape: [2, 3]))])]),
                                  to: torch, lightning: false)
        #expect(try Inspector.run(["diff", torch.path, cairn]).status == 0)
        let foreign = try Inspector.run(["diff", torch.path, safetensors, "--no-color"])
        #expect(foreign.status == 1 && foreign.stdout.contains("1 of 6 elements differ"), "\(foreign.stdout)")
    }

    /// A torch zip member whose bytes no longer match its CRC-32 is named by verify (exit 1);
    /// other commands, which only look, still read the file.
    @Test func verifyChecksEveryZipMemberAgainstItsCRC() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("model.pt")
        let marker: [Float] = [1234.5, 2345.5, 3456.5, 4567.5]
        try TorchCheckpoint.write(.dictionary(["w": .tensor(CheckpointTensor(float32: marker, shape: [4]))]), to: url, lightning: false)
        let good = try Inspector.run(["verify", url.path, "--no-color"])
        #expect(good.status == 0)
        #expect(good.stdout.contains("OK (1 tensors, 16 B;") && good.stdout.contains("zip members CRC-checked)"), "\(good.stdout)")

        var bytes = [UInt8](try Data(contentsOf: url))
        let markerBytes = marker.withUnsafeBytes { Array($0) }
        let at = try #require((0...(bytes.count - markerBytes.count)).first { Array(bytes[$0..<($0 + markerBytes.count)]) == markerBytes })
        bytes[at] ^= 0x01
        try Data(bytes).write(to: url)
        let bad = try Inspector.run(["verify", url.path, "--no-color"])
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("BAD") && bad.stdout.contains("data/0: CRC-32 mismatch"), "\(bad.stdout)")
        #expect(try Inspector.run(["show", url.path]).status == 0)
    }

    /// verify reads a torch file's members through a small buffer, not the mapping, so its memory
    /// stays small whatever the tensor sizes.
    @Test func verifyOfALargeTorchFileStaysSmall() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("large.pt")
        let count = 64 << 20 // 256 MiB of F32
        let tensor = CheckpointTensor(dtype: .f32, shape: [count], bytes: [UInt8](repeating: 0x3F, count: count * 4))
        try TorchCheckpoint.write(.dictionary(["w": .tensor(tensor)]), to: url, lightning: false)
        let run = try MeasuredRun(Inspector.executable.url, ["verify", url.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("OK (1 tensors, 256.0 MiB;"), "\(run.stdout)")
        #expect(run.maxResidentKiB < 64 * 1024, "peak RSS \(run.maxResidentKiB) KiB")
    }
}

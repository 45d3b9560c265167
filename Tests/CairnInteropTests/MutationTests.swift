import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

/// A small deterministic generator, so a failing mutation can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// Flips, overwrites, inserts or deletes a few bytes of `bytes`.
func mutate(_ bytes: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
    var result = bytes
    for _ in 0..<Int.random(in: 1...4, using: &generator) where !result.isEmpty {
        let index = Int.random(in: 0..<result.count, using: &generator)
        switch Int.random(in: 0..<4, using: &generator) {
        case 0: result[index] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &generator)
        case 1: result[index] = UInt8.random(in: 0...255, using: &generator)
        case 2: result.insert(UInt8.random(in: 0...255, using: &generator), at: index)
        default: result.remove(at: index)
        }
    }
    return result
}

/// A poor man's fuzzer run on every test pass: mutated real inputs must end
/// in a value or a typed error, never a crash, hang or huge allocation.
@Suite struct MutationTests {
    @Test func mutatedLightningPicklesNeverCrash() throws {
        let archive = try TorchArchiveReader(url: lightningFixture("last.ckpt"))
        let pickle = try archive.member("data.pkl")
        var generator = SplitMix64(state: 0xCA1B)
        var refused = 0
        for _ in 0..<400 {
            let input = mutate(pickle, using: &generator)
            do {
                _ = try TorchCheckpoint.unpickle(input, file: "mutated.pkl") { pid in try archive.storage(persistentID: pid) }
            } catch is InteropError {
                refused += 1
            }
        }
        #expect(refused > 0)
    }

    @Test func mutatedSafetensorsNeverCrash() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("seed.safetensors")
        try SafetensorsFile.write(tensors: [
            ("a", CheckpointTensor(float32: [1, 2, 3, 4], shape: [2, 2])),
            ("b", CheckpointTensor(dtype: .i64, shape: [2], elements: [Int64(5), 6])),
        ], metadata: ["k": "v"], to: url)
        let seed = try [UInt8](Data(contentsOf: url))
        var generator = SplitMix64(state: 0x5AFE)
        var refused = 0
        for _ in 0..<2000 {
            do { _ = try SafetensorsFile.parse(mutate(seed, using: &generator), file: "mutated.safetensors") } catch is InteropError {
                refused += 1
            }
        }
        #expect(refused > 0)
    }
}

import CairnTestSupport
import Foundation
import Testing
@testable import CairnCheckpoint

struct CounterState: Codable, Equatable {
    var batches: Int
    var seen: [String: Int]
    var losses: [Double]
    var label: String?
    var blob: Data
    var flags: [Bool]
    var byParameter: [Int: UInt8]
    var inner: Inner

    struct Inner: Codable, Equatable {
        var learningRate: Float
        var names: [String]
    }
}

@Suite struct CodableAndPointerTests {
    let sample = CounterState(
        batches: 12, seen: ["train": 3, "val": 1], losses: [0.5, 0.25], label: nil, blob: Data([9, 8, 7]),
        flags: [true, false], byParameter: [0: 1, 7: 200], inner: .init(learningRate: 0.001, names: ["a", "b"]))

    @Test func codableStructRoundTripsThroughAFile() throws {
        let encoded = try CheckpointEncoder().encode(sample)
        #expect(encoded["/batches"].map { if case .int(12) = $0 { true } else { false } } == true)
        #expect(encoded["/byParameter/7"].map { if case .int(200) = $0 { true } else { false } } == true)
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("state.ckpt")
        try Checkpoint.save(.dictionary(["callbacks": .dictionary(["Counter<\"what\":\"batches\">": encoded])]), to: url)
        let loaded = try Checkpoint.load(url)
        let subtree = try #require(loaded[JSONPointer(parsing: "/callbacks/Counter<\"what\":\"batches\">")])
        #expect(try CheckpointDecoder().decode(CounterState.self, from: subtree) == sample)
    }

    @Test func decodingTheWrongShapeThrowsWithThePath() throws {
        let tree: CheckpointValue = .dictionary(["batches": .string("twelve")])
        #expect {
            _ = try CheckpointDecoder().decode(CounterState.self, from: tree)
        } throws: { error in
            guard case let CheckpointError.coding(path, _) = error else { return false }
            return path == "/batches"
        }
        #expect(throws: CheckpointError.self) { _ = try CheckpointDecoder().decode(UInt8.self, from: .int(300)) }
        #expect(throws: CheckpointError.self) { _ = try CheckpointEncoder().encode(UInt64.max) }
    }

    @Test func pointersParseFormatAndEscape() throws {
        let pointer = try JSONPointer(parsing: "/a~1b/c~0d/0/")
        #expect(pointer.tokens == ["a/b", "c~d", "0", ""])
        #expect(pointer.description == "/a~1b/c~0d/0/")
        #expect(try JSONPointer(parsing: "") == .root)
        #expect(throws: CheckpointError.self) { try JSONPointer(parsing: "no-slash") }
        #expect(throws: CheckpointError.self) { try JSONPointer(parsing: "/bad~2escape") }
        #expect(throws: CheckpointError.self) { try JSONPointer(parsing: "/trailing~") }
    }

    @Test func lookupFollowsDictionariesListsAndIntegerKeys() {
        let tree: CheckpointValue = .dictionary([
            "optimizer_states": .list([.dictionary(["state": .dictionary([.int(3): .dictionary(["step": .int(5)])])])]),
        ])
        #expect(tree["/optimizer_states/0/state/3/step"].map { if case .int(5) = $0 { true } else { false } } == true)
        #expect(tree["/optimizer_states/1"] == nil)
        #expect(tree["/optimizer_states/00"] == nil)
        #expect(tree["/missing"] == nil)
    }
}

/// A subclass that stores its superclass's state under `super`.
class BaseState: Codable {
    var step = 3
}

final class DerivedState: BaseState {
    var name = "derived"
    enum CodingKeys: String, CodingKey { case name }

    override init() { super.init() }

    required init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        try super.init(from: container.superDecoder())
    }

    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try super.encode(to: container.superEncoder())
    }
}

@Test func superEncoderUsesTheSuperKey() throws {
    let state = DerivedState()
    state.step = 9
    let encoded = try CheckpointEncoder().encode(state)
    #expect(encoded["/super/step"].map { if case .int(9) = $0 { true } else { false } } == true)
    let decoded = try CheckpointDecoder().decode(DerivedState.self, from: encoded)
    #expect(decoded.step == 9 && decoded.name == "derived")
}

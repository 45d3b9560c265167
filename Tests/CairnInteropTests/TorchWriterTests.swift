import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

/// The first difference between two trees (tensor bytes included), or `nil`.
func treeDifference(_ lhs: CheckpointValue, _ rhs: CheckpointValue?, at path: String = "") throws -> String? {
    guard let rhs else { return "\(path): missing" }
    switch (lhs, rhs) {
    case let (.dictionary(a), .dictionary(b)):
        guard Array(a.keys) == Array(b.keys) else { return "\(path): keys \(Array(a.keys)) vs \(Array(b.keys))" }
        for (key, value) in a { if let found = try treeDifference(value, b[key], at: "\(path)/\(key)") { return found } }
        return nil
    case let (.list(a), .list(b)):
        guard a.count == b.count else { return "\(path): \(a.count) vs \(b.count) items" }
        for (index, pair) in zip(a, b).enumerated() { if let found = try treeDifference(pair.0, pair.1, at: "\(path)/\(index)") { return found } }
        return nil
    case let (.tensor(a), .tensor(b)):
        let (aBytes, bBytes) = (try a.bytes(), try b.bytes())
        return a.dtype == b.dtype && a.shape == b.shape && aBytes == bBytes ? nil : "\(path): tensors differ"
    case let (.int(a), .int(b)): return a == b ? nil : "\(path): \(a) vs \(b)"
    case let (.double(a), .double(b)): return a.bitPattern == b.bitPattern ? nil : "\(path): \(a) vs \(b)"
    case let (.string(a), .string(b)): return a == b ? nil : "\(path): \(a) vs \(b)"
    case let (.bool(a), .bool(b)): return a == b ? nil : "\(path): \(a) vs \(b)"
    case let (.bytes(a), .bytes(b)): return a == b ? nil : "\(path): bytes differ"
    case (.null, .null): return nil
    default: return "\(path): \(lhs) vs \(rhs)"
    }
}

@Suite struct TorchWriterTests {
    @Test func lightningCheckpointSurvivesExportAndImport() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let original = try TorchCheckpoint.read(lightningFixture("last.ckpt"))
        let url = scratch.file("again.ckpt")
        try TorchCheckpoint.write(original, to: url)
        let again = try TorchCheckpoint.read(url)
        #expect(try treeDifference(original, again) == nil)
    }

    @Test func membersAreStoredAndSixtyFourByteAligned() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("small.ckpt")
        let tree = CheckpointValue.dictionary([
            "state_dict": .dictionary(["w": .tensor(CheckpointTensor(float32: [1, 2, 3], shape: [3]))]),
            "blob": .bytes([0, 200, 255]), "big": .int(-1 << 40), "ratio": .double(0.1),
        ])
        try TorchCheckpoint.write(tree, to: url)
        let bytes = try [UInt8](Data(contentsOf: url))
        func field(_ offset: Int, _ width: Int) -> Int { (0..<width).reduce(0) { $0 | Int(bytes[offset + $1]) << (8 * $1) } }
        // Walk the local headers, which the writer lays out back to back.
        var names: [String] = []
        var offset = 0
        while offset + 30 <= bytes.count, field(offset, 4) == 0x0403_4b50 {
            #expect(field(offset + 8, 2) == 0, "member is not stored")
            let nameLength = field(offset + 26, 2), extraLength = field(offset + 28, 2)
            let name = String(decoding: bytes[(offset + 30)..<(offset + 30 + nameLength)], as: UTF8.self)
            names.append(name)
            let dataStart = offset + 30 + nameLength + extraLength
            #expect(dataStart % 64 == 0, "\(name) data is not 64-byte aligned")
            offset = dataStart + field(offset + 22, 4)
        }
        #expect(names.first == "archive/data.pkl")
        #expect(names.contains("archive/data/0") && names.contains("archive/version") && names.contains("archive/byteorder"))
        let back = try TorchCheckpoint.read(url)
        for key in ["epoch", "global_step", "pytorch-lightning_version", "loops", "callbacks", "optimizer_states", "lr_schedulers"] {
            #expect(back["/\(key)"] != nil, "missing \(key)")
        }
        #expect(try treeDifference(tree["/state_dict"]!, back["/state_dict"]) == nil)
        #expect(try treeDifference(.bytes([0, 200, 255]), back["/blob"]) == nil)
        #expect(try treeDifference(.int(-1 << 40), back["/big"]) == nil)
        #expect(try treeDifference(.double(0.1), back["/ratio"]) == nil)
    }

    @Test(.needsPython)
    func cairnWrittenCheckpointLoadsWithTorchWeightsOnly() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let original = try TorchCheckpoint.read(lightningFixture("last.ckpt"))
        let url = scratch.file("cairn.ckpt")
        try TorchCheckpoint.write(original, to: url)
        let summary = try #require(try InteropPython.runJSON("roundtrip.py", ["summarize-torch", url.path]) as? [String: Any])
        let top = try #require(summary["dict"] as? [[Any]])
        let keys = top.compactMap { $0.first as? String }
        #expect(Array(keys.prefix(4)) == ["epoch", "global_step", "pytorch-lightning_version", "state_dict"])
        let stateDict = try #require(top.first { $0.first as? String == "state_dict" }?.last as? [String: Any])
        let weightEntry = try #require((stateDict["dict"] as? [[Any]])?.first)
        #expect(weightEntry.first as? String == "net.0.weight")
        let weight = try #require((weightEntry.last as? [String: Any])?["tensor"] as? [String: Any])
        let expected = try #require(original["/state_dict/net.0.weight"]?.tensor)
        let values = try #require(weight["values"] as? [Double])
        let expectedValues = try expected.float32s()
        // Foundation's JSON parser may be off in a double's last bit; a float32 is far coarser.
        #expect(values.count == expectedValues.count)
        #expect(zip(values, expectedValues).allSatisfy { Float($0) == $1 })
        #expect(weight["shape"] as? [Int] == [32, 64])
    }
}

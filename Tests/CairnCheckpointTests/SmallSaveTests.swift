import CairnTestSupport
import Foundation
import OrderedCollections
import Testing
@testable import CairnCheckpoint

/// Small states are built in memory from a template and their node rows bound
/// from one byte arena, several rows per INSERT; these tests hold the file to
/// what the format article promises, row by row.
@Suite struct SmallSaveTests {
    /// `nodes` rows as (id, parent_id, position, key, kind, value, path), in id order.
    func nodeRows(of url: URL) throws -> [[String]] {
        let connection = try SQLiteConnection(file: url.path, mode: .readOnly)
        defer { try? connection.close() }
        let statement = try connection.prepare("""
            SELECT id, parent_id, position, typeof(key) || ':' || quote(key), kind, typeof(value) || ':' || quote(value), path
            FROM nodes WHERE snapshot_id = 1 ORDER BY id
            """)
        var rows: [[String]] = []
        while try statement.step() {
            rows.append((0..<7).map { statement.isNull(Int32($0)) ? "NULL" : statement.text(Int32($0)) ?? "?" })
        }
        return rows
    }

    func integrityCheck(of url: URL) throws -> String? {
        let connection = try SQLiteConnection(file: url.path, mode: .readOnly)
        defer { try? connection.close() }
        let statement = try connection.prepare("PRAGMA integrity_check")
        return try statement.step() ? statement.text(0) : nil
    }

    @Test func nodeRowsHoldEscapedPathsAndTypedKeys() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("small.ckpt")
        let tree: CheckpointValue = .dictionary([
            "a/b": .dictionary(["~x": .int(1), "": .string("")]),
            .int(-4): .list([.double(0.5), .bool(false), .null, .bytes([7])]),
            "w": .tensor(CheckpointTensor(float32: [1, 2], shape: [2])),
        ])
        try Checkpoint.save(tree, to: url)
        #expect(try integrityCheck(of: url) == "ok")
        let rows = try nodeRows(of: url)
        #expect(rows.map { $0[6] } == ["", "/a~1b", "/a~1b/~0x", "/a~1b/", "/-4", "/-4/0", "/-4/1", "/-4/2", "/-4/3", "/w"])
        #expect(rows[3] == ["3", "1", "1", "text:''", "string", "text:''", "/a~1b/"])
        #expect(rows[4] == ["4", "0", "1", "integer:-4", "list", "null:NULL", "/-4"])
        #expect(rows[5][3...5] == ["null:NULL", "double", "real:0.5"])
        #expect(rows[8][4...5] == ["bytes", "blob:X'07'"])
        let reader = try Checkpoint.open(url)
        #expect(reader.tensorInfos.map(\.path.description) == ["/w"])
        #expect(reader.metadata.createdAt.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil)
        #expect(try firstDifference(tree, reader.materializedTree()) == nil)
    }

    /// Trees whose node count is below, at and past multiples of the rows per INSERT.
    @Test(arguments: [0, 6, 7, 8, 15, 40])
    func everyNodeCountRoundTrips(leaves: Int) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("count.ckpt")
        var entries = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for index in 0..<leaves { entries[.string("k\(index)")] = .int(Int64(index) * 3) }
        let tree = CheckpointValue.dictionary(entries)
        try Checkpoint.save(tree, to: url)
        #expect(try nodeRows(of: url).count == leaves + 1)
        #expect(try firstDifference(tree, Checkpoint.load(url)) == nil)
    }

    /// The in-memory path and the in-place path (large states) write the same rows.
    @Test func smallAndLargeSavesWriteTheSameNodeRows() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        func tree(tensorBytes: Int) -> CheckpointValue {
            .dictionary([
                "epoch": .int(2), "loops": .dictionary(["fit": .list([.int(1), .string("ready")])]),
                "state_dict": .dictionary(["w": .tensor(CheckpointTensor(dtype: .u8, shape: [tensorBytes], bytes: patternBytes(tensorBytes, seed: 1)))]),
            ])
        }
        let small = scratch.file("small.ckpt"), large = scratch.file("large.ckpt")
        try Checkpoint.save(tree(tensorBytes: 1000), to: small)
        try Checkpoint.save(tree(tensorBytes: CheckpointSchema.smallStateBytes), to: large)
        #expect(try nodeRows(of: small) == nodeRows(of: large))
        #expect(try integrityCheck(of: small) == "ok")
        #expect(try integrityCheck(of: large) == "ok")
        #expect(try Checkpoint.open(small).metadata.epoch == 2)
    }

    /// Large byte strings outside tensors take the in-place path; the file is the same format.
    @Test func largeByteStringsAreNotBuiltInMemory() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("bytes.ckpt")
        let blob = patternBytes(CheckpointSchema.smallStateBytes, seed: 5)
        let tree: CheckpointValue = .dictionary(["blob": .bytes(blob), "w": .tensor(CheckpointTensor(float32: [3], shape: [1]))])
        #expect(tree.payloadSizes == (tensorBytes: 4, otherBytes: blob.count))
        try Checkpoint.save(tree, to: url)
        #expect(try integrityCheck(of: url) == "ok")
        #expect(try firstDifference(tree, Checkpoint.load(url)) == nil)
    }
}

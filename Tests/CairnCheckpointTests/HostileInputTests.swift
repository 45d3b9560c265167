import CairnTestSupport
import Foundation
import Testing
@testable import CairnCheckpoint

/// Broken and hostile files must give a typed error naming the file, never a crash.
@Suite struct HostileInputTests {
    let weightBytes = patternBytes(12_000, seed: 5)

    /// A valid checkpoint with one multi-chunk tensor, a nested dictionary and a scalar.
    func makeValidFile(in scratch: ScratchDirectory, name: String = "valid.ckpt") throws -> URL {
        let url = scratch.file(name)
        let tree: CheckpointValue = .dictionary([
            "epoch": .int(3),
            "state_dict": .dictionary(["layer.weight": .tensor(CheckpointTensor(dtype: .f32, shape: [30, 100], bytes: weightBytes))]),
            "loops": .dictionary(["fit": .dictionary(["batches": .int(7)])]),
        ])
        try Checkpoint.save(tree, to: url, options: CheckpointSaveOptions(chunkSize: 4096))
        return url
    }

    /// Runs SQL against a checkpoint to damage it the way a hostile writer could.
    func tamper(_ url: URL, _ sql: String) throws {
        let connection = try SQLiteConnection(file: url.path, mode: .createReadWrite)
        try connection.execute(sql)
        try connection.close()
    }

    /// Damages a fresh valid file with `sql`, then expects reading it to fail as `matches` says.
    func expectFailure(afterTampering sql: String, sourceLocation: SourceLocation = #_sourceLocation, _ matches: (CheckpointError) -> Bool) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = try makeValidFile(in: scratch)
        try tamper(url, sql)
        expectFailure(url, sourceLocation: sourceLocation, matches)
    }

    /// Opens and fully reads `url`, expecting a ``CheckpointError`` that `matches`.
    func expectFailure(_ url: URL, sourceLocation: SourceLocation = #_sourceLocation, _ matches: (CheckpointError) -> Bool) {
        do {
            _ = try Checkpoint.open(url).materializedTree()
            Issue.record("reading \(url.lastPathComponent) succeeded", sourceLocation: sourceLocation)
        } catch let error as CheckpointError {
            #expect(matches(error), "unexpected error: \(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains(url.lastPathComponent), "error does not name the file: \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("untyped error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func emptyFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("empty.ckpt")
        _ = FileManager.default.createFile(atPath: url.path, contents: Data())
        expectFailure(url) { if case .notACheckpoint = $0 { true } else { false } }
    }

    @Test func missingFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        expectFailure(scratch.file("absent.ckpt")) { if case .io = $0 { true } else { false } }
    }

    @Test func randomBytes() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("random.ckpt")
        var generator = SystemRandomNumberGenerator()
        _ = FileManager.default.createFile(atPath: url.path, contents: Data((0..<200_000).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        expectFailure(url) { if case .notACheckpoint = $0 { true } else { false } }
    }

    @Test func truncatedFiles() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let original = try Data(contentsOf: makeValidFile(in: scratch))
        for fraction in [0.1, 0.3, 0.5, 0.7, 0.9] {
            let url = scratch.file("truncated-\(fraction).ckpt")
            try original.prefix(Int(Double(original.count) * fraction)).write(to: url)
            expectFailure(url) { _ in true }
        }
    }

    @Test func flippedBitInsideATensorChunk() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = try makeValidFile(in: scratch)
        #expect(try damage(url, where: Data(weightBytes[6000..<6064]), atOffset: 10) >= 1)
        expectFailure(url) { error in
            guard case let .checksumMismatch(_, path, _, _) = error else { return false }
            return path == "/state_dict/layer.weight"
        }
        // Opting out of verification reads the damaged bytes without complaint.
        let unchecked = try Checkpoint.open(url, options: CheckpointLoadOptions(verifyChecksums: false)).materializedTree()
        #expect(try unchecked["/state_dict/layer.weight"]?.tensor?.bytes() != weightBytes)
    }

    @Test func sqliteFileThatIsNotACheckpoint() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("other.db")
        try tamper(url, "CREATE TABLE people(name TEXT); INSERT INTO people VALUES ('ada');")
        expectFailure(url) { if case .notACheckpoint = $0 { true } else { false } }
    }

    @Test func newerFormatVersionIsRefusedNamingBothVersions() throws {
        try expectFailure(afterTampering: "PRAGMA user_version=7;") { error in
            guard case let .newerFormatVersion(_, fileVersion, supported) = error else { return false }
            return fileVersion == 7 && supported == 1 && error.description.contains("7") && error.description.contains("1")
        }
    }

    @Test(arguments: [
        "UPDATE tensors SET byte_count = byte_count + 4",
        "UPDATE tensors SET shape = '[1000000, 1000000]', byte_count = 4000000000000",
        "UPDATE tensors SET shape = '[9223372036854775807, 4]'",
        "UPDATE tensors SET shape = '[-3, 4]'",
        "UPDATE tensors SET shape = 'not json'",
        "UPDATE tensors SET dtype = 'F128'",
        "UPDATE tensors SET sha256 = 'short'",
        "DELETE FROM chunks WHERE id = (SELECT max(id) FROM chunks)",
        "DELETE FROM tensor_chunks WHERE chunk_index = 1",
        "UPDATE chunks SET data = zeroblob(10) WHERE id = 1",
    ])
    func inconsistentTensorRowsNameTheTensor(sql: String) throws {
        try expectFailure(afterTampering: sql) { error in
            guard case let .corrupt(_, path, _) = error else { return false }
            return path == "/state_dict/layer.weight"
        }
    }

    @Test func cycleInTheTree() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = try makeValidFile(in: scratch)
        // Hang /loops under its own child /loops/fit: both become unreachable.
        try tamper(url, """
            UPDATE nodes SET parent_id = (SELECT id FROM nodes WHERE path = '/loops/fit') WHERE path = '/loops';
            """)
        expectFailure(url) { if case .corrupt = $0 { true } else { false } }
    }

    @Test func absurdDepth() throws {
        try expectFailure(afterTampering: """
            WITH RECURSIVE chain(n) AS (SELECT 1000 UNION ALL SELECT n + 1 FROM chain WHERE n < 1500)
            INSERT INTO nodes(snapshot_id, id, parent_id, position, key, kind, value, path)
            SELECT 1, n, CASE n WHEN 1000 THEN 0 ELSE n - 1 END, CASE n WHEN 1000 THEN 99 ELSE 0 END, 'deep', 'dict', NULL, '' FROM chain;
            """) { error in
            guard case let .corrupt(_, _, reason) = error else { return false }
            return reason.contains("deeper")
        }
    }

    @Test func valueOfTheWrongStorageClass() throws {
        try expectFailure(afterTampering: "UPDATE nodes SET value = 'seven' WHERE path = '/loops/fit/batches'") { error in
            guard case let .corrupt(_, path, _) = error else { return false }
            return path == "/loops/fit/batches"
        }
    }

    @Test func missingSnapshotAndDroppedTables() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let noSnapshot = try makeValidFile(in: scratch, name: "nosnap.ckpt")
        try tamper(noSnapshot, "DELETE FROM snapshots")
        expectFailure(noSnapshot) { if case .corrupt = $0 { true } else { false } }
        let noNodes = try makeValidFile(in: scratch, name: "nonodes.ckpt")
        try tamper(noNodes, "DROP TABLE nodes")
        expectFailure(noNodes) { if case .sqlite = $0 { true } else { false } }
    }
}

@Suite struct LazyVerificationTests {
    @Test func lazyHandleAndCallerBufferReadsVerifyChecksums() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("lazy.ckpt")
        let good = patternBytes(9000, seed: 11), damaged = patternBytes(9000, seed: 12)
        try Checkpoint.save(.dictionary(["good": .tensor(.init(dtype: .u8, shape: [9000], bytes: good)),
                                         "bad": .tensor(.init(dtype: .u8, shape: [9000], bytes: damaged))]),
                            to: url, options: CheckpointSaveOptions(chunkSize: 2048))
        #expect(try damage(url, where: Data(damaged[4000..<4064]), mask: 0x80) >= 1)

        let reader = try Checkpoint.open(url)
        let tree = try reader.tree()
        #expect(try tree["/good"]?.tensor?.bytes() == good)
        #expect(throws: CheckpointError.self) { _ = try tree["/bad"]?.tensor?.bytes() }
        var first = [UInt8](repeating: 0, count: 9000), second = first
        #expect {
            try first.withUnsafeMutableBytes { a in
                try second.withUnsafeMutableBytes { b in try reader.readTensors([(["good"], a), (["bad"], b)]) }
            }
        } throws: { error in
            guard case let CheckpointError.checksumMismatch(_, path, _, _) = error else { return false }
            return path == "/bad"
        }
        #expect(first == good)
    }
}

extension HostileInputTests {
    @Test func fileRemovedAfterOpenStillReads() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = try makeValidFile(in: scratch)
        let reader = try Checkpoint.open(url)
        // The open descriptor keeps the data: a path that vanishes mid-read changes nothing.
        try FileManager.default.removeItem(at: url)
        #expect(try reader.tensorBytes(at: ["state_dict", "layer.weight"]) == weightBytes)
    }

    @Test func fileShrunkAfterOpenIsATypedError() throws {
        for keptFraction in [0.0, 0.25, 0.6] {
            let scratch = try ScratchDirectory()
            defer { scratch.cleanUp() }
            let url = try makeValidFile(in: scratch)
            let reader = try Checkpoint.open(url)
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
            #expect(truncate(url.path, off_t(Double(size) * keptFraction)) == 0)
            do {
                _ = try reader.materializedTree()
                Issue.record("reading a file cut to \(keptFraction) of its size succeeded")
            } catch let error as CheckpointError {
                #expect(error.description.contains(url.lastPathComponent), "\(error)")
            }
        }
    }

    @Test func specialFilesAreRefusedByKind() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let fifo = scratch.file("pipe.ckpt")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        expectFailure(fifo) { $0 == .notARegularFile(file: fifo.path, kind: "FIFO") }
        expectFailure(scratch.url) { $0 == .notARegularFile(file: scratch.url.path, kind: "directory") }
    }
}

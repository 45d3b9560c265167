import CairnTestSupport
import Dispatch
import Foundation
import OrderedCollections
import Testing
@testable import CairnCheckpoint

/// Small saves reuse one in-memory database per thread, reset to the empty
/// template between saves: nothing of an earlier save may leak into a later file.
@Suite struct ReusedMemoryDatabaseTests {
    func tree(tensors: Int, seed: Int) -> CheckpointValue {
        var weights = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for index in 0..<tensors {
            weights[.string("w\(index)")] = .tensor(CheckpointTensor(dtype: .u8, shape: [3000], bytes: patternBytes(3000, seed: UInt8(truncatingIfNeeded: seed * 31 + index))))
        }
        return .dictionary(["epoch": .int(Int64(seed)), "state_dict": .dictionary(weights)])
    }

    func count(_ table: String, in url: URL) throws -> Int64? {
        let connection = try SQLiteConnection(file: url.path, mode: .readOnly)
        defer { try? connection.close() }
        return try connection.integer("SELECT count(*) FROM \(table)")
    }

    func integrityCheck(of url: URL) throws -> String? {
        let connection = try SQLiteConnection(file: url.path, mode: .readOnly)
        defer { try? connection.close() }
        let statement = try connection.prepare("PRAGMA integrity_check")
        return try statement.step() ? statement.text(0) : nil
    }

    func fileSize(_ url: URL) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? -1
    }

    @Test func aSmallSaveAfterALargerOneHoldsOnlyItsOwnRows() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let small = tree(tensors: 2, seed: 1), large = tree(tensors: 30, seed: 2)
        let first = scratch.file("first.ckpt"), big = scratch.file("big.ckpt"), again = scratch.file("again.ckpt")
        try Checkpoint.save(small, to: first)
        try Checkpoint.save(large, to: big)
        try Checkpoint.save(small, to: again)
        for url in [first, big, again] { #expect(try integrityCheck(of: url) == "ok") }
        #expect(try fileSize(again) == fileSize(first))
        #expect(try count("chunks", in: again) == 2)
        #expect(try count("tensors", in: big) == 30)
        #expect(try count("snapshots", in: again) == 1)
        #expect(try count("metadata", in: again) == 2)
        #expect(try firstDifference(small, Checkpoint.load(again)) == nil)
        #expect(try firstDifference(large, Checkpoint.load(big)) == nil)
        #expect(try Checkpoint.open(again).metadata.epoch == 1)
    }

    @Test func aFailedSaveDoesNotSpoilTheNext() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let missing = scratch.file("no-such-directory/x.ckpt")
        #expect(throws: CheckpointError.self) { try Checkpoint.save(tree(tensors: 3, seed: 4), to: missing) }
        let url = scratch.file("after.ckpt")
        try Checkpoint.save(tree(tensors: 1, seed: 5), to: url)
        #expect(try integrityCheck(of: url) == "ok")
        #expect(try count("chunks", in: url) == 1)
    }

    @Test func savesFromSeveralThreadsAtOnceStayApart() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for round in 0..<5 {
                let seed = thread * 10 + round, url = scratch.file("t\(thread)-\(round).ckpt")
                do {
                    let expected = tree(tensors: 1 + seed % 4, seed: seed)
                    try Checkpoint.save(expected, to: url)
                    if try integrityCheck(of: url) != "ok" || firstDifference(expected, Checkpoint.load(url)) != nil {
                        failures.add("\(url.lastPathComponent) differs")
                    }
                } catch {
                    failures.add("\(url.lastPathComponent): \(error)")
                }
            }
        }
        #expect(failures.messages.isEmpty)
    }
}

/// Collects messages from several threads.
final class Failures: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [String] = []
    func add(_ message: String) { lock.withLock { collected.append(message) } }
    var messages: [String] { lock.withLock { collected } }
}

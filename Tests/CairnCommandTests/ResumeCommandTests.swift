import Cairn
import CairnTestSupport
import Foundation
import Testing

/// Kills real `cairn fit` runs and resumes them: the end state must match an uninterrupted run bit for bit.
@Suite(.serialized) struct ResumeCommandTests {
    static let cairn = FitCommandTests.cairn
    static let digits = FitCommandTests.digits

    static func fitArguments(root: URL, maxSteps: Int, everyNTrainSteps: Int) -> [String] {
        ["fit", "--data", digits, "--max-steps", String(maxSteps), "--every-n-train-steps", String(everyNTrainSteps),
         "--default-root-dir", root.path, "--no-progress-bar"]
    }

    /// Every tensor under state_dict and optimizer_states, by pointer, as raw bytes.
    static func trainingTensors(_ root: URL) throws -> [String: [UInt8]] {
        let tree = try Checkpoint.load(root.appendingPathComponent("checkpoints/last.ckpt"))
        var found: [String: [UInt8]] = [:]
        for section in ["state_dict", "optimizer_states"] {
            let subtree = try #require(tree["/\(section)"])
            for (path, tensor) in subtree.tensors() { found["/\(section)\(path)"] = try tensor.bytes() }
        }
        return found
    }

    static func uninterrupted(maxSteps: Int, every: Int) throws -> (URL, [String: [UInt8]]) {
        let root = try FitCommandTests.scratchDirectory()
        let result = try cairn.run(fitArguments(root: root, maxSteps: maxSteps, everyNTrainSteps: every))
        #expect(result.status == 0, "\(result.stderr)")
        return (root, try trainingTensors(root))
    }

    @Test func killedAtARandomMomentThenResumedFromLastIsBitExact() throws {
        let (reference, expected) = try Self.uninterrupted(maxSteps: 60, every: 5)
        defer { try? FileManager.default.removeItem(at: reference) }
        #expect(expected.count > 10)

        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.killAtARandomMoment(Self.fitArguments(root: root, maxSteps: 60, everyNTrainSteps: 5), root: root, latestMicroseconds: 150_000)

        var resume = Self.fitArguments(root: root, maxSteps: 60, everyNTrainSteps: 5)
        resume += ["--ckpt-path", "last"]
        let resumed = try Self.cairn.run(resume)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let actual = try Self.trainingTensors(root)
        #expect(actual.keys.sorted() == expected.keys.sorted())
        for (path, bytes) in expected { #expect(actual[path] == bytes, "\(path) differs after resuming") }
    }

    /// Starts `cairn` with `arguments`, waits for its first `last.ckpt` under `root`, then
    /// SIGKILLs it up to `latestMicroseconds` later; the delay is far shorter than the run, so the
    /// kill lands mid-training (checked).
    static func killAtARandomMoment(_ arguments: [String], root: URL, latestMicroseconds: UInt32) throws {
        let process = cairn.process(arguments)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let last = root.appendingPathComponent("checkpoints/last.ckpt")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: last.path), process.isRunning, Date() < deadline { usleep(1000) }
        #expect(FileManager.default.fileExists(atPath: last.path), "no last.ckpt before the run ended")
        usleep(UInt32.random(in: 0...latestMicroseconds))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run ended before it was killed")
    }

    @Test func resumingMidEpochIsBitExact() throws {
        let (reference, expected) = try Self.uninterrupted(maxSteps: 60, every: 5)
        defer { try? FileManager.default.removeItem(at: reference) }

        // Stops at step 33; last.ckpt is then step 30, ten batches into the second epoch.
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let stopped = try Self.cairn.run(Self.fitArguments(root: root, maxSteps: 33, everyNTrainSteps: 5))
        #expect(stopped.status == 0, "\(stopped.stderr)")
        let midEpoch = try Checkpoint.load(root.appendingPathComponent("checkpoints/last.ckpt"))
        guard case .int(30)? = midEpoch["/global_step"] else {
            Issue.record("last.ckpt is not at step 30")
            return
        }
        let resumed = try Self.cairn.run(Self.fitArguments(root: root, maxSteps: 60, everyNTrainSteps: 5) + ["--ckpt-path", "last"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Self.trainingTensors(root) == expected)
    }
}

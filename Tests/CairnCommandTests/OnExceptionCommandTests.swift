import Cairn
import CairnTestSupport
import Foundation
import Testing

/// Ctrl-C on a real `cairn fit` with an OnExceptionCheckpoint: the file is written at the
/// interrupted step, `--ckpt-path last` resumes from it, and the clean finish removes it.
@Suite(.serialized) struct OnExceptionCommandTests {
    static let cairn = FitCommandTests.cairn

    @Test func sigintWritesTheOnExceptionCheckpointAndResumeRemovesIt() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let checkpoints = root.appendingPathComponent("checkpoints")
        let arguments = ["fit", "--data", FitCommandTests.digits, "--max-epochs", "50", "--every-n-train-steps", "5",
                         "--default-root-dir", root.path, "--no-progress-bar",
                         "--callback", "OnExceptionCheckpoint:dirpath=\(checkpoints.path)"]
        let process = Self.cairn.process(arguments)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let last = checkpoints.appendingPathComponent("last.ckpt")
        var deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: last.path), process.isRunning, Date() < deadline { usleep(1000) }
        #expect(process.isRunning, "the run ended before it was interrupted")

        kill(process.processIdentifier, SIGINT)
        deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(1000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)

        let onException = checkpoints.appendingPathComponent("on_exception.ckpt")
        let interruptedStep = try #require(try Checkpoint.open(onException).metadata.globalStep)
        let lastStep = try #require(try Checkpoint.open(last).metadata.globalStep)
        #expect(interruptedStep >= lastStep)

        // last.ckpt is written every five steps, so stop on one.
        let finalStep = (interruptedStep / 5 + 2) * 5
        let resumed = try Self.cairn.run(arguments + ["--max-steps", String(finalStep), "--ckpt-path", "last"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: onException.path), "a clean finish removes the on-exception file")
        #expect(try Checkpoint.open(last).metadata.globalStep == finalStep)
    }
}

import Cairn
import CairnTestSupport
import Foundation
import Testing

/// Ctrl-C on a real `cairn fit`: it stops after the batch in flight, exits 130, and last.ckpt resumes.
@Suite(.serialized) struct InterruptCommandTests {
    static let cairn = FitCommandTests.cairn

    @Test func sigintExits130AndLastCheckpointResumes() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let arguments = ["fit", "--data", FitCommandTests.digits, "--max-epochs", "50", "--every-n-train-steps", "5",
                         "--default-root-dir", root.path, "--no-progress-bar"]
        let process = Self.cairn.process(arguments)
        let stderrFile = root.appendingPathComponent("stderr.txt")
        FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        try process.run()
        let last = root.appendingPathComponent("checkpoints/last.ckpt")
        var deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: last.path), process.isRunning, Date() < deadline { usleep(1000) }
        #expect(FileManager.default.fileExists(atPath: last.path), "no last.ckpt before the run ended")
        #expect(process.isRunning, "the run ended before it was interrupted")

        kill(process.processIdentifier, SIGINT)
        deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(1000) }
        #expect(!process.isRunning, "cairn fit still running 5 s after SIGINT")
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 130)
        let stderr = try String(contentsOf: stderrFile, encoding: .utf8)
        #expect(stderr.contains("fit interrupted"), "\(stderr)")

        let interruptedStep = try #require(try Checkpoint.open(last).metadata.globalStep)
        #expect(interruptedStep > 0)
        let resumed = try Self.cairn.run(arguments + ["--max-steps", String(interruptedStep + 5), "--ckpt-path", "last"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try Checkpoint.open(last).metadata.globalStep == interruptedStep + 5)
    }
}

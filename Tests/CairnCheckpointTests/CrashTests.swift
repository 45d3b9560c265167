import Foundation
import Testing
@testable import CairnCheckpoint

/// Kills a real writer process with SIGKILL at random moments: after every
/// kill the target must hold a complete checkpoint (or none yet).
@Suite struct CrashTests {
    /// `swift test` builds every product into the directory holding the test bundle.
    static func crashWriterURL() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["CAIRN_CRASH_WRITER"] {
            return URL(fileURLWithPath: override)
        }
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On platforms where tests live in a bundle, climb out of it.
        while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("CheckpointCrashWriter")
    }

    @Test func fileSurvivesSIGKILLAtRandomMoments() throws {
        let writer = try Self.crashWriterURL()
        try #require(FileManager.default.isExecutableFile(atPath: writer.path), "build CheckpointCrashWriter first (swift build)")
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let target = scratch.file("crash.ckpt")
        let kills = 55
        var epochsSeen: Set<Int64> = []
        var generator = SystemRandomNumberGenerator()
        for kill in 0..<kills {
            let process = Process()
            process.executableURL = writer
            process.arguments = [target.path]
            process.standardError = FileHandle.standardError
            try process.run()
            // Later kills wait longer so that the first saves finish and
            // later ones are interrupted mid-write.
            let delay = UInt32.random(in: 5_000...(kill < 5 ? 400_000 : 150_000), using: &generator)
            usleep(delay)
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "writer exited by itself (status \(process.terminationStatus))")
            guard FileManager.default.fileExists(atPath: target.path) else { continue }
            do {
                let reader = try Checkpoint.open(target)
                let tree = try reader.materializedTree()
                let epoch = try #require(reader.metadata.epoch)
                #expect(reader.metadata.globalStep == epoch * 10)
                #expect(tree.tensors().count == 4)
                epochsSeen.insert(epoch)
            } catch {
                Issue.record("after kill \(kill) the checkpoint does not load: \(error)")
                return
            }
        }
        #expect(epochsSeen.count >= 2, "the writer never completed enough saves to exercise replacement")
    }
}

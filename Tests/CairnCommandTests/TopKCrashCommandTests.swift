import Cairn
import CairnTestSupport
import Foundation
import Testing

/// SIGKILLs real `cairn fit` runs that keep the top 2 by val_loss: after every kill at most
/// k+1 ranked files exist and the best one the last state names is there and loads; a resume
/// brings the directory back to exactly k, the same files an uninterrupted run keeps.
@Suite struct TopKCrashCommandTests {
    static let cairn = FitCommandTests.cairn
    static let topK = 2
    static let maxEpochs = 4

    static func arguments(root: URL) -> [String] {
        ["fit", "--data", FitCommandTests.digits, "--max-epochs", String(maxEpochs), "--default-root-dir", root.path,
         "--no-progress-bar", "--ckpt-path", "last",
         "--callback", "ModelCheckpoint:monitor=val_loss,save_top_k=\(topK),save_last=true"]
    }

    /// Visible checkpoint files other than `last*.ckpt`, by name.
    static func rankedFiles(_ directory: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".ckpt") && !$0.hasPrefix(".") && !$0.hasPrefix("last") }.sorted()
    }

    /// The ModelCheckpoint state inside `last.ckpt`, or nil before the first save.
    static func savedState(_ directory: URL) throws -> ModelCheckpoint.State? {
        let last = directory.appendingPathComponent("last.ckpt")
        guard FileManager.default.fileExists(atPath: last.path) else { return nil }
        guard case let .dictionary(callbacks)? = try Checkpoint.load(last)["/callbacks"],
              let state = callbacks.first(where: { $0.key.token.hasPrefix("ModelCheckpoint<") })?.value else {
            Issue.record("last.ckpt holds no ModelCheckpoint state")
            return nil
        }
        return try CheckpointDecoder().decode(ModelCheckpoint.State.self, from: state)
    }

    /// What must hold whenever the run is dead, however it died.
    static func checkInvariants(_ directory: URL, moment: String) throws {
        let ranked = rankedFiles(directory)
        #expect(ranked.count <= topK + 1, "\(moment): \(ranked)")
        guard let state = try savedState(directory) else { return }
        for path in state.bestKModels.keys {
            #expect(FileManager.default.fileExists(atPath: path), "\(moment): last.ckpt names \(path), which is gone")
        }
        #expect(!state.bestModelPath.isEmpty, "\(moment): no best_model_path")
        let best = try Checkpoint.load(URL(fileURLWithPath: state.bestModelPath))
        #expect(best["/state_dict"] != nil, "\(moment): the best file has no state_dict")
    }

    /// Resumes to the end and checks exactly k ranked files, the ones the state names.
    static func finish(_ root: URL) throws -> [String] {
        let result = try cairn.run(arguments(root: root))
        #expect(result.status == 0, "\(result.stderr)")
        let directory = root.appendingPathComponent("checkpoints")
        let ranked = rankedFiles(directory)
        #expect(ranked.count == topK, "\(ranked)")
        let state = try #require(try savedState(directory))
        #expect(Set(state.bestKModels.keys.map { URL(fileURLWithPath: $0).lastPathComponent }) == Set(ranked))
        #expect(ranked.contains(URL(fileURLWithPath: state.bestModelPath).lastPathComponent))
        return ranked
    }

    /// Killed while paused between writing the new files and deleting the evicted one: k+1
    /// files, all valid; the resume removes the one its state already dropped.
    @Test func killedBetweenSavingAndEvicting() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let process = Self.cairn.process(Self.arguments(root: root), environment: ["CAIRN_PAUSE_BEFORE_EVICTION": "60"])
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        var announced = ""
        while !announced.contains("cairn: evicting") {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            announced += String(decoding: chunk, as: UTF8.self)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run ended before it was killed: \(announced)")
        let evicted = try #require(announced.components(separatedBy: "cairn: evicting ").last?
            .components(separatedBy: "\n").first)

        let directory = root.appendingPathComponent("checkpoints")
        #expect(Self.rankedFiles(directory).count == Self.topK + 1)
        #expect(FileManager.default.fileExists(atPath: evicted))
        #expect(try Self.savedState(directory)?.bestKModels[evicted] == nil, "last.ckpt still ranks the evicted file")
        try Self.checkInvariants(directory, moment: "paused before evicting")

        _ = try Self.finish(root)
        #expect(!FileManager.default.fileExists(atPath: evicted))
    }

    /// Killed at random moments over and over, resuming each time; then finished.
    @Test func killedAtRandomMomentsKeepsTopKSound() throws {
        let reference = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: reference) }
        let clock = ContinuousClock()
        let started = clock.now
        let expected = try Self.finish(reference)
        // Kill moments scale with this machine's speed: a fixed window let a fast, quiet machine
        // finish the whole run before the first kill.
        let fullRun = clock.now - started
        let runMicroseconds = Double(fullRun.components.seconds) * 1e6 + Double(fullRun.components.attoseconds) / 1e12

        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("checkpoints")
        var kills = 0
        for attempt in 0..<8 {
            let process = Self.cairn.process(Self.arguments(root: root))
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32(runMicroseconds * Double.random(in: 0.15...0.8)))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { kills += 1 }
            try Self.checkInvariants(directory, moment: "kill \(attempt)")
            if process.terminationReason == .exit { break }
        }
        #expect(kills > 0)
        #expect(try Self.finish(root) == expected)
    }
}

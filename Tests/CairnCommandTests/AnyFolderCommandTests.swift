import Cairn
import CairnTestSupport
import Foundation
import Testing

/// The release `cairn`, as a user installs and runs it: from a folder outside the package,
/// with the digits data found as a bundled resource.
@Suite(.serialized) struct AnyFolderCommandTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardized

    /// Builds (or finds up to date) the release `cairn` and returns it. `swift test` holds the
    /// lock on `.build` while tests run, so the release build has a scratch folder of its own
    /// (`.build-release-test`, ignored by git); `CAIRN_RELEASE_CAIRN` names a ready binary instead.
    static func releaseCairn() throws -> BuiltProduct {
        if let ready = ProcessInfo.processInfo.environment["CAIRN_RELEASE_CAIRN"] {
            return BuiltProduct(url: URL(fileURLWithPath: ready))
        }
        let swift = BuiltProduct(url: URL(fileURLWithPath: "/usr/bin/env"))
        let common = ["--package-path", packageRoot.path, "--scratch-path", packageRoot.appendingPathComponent(".build-release-test").path]
        let build = try swift.run(["swift", "build", "-c", "release", "--product", "cairn"] + common, timeout: 1200)
        try #require(build.status == 0, "release build failed: \(build.stderr.suffix(2000))")
        let binPath = try swift.run(["swift", "build", "-c", "release", "--show-bin-path"] + common, timeout: 120)
        let directory = binPath.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return BuiltProduct(url: URL(fileURLWithPath: directory).appendingPathComponent("cairn"))
    }

    @Test func releaseFitRunsFromAnyFolderAndWritesThere() throws {
        let cairn = try Self.releaseCairn()
        let folder = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(!folder.path.hasPrefix(Self.packageRoot.path))

        let result = try cairn.run(["fit", "--max-epochs", "2", "--no-progress-bar", "--no-model-summary"],
                                   currentDirectory: folder, timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("cairn fit: bundled digits.csv: 1259 train, 179 validation, 359 test"), "\(result.stdout)")
        let checkpoints = folder.appendingPathComponent("cairn_logs/checkpoints")
        let names = try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).sorted()
        #expect(names == ["epoch=0-step=20.ckpt", "epoch=1-step=40.ckpt", "last.ckpt"])
        let last = try Checkpoint.open(checkpoints.appendingPathComponent("last.ckpt"))
        #expect(last.metadata.globalStep == 40)
    }

    /// The character language model reads its bundled text from any folder too, and
    /// `cairn generate` continues from the checkpoint it wrote there.
    @Test func releaseCharacterModelFitsAndGeneratesFromAnyFolder() throws {
        let cairn = try Self.releaseCairn()
        let folder = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fit = try cairn.run(["fit", "--model", "charlm", "--max-steps", "4", "--val-check-interval", "2", "--limit-val-batches", "1", "--limit-test-batches", "1",
                                 "--no-progress-bar", "--no-model-summary"], currentDirectory: folder, timeout: 300)
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(fit.stdout.contains("cairn fit: bundled fortunes.txt"), "\(fit.stdout)")
        let generated = try cairn.run(["generate", "--ckpt-path", "last", "--prompt", "A", "--length", "10"], currentDirectory: folder, timeout: 120)
        #expect(generated.status == 0 && generated.stdout.count == 1 + 10 + 1, "\(generated.stdout) \(generated.stderr)")
    }

    /// A copy of the binary without its resource folder cannot find the data: it says so and
    /// how to go on, exit 2, where SwiftPM's `Bundle.module` would stop the program.
    @Test func aCopyWithoutItsResourcesAsksForData() throws {
        let folder = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("cairn")
        try FileManager.default.copyItem(at: FitCommandTests.cairn.url, to: copy)
        let moved = BuiltProduct(url: copy)

        let missing = try moved.run(["fit", "--max-epochs", "1", "--no-progress-bar", "--no-model-summary"],
                                    currentDirectory: folder, timeout: 120)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("digits.csv was not found"), "\(missing.stderr)")
        #expect(missing.stderr.contains("--data"))
        #expect(!missing.stderr.contains("Fatal error"))

        let given = try moved.run(["fit", "--max-epochs", "1", "--no-progress-bar", "--no-model-summary", "--data", FitCommandTests.digits],
                                  currentDirectory: folder, timeout: 120)
        #expect(given.status == 0, "\(given.stderr)")
    }

    @Test func versionAndUsageErrorsFollowTheContract() throws {
        let version = try FitCommandTests.cairn.run(["--version"], timeout: 60)
        #expect(version.status == 0)
        #expect(version.stdout == "\(cairnCheckpointEngineVersion)\n")
        let unknown = try FitCommandTests.cairn.run(["fit", "--no-such-flag"], timeout: 60)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("--no-such-flag"))
        let help = try FitCommandTests.cairn.run(["fit", "--help"], timeout: 60)
        #expect(help.status == 0)
        #expect(help.stdout.contains("Exit status: 0 on success, 2 on a usage or input error"))
        for special in ["/", "/nonexistent-\(UUID()).csv"] {
            let bad = try FitCommandTests.cairn.run(["fit", "--data", special], timeout: 60)
            #expect(bad.status == 2)
            #expect(bad.stderr.contains(special), "\(bad.stderr)")
        }
        // A checkpoint path that is a folder or a FIFO: one line naming it, exit 2, no hang.
        let folder = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("pipe.ckpt").path
        #expect(mkfifo(fifo, 0o644) == 0)
        for special in [folder.path, fifo] {
            for command in ["fit", "test"] {
                let bad = try FitCommandTests.cairn.run([command, "--ckpt-path", special, "--default-root-dir", folder.path,
                                                         "--no-progress-bar", "--no-model-summary", "--no-logger"], timeout: 60)
                #expect(bad.status == 2, "\(command) \(special): \(bad.stderr)")
                #expect(bad.stderr.contains("\(special): is a "), "\(command): \(bad.stderr)")
            }
        }
    }
}

import Cairn
import CairnTestSupport
import Foundation
import Testing

/// `cairn fit`'s default callbacks and loggers, and the flags that turn each off.
@Suite struct FitDefaultsCommandTests {
    static let cairn = FitCommandTests.cairn
    static let digits = FitCommandTests.digits

    private func fit(_ root: URL, _ extra: [String]) throws -> BuiltProduct.Result {
        try Self.cairn.run(["fit", "--data", Self.digits, "--max-epochs", "2", "--default-root-dir", root.path] + extra)
    }

    private func files(under url: URL) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: url.path)
        return ((enumerator?.allObjects as? [String]) ?? []).sorted()
    }

    @Test func defaultsLogToCSVAndTensorBoardInOneRunFolderAndStopEarly() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try fit(root, [])
        #expect(result.status == 0, "\(result.stderr)")
        let run = root.appendingPathComponent("lightning_logs/version_0")
        let names = files(under: run)
        #expect(names.contains("metrics.csv"))
        #expect(names.contains("hparams.yaml"))
        #expect(names.contains { $0.hasPrefix("events.out.tfevents.") }, "\(names)")
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("lightning_logs/version_1").path))
        let csv = try String(contentsOf: run.appendingPathComponent("metrics.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("epoch,step,"), "\(csv)")
        #expect(csv.contains("val_loss"))

        // EarlyStopping on val_loss is among the saved callback states.
        let tree = try Checkpoint.open(root.appendingPathComponent("checkpoints/last.ckpt")).tree()
        guard case let .dictionary(callbacks)? = tree["/callbacks"] else {
            Issue.record("no /callbacks")
            return
        }
        #expect(callbacks.keys.contains { $0.description.hasPrefix("EarlyStopping<\"monitor\":\"val_loss\"") },
                "\(callbacks.keys)")
    }

    @Test func eachDefaultCanBeTurnedOff() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try fit(root, ["--no-logger", "--no-early-stopping"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("lightning_logs").path))
        let tree = try Checkpoint.open(root.appendingPathComponent("checkpoints/last.ckpt")).tree()
        guard case let .dictionary(callbacks)? = tree["/callbacks"] else {
            Issue.record("no /callbacks")
            return
        }
        #expect(!callbacks.keys.contains { $0.description.hasPrefix("EarlyStopping") })
    }

    @Test func oneLoggerCanBeChosenAndABadOneIsAClearError() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let csvOnly = try fit(root, ["--logger", "csv:name=digits"])
        #expect(csvOnly.status == 0, "\(csvOnly.stderr)")
        let names = files(under: root.appendingPathComponent("digits/version_0"))
        #expect(names.contains("metrics.csv"))
        #expect(!names.contains { $0.hasPrefix("events.out.tfevents.") })

        let bad = try fit(root, ["--logger", "wandb"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--logger wandb"), "\(bad.stderr)")
        let conflicting = try fit(root, ["--logger", "csv", "--no-logger"])
        #expect(conflicting.status != 0)
        #expect(conflicting.stderr.contains("--no-logger"), "\(conflicting.stderr)")
    }
}

extension FitDefaultsCommandTests {
    /// A run cut by --max-steps inside its first epoch, before any validation, is not failed by
    /// the default EarlyStopping's strict check (Lightning raises there).
    @Test func maxStepsInsideTheFirstEpochIsNotAnEarlyStoppingError() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try fit(root, ["--max-steps", "5", "--no-logger"])
        #expect(result.status == 0, "\(result.stderr)")
    }
}

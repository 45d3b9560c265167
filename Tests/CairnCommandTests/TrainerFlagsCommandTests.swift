import Cairn
import CairnTestSupport
import Foundation
import Testing

/// The Trainer's loop flags of `cairn fit`, through the built binary.
@Suite struct TrainerFlagsCommandTests {
    static let cairn = FitCommandTests.cairn

    func fit(_ arguments: [String], root: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let result = try Self.cairn.run(["fit", "--data", FitCommandTests.digits, "--default-root-dir", root.path,
                                         "--no-progress-bar", "--no-model-summary"] + arguments)
        return (result.status, result.stdout, result.stderr)
    }

    func integer(_ tree: CheckpointValue, _ pointer: String) -> Int64? {
        if case let .int(value)? = tree[pointer] { return value }
        return nil
    }

    /// Four batches an epoch, two per step, validation (two batches) twice an epoch and a clipped
    /// step: the checkpoint's counters show every flag took effect.
    @Test func loopFlagsReachTheTrainer() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try fit(["--max-epochs", "1", "--limit-train-batches", "4", "--accumulate-grad-batches", "2",
                              "--val-check-interval", "0.5", "--limit-val-batches", "2", "--limit-test-batches", "1",
                              "--num-sanity-val-steps", "0", "--gradient-clip-val", "0.5", "--gradient-clip-algorithm", "value",
                              "--log-every-n-steps", "1", "--min-epochs", "1", "--max-time", "00:01:00:00", "--deterministic"],
                             root: root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("epoch 1/1  step 2"), "\(result.stdout)")
        let tree = try Checkpoint.load(root.appendingPathComponent("checkpoints/last.ckpt"))
        #expect(integer(tree, "/global_step") == 2)
        #expect(integer(tree, "/loops/fit_loop/epoch_loop.batch_progress/total/completed") == 4)
        #expect(integer(tree, "/loops/fit_loop/epoch_loop.val_loop.batch_progress/total/completed") == 4)
        #expect(integer(tree, "/loops/fit_loop/epoch_loop.automatic_optimization.optim_progress/optimizer/zero_grad/total/completed") == 2)
    }

    /// A zero time budget stops after the first batch; --no-checkpointing writes no files.
    @Test func maxTimeAndNoCheckpointing() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try fit(["--max-time", "0", "--no-checkpointing", "--num-sanity-val-steps", "0"], root: root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("epoch 1/15  step 1 "), "\(result.stdout)")
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("checkpoints").path))
    }

    @Test func fastDevRunTrainsAFewBatchesAndWritesNothing() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try fit(["--fast-dev-run", "2"], root: root)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("epoch 1/1  step 2"), "\(result.stdout)")
        let written = (try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("checkpoints").path)) ?? []
        #expect(written.isEmpty)
    }

    /// Bad values stop before training with a non-zero status and a message naming the flag.
    @Test(arguments: [
        (["--max-time", "1:00:00"], "--max-time"),
        (["--max-time", "999999999999999:00:00:00"], "--max-time"),
        (["--val-check-interval", "1.5"], "--val-check-interval"),
        (["--val-check-interval", "0"], "--val-check-interval"),
        (["--gradient-clip-algorithm", "l2"], "--gradient-clip-algorithm"),
        (["--gradient-clip-val=-1"], "--gradient-clip-val"),
        (["--accumulate-grad-batches", "0"], "--accumulate-grad-batches"),
        (["--limit-train-batches=-2"], "--limit-train-batches"),
        (["--check-val-every-n-epoch", "0"], "--check-val-every-n-epoch"),
        (["--num-sanity-val-steps=-2"], "--num-sanity-val-steps"),
        (["--log-every-n-steps", "0"], "--log-every-n-steps"),
        (["--min-epochs=-1"], "--min-epochs"),
        (["--fast-dev-run", "0"], "--fast-dev-run"),
        (["--no-checkpointing", "--every-n-train-steps", "5"], "--no-checkpointing"),
    ])
    func badValuesNameTheFlag(arguments: [String], flag: String) throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try fit(arguments, root: root)
        #expect(result.status == 2, "usage errors exit 2, as ckpt-inspect's")
        #expect(result.stderr.contains(flag), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("checkpoints").path))
    }

    /// A batch-count interval longer than the epoch is Lightning's error, reported in one line.
    @Test func valCheckIntervalLongerThanTheEpochIsRefused() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try fit(["--limit-train-batches", "3", "--val-check-interval", "5"], root: root)
        #expect(result.status == 2)
        #expect(result.stderr.contains("valCheckInterval: 5 batches is more than the 3 training batches"), "\(result.stderr)")
    }
}

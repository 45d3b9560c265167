import Cairn
import CairnTestSupport
import Foundation
import Testing

/// `cairn fit` with the batch-size finder and EMA given as `--callback` specs, stopped and resumed
/// from last.ckpt: the found size is applied again and the run ends as the uninterrupted one.
@Suite(.serialized) struct TuningCommandTests {
    static func arguments(root: URL, maxSteps: Int) -> [String] {
        ResumeCommandTests.fitArguments(root: root, maxSteps: maxSteps, everyNTrainSteps: 5)
            + ["--callback", "BatchSizeFinder:steps_per_trial=1,max_batch_size=96", "--callback", "EMAWeightAveraging:decay=0.9"]
    }

    /// Every tensor of last.ckpt (weights, optimizer state, the EMA average) by pointer, as raw bytes.
    static func tensors(_ root: URL) throws -> [String: [UInt8]] {
        let tree = try Checkpoint.load(root.appendingPathComponent("checkpoints/last.ckpt"))
        var found: [String: [UInt8]] = [:]
        for (path, tensor) in tree.tensors() { found[path.description] = try tensor.bytes() }
        return found
    }

    @Test func batchSizeAndAverageSurviveAResume() throws {
        let reference = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: reference) }
        let straight = try FitCommandTests.cairn.run(Self.arguments(root: reference, maxSteps: 50))
        #expect(straight.status == 0, "\(straight.stderr)")
        let expected = try Self.tensors(reference)
        let finished = try Checkpoint.load(reference.appendingPathComponent("checkpoints/last.ckpt"))
        guard case .int(64)? = finished["/callbacks/BatchSizeFinder/optimal_batch_size"] else {
            Issue.record("the finder did not settle on 64 (128 exceeds max_batch_size)")
            return
        }
        #expect(expected.keys.contains { $0.hasPrefix("/callbacks/EMAWeightAveraging/average/") })

        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let stopped = try FitCommandTests.cairn.run(Self.arguments(root: root, maxSteps: 33))
        #expect(stopped.status == 0, "\(stopped.stderr)")
        let resumed = try FitCommandTests.cairn.run(Self.arguments(root: root, maxSteps: 50) + ["--ckpt-path", "last"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let actual = try Self.tensors(root)
        #expect(actual.keys.sorted() == expected.keys.sorted())
        for (path, bytes) in expected { #expect(actual[path] == bytes, "\(path) differs after resuming") }
    }
}

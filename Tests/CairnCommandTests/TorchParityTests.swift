import Cairn
import CairnTestSupport
import Foundation
import Testing

/// The digits model trained by `cairn fit` and exported with `ckpt-inspect convert`, then used
/// by PyTorch (`tools/python-interop/digits_parity.py`) and Lightning (`lightning_resume.py`).
@Suite struct TorchParityTests {
    static let ckptInspect = BuiltProduct("ckpt-inspect")
    static let batchSize = 64

    /// The validation split's rows exactly as Cairn feeds them, one CSV line each: label, then features.
    static func writeValidationRows(to url: URL) throws -> Int {
        let data = DigitsDataModule(path: FitCommandTests.digits, batchSize: batchSize, seed: 42)
        try data.setup(stage: .validate)
        let loader = try #require(try data.validationLoader())
        var lines = ["label," + (0..<64).map { "p\($0)" }.joined(separator: ",")]
        while let batch = try loader.nextBatch() {
            let width = try batch.tensor("features").shape[1]
            for (row, label) in try batch.tensor("target").integers.enumerated() {
                // Float's description is its shortest exact spelling, so Python reads the same float32.
                let features = try batch.tensor("features").scalars[(row * width)..<((row + 1) * width)].map { "\($0)" }
                lines.append("\(label)," + features.joined(separator: ","))
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return lines.count - 1
    }

    /// Two epochs of `cairn fit` in `root`; returns `last.ckpt` and its Lightning export.
    static func fitAndExport(in root: URL) throws -> (last: String, exported: String) {
        let fit = try FitCommandTests.cairn.run(["fit", "--data", FitCommandTests.digits, "--max-epochs", "2",
                                                 "--batch-size", String(batchSize),
                                                 "--default-root-dir", root.path, "--no-progress-bar"])
        try #require(fit.status == 0, "\(fit.stderr)")
        let last = root.appendingPathComponent("checkpoints/last.ckpt").path
        let exported = root.appendingPathComponent("exported.ckpt").path
        let convert = try ckptInspect.run(["convert", last, exported, "--to", "lightning"])
        try #require(convert.status == 0, "\(convert.stderr)")
        return (last, exported)
    }

    @Test(.enabled(if: InteropPython.isAvailable, Comment(rawValue: InteropPython.skipMessage)))
    func exportedDigitsModelHasCairnsValidationLossInPyTorch() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (last, exported) = try Self.fitAndExport(in: root)

        let validate = try FitCommandTests.cairn.run(["validate", "--json", "--data", FitCommandTests.digits,
                                                      "--batch-size", String(Self.batchSize),
                                                      "--default-root-dir", root.path, "--ckpt-path", last])
        try #require(validate.status == 0, "\(validate.stderr)")
        let cairnMetrics = try #require(try JSONSerialization.jsonObject(with: Data(validate.stdout.utf8)) as? [String: Double])
        let cairnLoss = try #require(cairnMetrics["val_loss"])

        let rows = root.appendingPathComponent("validation.csv")
        let rowCount = try Self.writeValidationRows(to: rows)
        #expect(rowCount == 179)

        let torch = try #require(try InteropPython.runJSON("digits_parity.py", [exported, rows.path, String(Self.batchSize)])
            as? [String: Any])
        let torchLoss = try #require(torch["val_loss"] as? Double)
        #expect(torch["rows"] as? Int == rowCount)
        #expect(torch["epoch"] as? Int == 1)
        #expect(torch["global_step"] as? Int == 40)
        // Different summation orders in the matmuls leave float32 rounding noise, nothing more.
        #expect(abs(torchLoss - cairnLoss) <= 1e-5 * max(1, abs(cairnLoss)), "torch \(torchLoss) vs cairn \(cairnLoss)")
        #expect(torch["val_acc"] as? Double == cairnMetrics["val_acc"])
        // A trained model, not a trivially equal pair of untrained ones.
        #expect(cairnLoss < 0.5)
    }

    @Test(.enabled(if: InteropPython.isAvailable, Comment(rawValue: InteropPython.skipMessage)))
    func lightningResumesFromTheExportedCheckpoint() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let (_, exported) = try Self.fitAndExport(in: root)
        // Lightning fits one epoch more than the checkpoint's, on all 1797 digits rows: 29 batches.
        let resumed = try #require(try InteropPython.runJSON("lightning_resume.py", [exported, FitCommandTests.digits])
            as? [String: Any])
        // Saved at the end of epoch 1 after 40 steps, Lightning continues with epoch 2 at step 40.
        #expect(resumed["resumed_at"] as? [String: Int] == ["epoch": 2, "global_step": 40])
        #expect(resumed["batches_trained"] as? Int == 29)
        #expect(resumed["ended_at"] as? [String: Int] == ["epoch": 3, "global_step": 69])
        #expect(resumed["weights_at_start_match"] as? Bool == true)
        // Adam's per-parameter step counts went on from the exported 40, each its own tensor.
        #expect(resumed["adam_steps"] as? [Double] == Array(repeating: 69, count: 6))
    }
}

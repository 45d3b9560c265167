import Cairn
import CairnTestSupport
import Foundation
import Testing

/// The digits model trained by `cairn fit`, exported with `ckpt-inspect convert`, evaluated
/// by an equivalent PyTorch model (`tools/python-interop/digits_parity.py`).
@Suite struct TorchParityTests {
    static let ckptInspect = BuiltProduct("ckpt-inspect")
    static let batchSize = 64

    /// The validation split's rows exactly as Cairn feeds them, one CSV line each: label, then features.
    static func writeValidationRows(to url: URL) throws -> Int {
        let data = DigitsDataModule(path: FitCommandTests.digits, batchSize: batchSize, seed: 42)
        try data.setup(stage: .validate)
        let loader = try #require(try data.validationLoader())
        var lines = ["label," + (0..<64).map { "p\($0)" }.joined(separator: ",")]
        while let batch = loader.nextBatch() {
            let width = batch.features.shape[1]
            for (row, label) in batch.labels.integers.enumerated() {
                // Float's description is its shortest exact spelling, so Python reads the same float32.
                let features = batch.features.scalars[(row * width)..<((row + 1) * width)].map { "\($0)" }
                lines.append("\(label)," + features.joined(separator: ","))
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return lines.count - 1
    }

    @Test(.enabled(if: InteropPython.isAvailable, Comment(rawValue: InteropPython.skipMessage)))
    func exportedDigitsModelHasCairnsValidationLossInPyTorch() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let fit = try FitCommandTests.cairn.run(["fit", "--data", FitCommandTests.digits, "--max-epochs", "2",
                                                 "--batch-size", String(Self.batchSize),
                                                 "--default-root-dir", root.path, "--no-progress-bar"])
        try #require(fit.status == 0, "\(fit.stderr)")
        let last = root.appendingPathComponent("checkpoints/last.ckpt").path

        let validate = try FitCommandTests.cairn.run(["validate", "--json", "--data", FitCommandTests.digits,
                                                      "--batch-size", String(Self.batchSize),
                                                      "--default-root-dir", root.path, "--ckpt-path", last])
        try #require(validate.status == 0, "\(validate.stderr)")
        let cairnMetrics = try #require(try JSONSerialization.jsonObject(with: Data(validate.stdout.utf8)) as? [String: Double])
        let cairnLoss = try #require(cairnMetrics["val_loss"])

        let exported = root.appendingPathComponent("exported.ckpt").path
        let convert = try Self.ckptInspect.run(["convert", last, exported, "--to", "lightning"])
        try #require(convert.status == 0, "\(convert.stderr)")
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
}

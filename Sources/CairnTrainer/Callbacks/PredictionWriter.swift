import CairnData
import CairnTensor
import Foundation

/// Lightning's BasePredictionWriter made concrete: writes what `predict` returns to CSV files in
/// ``outputDirectory``, batch by batch (`batch_predictions.csv`, appended as each batch ends, with
/// its `batch_index`), once at the epoch's end (`predictions.csv`), or both. A row per sample; the
/// sample's outputs are flattened into `output_0`, `output_1`, … (or one `output` column).
public final class PredictionWriter: Callback, @unchecked Sendable {
    /// When predictions are written (Lightning's `write_interval`).
    public enum WriteInterval: String, Sendable { case batch, epoch, batchAndEpoch = "batch_and_epoch" }

    /// The folder the CSV files go to (created when missing).
    public let outputDirectory: URL
    /// When files are written.
    public let writeInterval: WriteInterval

    private var batchFile: FileHandle?
    private var epochPredictions: [Tensor] = []

    /// A writer into `outputDirectory`.
    public init(outputDirectory: URL, writeInterval: WriteInterval = .batch) {
        self.outputDirectory = outputDirectory
        self.writeInterval = writeInterval
        super.init()
    }

    /// The file batch-interval writing appends to.
    public var batchFileURL: URL { outputDirectory.appendingPathComponent("batch_predictions.csv") }
    /// The file epoch-interval writing creates.
    public var epochFileURL: URL { outputDirectory.appendingPathComponent("predictions.csv") }

    private var writesBatches: Bool { writeInterval != .epoch }
    private var writesEpoch: Bool { writeInterval != .batch }

    override public func onPredictStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        epochPredictions = []
        do {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw PredictionWriterError.cannotWrite(path: outputDirectory.path, reason: "\(error)")
        }
        if writesBatches {
            // Truncate: one predict run, one file.
            guard FileManager.default.createFile(atPath: batchFileURL.path, contents: nil),
                  let handle = FileHandle(forWritingAtPath: batchFileURL.path) else {
                throw PredictionWriterError.cannotWrite(path: batchFileURL.path, reason: "cannot create the file")
            }
            batchFile = handle
        }
    }

    override public func onPredictBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor, batch: Batch,
                                           batchIndex: Int, dataloaderIndex: Int) throws {
        if writesEpoch { epochPredictions.append(outputs) }
        guard let batchFile else { return }
        var text = batchIndex == 0 ? "batch_index,row," + Self.columnNames(of: outputs).joined(separator: ",") + "\n" : ""
        for (row, values) in Self.rows(of: outputs).enumerated() {
            text += "\(batchIndex),\(row)," + values.map { "\($0)" }.joined(separator: ",") + "\n"
        }
        try write(text, to: batchFile, path: batchFileURL)
    }

    override public func onPredictEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard writesEpoch, let first = epochPredictions.first else { return }
        var text = "row," + Self.columnNames(of: first).joined(separator: ",") + "\n"
        var row = 0
        for values in epochPredictions.flatMap(Self.rows) {
            text += "\(row)," + values.map { "\($0)" }.joined(separator: ",") + "\n"
            row += 1
        }
        do {
            try Data(text.utf8).write(to: epochFileURL, options: .atomic)
        } catch {
            throw PredictionWriterError.cannotWrite(path: epochFileURL.path, reason: "\(error)")
        }
        epochPredictions = []
    }

    override public func onPredictEnd(_ trainer: Trainer, _ module: TrainingModule) throws { try closeBatchFile() }

    override public func onException(_ trainer: Trainer, _ module: TrainingModule, error: any Error) throws { try? closeBatchFile() }

    private func closeBatchFile() throws {
        defer { batchFile = nil }
        do { try batchFile?.close() } catch { throw PredictionWriterError.cannotWrite(path: batchFileURL.path, reason: "\(error)") }
    }

    private func write(_ text: String, to handle: FileHandle, path: URL) throws {
        do { try handle.write(contentsOf: Data(text.utf8)) } catch {
            throw PredictionWriterError.cannotWrite(path: path.path, reason: "\(error)")
        }
    }

    /// `output_0` … per value of one sample, or `output` when a sample is a single value.
    static func columnNames(of outputs: Tensor) -> [String] {
        let width = outputs.shape.dropFirst().reduce(1, *)
        return outputs.shape.count <= 1 ? ["output"] : (0..<width).map { "output_\($0)" }
    }

    /// One array of values per sample (first dimension); Swift's shortest round-trip text for each.
    static func rows(of outputs: Tensor) -> [[Float]] {
        guard let count = outputs.shape.first else { return [outputs.scalars] }
        let width = outputs.shape.dropFirst().reduce(1, *)
        return (0..<count).map { Array(outputs.scalars[($0 * width)..<(($0 + 1) * width)]) }
    }
}

/// Why predictions could not be written.
public enum PredictionWriterError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file or folder at `path` could not be created or written.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotWrite(path, reason): "PredictionWriter: cannot write \(path): \(reason)"
        }
    }
}

extension PredictionWriter: RegistrableCallback {
    public static var registryName: String { "PredictionWriter" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let interval = try arguments.value("write_interval", default: WriteInterval.batch, expected: "interval (batch, epoch or batch_and_epoch)") {
            WriteInterval(rawValue: $0)
        }
        let directory = arguments.string("output_dir") ?? "predictions"
        return PredictionWriter(outputDirectory: URL(fileURLWithPath: directory), writeInterval: interval)
    }
}

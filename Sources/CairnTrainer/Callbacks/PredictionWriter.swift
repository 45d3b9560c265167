import CairnData
import CairnTensor
import Foundation

/// Lightning's BasePredictionWriter made concrete: writes what `predict` returns into
/// ``outputDirectory`` as CSV files or one SQLite file, batch by batch (`batch_predictions`,
/// appended as each batch ends, with its `batch_index`), once at the epoch's end (`predictions`),
/// or both. A row per sample; the sample's outputs are flattened into `output_0`, `output_1`, …
/// (or one `output` column).
public final class PredictionWriter: Callback, @unchecked Sendable {
    /// When predictions are written (Lightning's `write_interval`).
    public enum WriteInterval: String, Sendable { case batch, epoch, batchAndEpoch = "batch_and_epoch" }

    /// How predictions are stored.
    public enum Format: String, Sendable {
        /// `batch_predictions.csv` and `predictions.csv`.
        case csv
        /// Tables `batch_predictions` and `predictions` in `predictions.sqlite`, values as REAL.
        case sqlite
    }

    /// The folder the files go to (created when missing).
    public let outputDirectory: URL
    /// When files are written.
    public let writeInterval: WriteInterval
    /// CSV files or a SQLite database.
    public let format: Format

    private var store: (any PredictionStore)?
    private var epochPredictions: [Tensor] = []

    /// A writer into `outputDirectory`.
    public init(outputDirectory: URL, writeInterval: WriteInterval = .batch, format: Format = .csv) {
        self.outputDirectory = outputDirectory
        self.writeInterval = writeInterval
        self.format = format
        super.init()
    }

    /// The CSV file batch-interval writing appends to.
    public var batchFileURL: URL { outputDirectory.appendingPathComponent("batch_predictions.csv") }
    /// The CSV file epoch-interval writing creates.
    public var epochFileURL: URL { outputDirectory.appendingPathComponent("predictions.csv") }
    /// The SQLite file holding both tables.
    public var databaseURL: URL { outputDirectory.appendingPathComponent("predictions.sqlite") }

    private var writesBatches: Bool { writeInterval != .epoch }
    private var writesEpoch: Bool { writeInterval != .batch }

    override public func onPredictStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        epochPredictions = []
        do {
            try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true)
        } catch {
            throw PredictionWriterError.cannotWrite(path: outputDirectory.path, reason: "\(error)")
        }
        // Each predict run starts its files afresh.
        switch format {
        case .csv: store = try CSVPredictionStore(batchFile: writesBatches ? batchFileURL : nil, epochFile: epochFileURL)
        case .sqlite: store = try SQLitePredictionStore(url: databaseURL)
        }
    }

    override public func onPredictBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor, batch: Batch,
                                           batchIndex: Int, dataloaderIndex: Int) throws {
        if writesEpoch { epochPredictions.append(outputs) }
        guard writesBatches, let store else { return }
        try store.appendBatch(batchIndex, rows: Self.rows(of: outputs), columns: Self.columnNames(of: outputs))
    }

    override public func onPredictEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard writesEpoch, let store, let first = epochPredictions.first else { return }
        try store.writeEpoch(rows: epochPredictions.flatMap(Self.rows), columns: Self.columnNames(of: first))
        epochPredictions = []
    }

    override public func onPredictEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        defer { store = nil }
        try store?.close()
    }

    override public func onException(_ trainer: Trainer, _ module: TrainingModule, error: any Error) throws {
        try? store?.close()
        store = nil
    }

    /// `output_0` … per value of one sample, or `output` when a sample is a single value.
    static func columnNames(of outputs: Tensor) -> [String] {
        let width = outputs.shape.dropFirst().reduce(1, *)
        return outputs.shape.count <= 1 ? ["output"] : (0..<width).map { "output_\($0)" }
    }

    /// One array of values per sample (the first dimension).
    static func rows(of outputs: Tensor) -> [[Float]] {
        guard let count = outputs.shape.first else { return [outputs.scalars] }
        let width = outputs.shape.dropFirst().reduce(1, *)
        return (0..<count).map { Array(outputs.scalars[($0 * width)..<(($0 + 1) * width)]) }
    }
}

/// Where a ``PredictionWriter`` puts rows: `batch_predictions` gets `batch_index, row, outputs…`
/// per batch, `predictions` gets `row, outputs…` for the epoch.
protocol PredictionStore: AnyObject {
    func appendBatch(_ batchIndex: Int, rows: [[Float]], columns: [String]) throws
    func writeEpoch(rows: [[Float]], columns: [String]) throws
    func close() throws
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
        let format = try arguments.value("format", default: Format.csv, expected: "format (csv or sqlite)") { Format(rawValue: $0) }
        let directory = arguments.string("output_dir") ?? "predictions"
        return PredictionWriter(outputDirectory: URL(fileURLWithPath: directory), writeInterval: interval, format: format)
    }
}

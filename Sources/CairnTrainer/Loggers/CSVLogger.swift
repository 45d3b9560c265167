import CairnCheckpoint
import Foundation
import OrderedCollections

/// Logs to `<saveDirectory>/<name>/version_N/`: `metrics.csv` (one row per logging call, a `step`
/// column and one column per metric, sorted by name, growing as metrics appear) and
/// `hparams.yaml` (Lightning's `CSVLogger`).
///
/// A resumed fit continues the same version folder and first drops the rows the interrupted run
/// wrote after its checkpoint, so the file reads as if the run had never stopped.
public final class CSVLogger: ExperimentLogger, @unchecked Sendable {
    /// Lightning's default experiment name, kept so Lightning's tools find Cairn's runs.
    public static let defaultName = "lightning_logs"
    /// The metrics file's name.
    public static let metricsFileName = "metrics.csv"
    /// The hyper-parameters file's name.
    public static let hyperparametersFileName = RunDirectory.hyperparametersFileName

    /// The experiment's name.
    public let name: String
    /// Put before every metric name, joined with `-` (Lightning's `prefix`).
    public let prefix: String

    private let lock = NSLock()
    private var run: RunDirectory
    private var columns: [String] = []
    private var rowsWritten = 0
    private var pendingRows: [[String: String]] = []

    /// A logger writing under `saveDirectory/name`; `version` nil takes the next free `version_N`
    /// when the run first writes.
    public init(saveDirectory: URL, name: String = CSVLogger.defaultName, version: Int? = nil, prefix: String = "") {
        self.name = name
        self.prefix = prefix
        run = RunDirectory(root: saveDirectory, name: name, version: version)
    }

    public var version: String { lock.withLock { "version_\(run.resolvedVersion())" } }

    public var logDirectory: URL? { lock.withLock { run.directory() } }

    /// Where the metrics go.
    public var metricsFile: URL { lock.withLock { run.directory().appendingPathComponent(Self.metricsFileName) } }

    public var stateKey: String { StateKeyArgument.key(typeName: "CSVLogger", arguments: [("name", .string(name))]) }

    public func logMetrics(_ metrics: OrderedDictionary<String, Double>, step: Int) throws {
        var row: [String: String] = ["step": String(step)]
        for (key, value) in metrics {
            let column = prefixedMetricName(key, prefix: prefix)
            row[column] = Self.format(value, column: column)
        }
        lock.withLock { pendingRows.append(row) }
    }

    /// Merges `hyperparameters` (a dictionary's entries, or one `value`) into `hparams.yaml`.
    public func logHyperparameters(_ hyperparameters: CheckpointValue) throws {
        try lock.withLock { try run.writeHyperparameters(hyperparameters) }
    }

    /// Appends the rows logged since the last save; a row bringing a new column rewrites the
    /// file under the wider header first.
    public func save() throws {
        try lock.withLock { try flush() }
    }

    public func finalize(status: String) throws { try save() }

    /// `{"version": N, "rows": R}`: the run's folder and the data rows written so far.
    public func stateDict() throws -> CheckpointValue? {
        try lock.withLock {
            try flush()
            return .dictionary(["version": .int(Int64(run.resolvedVersion())), "rows": .int(Int64(rowsWritten))])
        }
    }

    /// Continues the saved version, cutting `metrics.csv` back to the rows it had at the checkpoint.
    public func loadStateDict(_ state: CheckpointValue) throws {
        let version = try RunDirectory.savedVersion(in: state, logger: stateKey)
        guard case let .int(rows)? = state["/rows"], rows >= 0 else {
            throw LoggerError.malformedState(logger: stateKey, reason: "expected a non-negative int at /rows")
        }
        try lock.withLock {
            run.resume(version: version)
            pendingRows = []
            let file = run.directory().appendingPathComponent(Self.metricsFileName)
            guard FileManager.default.fileExists(atPath: file.path) else {
                columns = []
                rowsWritten = 0
                return
            }
            let table = try CSVTable(contentsOf: file)
            let kept = Array(table.rows.prefix(Int(clamping: rows)))
            // The header may name columns only the dropped rows used: keep those the kept rows fill.
            let used = table.header.indices.filter { column in kept.contains { $0.indices.contains(column) && !$0[column].isEmpty } }
            columns = used.map { table.header[$0] }
            rowsWritten = kept.count
            let rewritten = kept.map { row in used.map { row.indices.contains($0) ? row[$0] : "" } }
            try write(CSVTable(header: columns, rows: rewritten).text, to: file)
        }
    }

    // MARK: Files

    private func flush() throws {
        guard !pendingRows.isEmpty else { return }
        let file = try run.createDirectory().appendingPathComponent(Self.metricsFileName)
        let newColumns = Set(pendingRows.flatMap(\.keys)).subtracting(columns)
        if !newColumns.isEmpty || rowsWritten == 0 {
            // A new header means every earlier row gets the new columns' empty cells.
            let earlier = rowsWritten == 0 ? [] : try CSVTable(contentsOf: file).rows.prefix(rowsWritten).map { Dictionary(zip(columns, $0)) { first, _ in first } }
            columns = (columns + newColumns).sorted()
            let table = CSVTable(header: columns, rows: (earlier + pendingRows).map { row in columns.map { row[$0] ?? "" } })
            try write(table.text, to: file)
        } else {
            let text = pendingRows.map { row in CSVTable.line(columns.map { row[$0] ?? "" }) }.joined()
            try append(text, to: file)
        }
        rowsWritten += pendingRows.count
        pendingRows = []
    }

    private func write(_ text: String, to file: URL) throws {
        do {
            try Data(text.utf8).write(to: file, options: .atomic)
        } catch {
            throw LoggerError.io(path: file.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    private func append(_ text: String, to file: URL) throws {
        do {
            let handle = try FileHandle(forWritingTo: file)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
        } catch {
            throw LoggerError.io(path: file.path, reason: "cannot append: \(error.localizedDescription)")
        }
    }

    /// Python's `repr` spelling of floats (shortest round trip), as Lightning's `csv` module
    /// writes them; `epoch` is Lightning's integer.
    static func format(_ value: Double, column: String) -> String {
        if column == "epoch" || column.hasSuffix("-epoch"), value.rounded() == value, abs(value) < 1e15 {
            return String(Int64(value))
        }
        return "\(value)"
    }
}

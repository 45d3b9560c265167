import CairnCheckpoint
import Foundation
import OrderedCollections

/// Logs to TensorBoard event files under `<saveDirectory>/<name>/version_N/` (Lightning's
/// `TensorBoardLogger`): scalars, the hyper-parameters (the hparams plugin's session start, and
/// `hparams.yaml`) and text, as TFRecord-framed `Event` protos in
/// `events.out.tfevents.<unix time>.<host>.<pid>.<n>`.
///
/// A resumed fit continues the checkpoint's event file, first cut back to the length it had at
/// the checkpoint, so TensorBoard shows no step twice.
public final class TensorBoardLogger: ExperimentLogger, @unchecked Sendable {
    /// Lightning's default experiment name.
    public static let defaultName = "lightning_logs"

    /// The experiment's name.
    public let name: String
    /// Put before every metric name, joined with `-` (Lightning's `prefix`).
    public let prefix: String

    private let lock = NSLock()
    private var run: RunDirectory
    private var eventFileName: String?
    private var bytesWritten = 0
    private var pendingRecords: [UInt8] = []

    /// A logger writing under `saveDirectory/name`; `version` nil takes the next free `version_N`.
    public init(saveDirectory: URL, name: String = TensorBoardLogger.defaultName, version: Int? = nil, prefix: String = "") {
        self.name = name
        self.prefix = prefix
        run = RunDirectory(root: saveDirectory, name: name, version: version)
    }

    public var version: String { lock.withLock { "version_\(run.resolvedVersion())" } }

    public var logDirectory: URL? { lock.withLock { run.directory() } }

    /// The event file written so far, or nil before the first save.
    public var eventFile: URL? { lock.withLock { eventFileName.map { run.directory().appendingPathComponent($0) } } }

    public var stateKey: String { StateKeyArgument.key(typeName: "TensorBoardLogger", arguments: [("name", .string(name))]) }

    private static var now: Double { Date().timeIntervalSince1970 }

    public func logMetrics(_ metrics: OrderedDictionary<String, Double>, step: Int) throws {
        let wallTime = Self.now
        lock.withLock {
            for (key, value) in metrics {
                let tag = prefixedMetricName(key, prefix: prefix)
                pendingRecords += TFRecord.frame(TensorBoardEvent.scalar(tag: tag, value: Float(value), step: step, wallTime: wallTime))
            }
        }
    }

    /// Writes the hparams plugin's session start (nested names joined with `/`, lists and other
    /// non-scalars as text) and merges the tree into `hparams.yaml`.
    public func logHyperparameters(_ hyperparameters: CheckpointValue) throws {
        var flat: [(name: String, value: TensorBoardEvent.HyperparameterValue)] = []
        Self.flatten(hyperparameters, name: "", into: &flat)
        let wallTime = Self.now
        try lock.withLock {
            pendingRecords += TFRecord.frame(TensorBoardEvent.sessionStart(hyperparameters: flat, startTime: wallTime, wallTime: wallTime))
            try run.writeHyperparameters(hyperparameters)
        }
    }

    public func logText(_ text: String, tag: String, step: Int) throws {
        let wallTime = Self.now
        lock.withLock { pendingRecords += TFRecord.frame(TensorBoardEvent.text(tag: tag, text: text, step: step, wallTime: wallTime)) }
    }

    /// Appends the records logged since the last save to the event file (created on first use).
    public func save() throws { try lock.withLock { try flush() } }

    public func finalize(status: String) throws { try save() }

    /// `{"version": N, "file": event file name, "bytes": its length so far}`.
    public func stateDict() throws -> CheckpointValue? {
        try lock.withLock {
            try flush()
            var state: OrderedDictionary<CheckpointKey, CheckpointValue> = ["version": .int(Int64(run.resolvedVersion()))]
            if let eventFileName {
                state["file"] = .string(eventFileName)
                state["bytes"] = .int(Int64(bytesWritten))
            }
            return .dictionary(state)
        }
    }

    /// Continues the saved version and event file, cut back to its length at the checkpoint
    /// (a missing file starts a new one in the same folder).
    public func loadStateDict(_ state: CheckpointValue) throws {
        let version = try RunDirectory.savedVersion(in: state, logger: stateKey)
        var resumedFile: (name: String, bytes: Int)?
        if case let .string(fileName)? = state["/file"] {
            guard case let .int(bytes)? = state["/bytes"], bytes >= 0, !fileName.contains("/") else {
                throw LoggerError.malformedState(logger: stateKey, reason: "expected a file name and a non-negative int at /bytes")
            }
            resumedFile = (fileName, Int(clamping: bytes))
        }
        try lock.withLock {
            run.resume(version: version)
            pendingRecords = []
            eventFileName = nil
            bytesWritten = 0
            guard let resumedFile else { return }
            let url = run.directory().appendingPathComponent(resumedFile.name)
            guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue else { return }
            do {
                let handle = try FileHandle(forWritingTo: url)
                defer { try? handle.close() }
                try handle.truncate(atOffset: UInt64(min(size, resumedFile.bytes)))
            } catch {
                throw LoggerError.io(path: url.path, reason: "cannot cut back to \(resumedFile.bytes) bytes: \(error.localizedDescription)")
            }
            eventFileName = resumedFile.name
            bytesWritten = min(size, resumedFile.bytes)
        }
    }

    // MARK: Files

    private func flush() throws {
        guard !pendingRecords.isEmpty else { return }
        let directory = try run.createDirectory()
        var output = pendingRecords
        if eventFileName == nil {
            let wallTime = Self.now
            eventFileName = EventFileNames.next(wallTime: wallTime)
            output = TFRecord.frame(TensorBoardEvent.fileHeader(wallTime: wallTime)) + output
            bytesWritten = 0
        }
        let url = directory.appendingPathComponent(eventFileName ?? "")
        do {
            if !FileManager.default.fileExists(atPath: url.path) {
                guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                    throw LoggerError.io(path: url.path, reason: "cannot create the event file")
                }
            }
            let handle = try FileHandle(forWritingTo: url)
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(output))
        } catch let error as LoggerError {
            throw error
        } catch {
            throw LoggerError.io(path: url.path, reason: "cannot append: \(error.localizedDescription)")
        }
        bytesWritten += output.count
        pendingRecords = []
    }

    /// Lightning's `_flatten_dict` and `_sanitize_params`: nested names joined with `/`, values
    /// the plugin cannot show as text.
    static func flatten(_ value: CheckpointValue, name: String, into flat: inout [(name: String, value: TensorBoardEvent.HyperparameterValue)]) {
        switch value {
        case let .dictionary(entries):
            for (key, child) in entries { flatten(child, name: name.isEmpty ? key.token : "\(name)/\(key.token)", into: &flat) }
        case let .int(number): flat.append((name, .number(Double(number))))
        case let .double(number): flat.append((name, .number(number)))
        case let .bool(flag): flat.append((name, .bool(flag)))
        case let .string(text): flat.append((name, .string(text)))
        case .null: flat.append((name, .string("None")))
        case .list, .bytes, .tensor: flat.append((name, .string(HyperparameterYAML.flowText(value))))
        }
    }
}

/// `events.out.tfevents.<10-digit unix time>.<host>.<pid>.<n>`, `n` counting files this process made.
enum EventFileNames {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var made = 0

    static func next(wallTime: Double) -> String {
        let number = lock.withLock {
            defer { made += 1 }
            return made
        }
        let seconds = String(Int(wallTime))
        let padded = String(repeating: "0", count: max(0, 10 - seconds.count)) + seconds
        return "events.out.tfevents.\(padded).\(ProcessInfo.processInfo.hostName).\(getpid()).\(number)"
    }
}

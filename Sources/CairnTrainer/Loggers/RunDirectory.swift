import CairnCheckpoint
import Foundation
import OrderedCollections

/// `<root>/<name>/version_N`, the folder layout Lightning's file loggers share: a new run takes
/// the next free `N`; a resumed run keeps the one its checkpoint names. It also keeps the run's
/// `hparams.yaml`, which both file loggers write.
struct RunDirectory: Sendable {
    /// The directory holding every experiment.
    let root: URL
    /// The experiment's folder name (empty: versions sit directly under `root`).
    let name: String
    /// The chosen version, nil until the run first needs its folder.
    private(set) var version: Int?
    /// Every hyper-parameter logged so far (later calls override earlier keys, as Lightning's writer).
    private var hyperparameters: OrderedDictionary<CheckpointKey, CheckpointValue> = [:]

    /// The hyper-parameters file's name.
    static let hyperparametersFileName = "hparams.yaml"

    init(root: URL, name: String, version: Int?) {
        self.root = root
        self.name = name
        self.version = version
    }

    /// The folder holding the versions.
    var experimentDirectory: URL { name.isEmpty ? root : root.appendingPathComponent(name, isDirectory: true) }

    /// Fixes the version (the next free one unless given or restored) and returns it.
    mutating func resolvedVersion() -> Int {
        if let version { return version }
        let chosen = Self.nextFreeVersion(in: experimentDirectory)
        version = chosen
        return chosen
    }

    /// The run's folder, fixing its version.
    mutating func directory() -> URL {
        experimentDirectory.appendingPathComponent("version_\(resolvedVersion())", isDirectory: true)
    }

    /// Continues the run `version` (from a checkpoint).
    mutating func resume(version: Int) { self.version = version }

    /// One more than the largest `version_N` folder present (0 when there is none).
    static func nextFreeVersion(in directory: URL) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let taken = entries.compactMap { entry -> Int? in
            guard entry.hasPrefix("version_"), let number = Int(entry.dropFirst("version_".count)), number >= 0 else { return nil }
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: directory.appendingPathComponent(entry).path, isDirectory: &isDirectory)
            return exists && isDirectory.boolValue ? number : nil
        }
        return (taken.max() ?? -1) + 1
    }

    /// Merges `tree` (a dictionary's entries, or one `value`) into the run's `hparams.yaml`.
    mutating func writeHyperparameters(_ tree: CheckpointValue) throws {
        if case let .dictionary(entries) = tree {
            hyperparameters.merge(entries) { _, new in new }
        } else {
            hyperparameters["value"] = tree
        }
        let file = try createDirectory().appendingPathComponent(Self.hyperparametersFileName)
        do {
            try Data(HyperparameterYAML.document(.dictionary(hyperparameters)).utf8).write(to: file, options: .atomic)
        } catch {
            throw LoggerError.io(path: file.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }

    /// Creates the run's folder (and its parents) if missing.
    mutating func createDirectory() throws -> URL {
        let url = directory()
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw LoggerError.io(path: url.path, reason: "cannot create the log directory: \(error.localizedDescription)")
        }
        return url
    }
}

/// Lightning's `_add_prefix`: a logger's `prefix` joined to each metric name with `-`.
func prefixedMetricName(_ name: String, prefix: String) -> String { prefix.isEmpty ? name : "\(prefix)-\(name)" }

/// A logger's state in a checkpoint names the run's version as `{"version": N, ...}`.
extension RunDirectory {
    static func savedVersion(in state: CheckpointValue, logger: String) throws -> Int {
        guard case let .int(version)? = state["/version"], version >= 0, version <= Int64(Int32.max) else {
            throw LoggerError.malformedState(logger: logger, reason: "expected a non-negative int at /version")
        }
        return Int(version)
    }
}

/// What goes wrong writing or resuming a logger's files.
public enum LoggerError: Error, Equatable, CustomStringConvertible {
    /// A file or folder could not be read or written.
    case io(path: String, reason: String)
    /// A checkpoint's saved logger state is not what the logger wrote.
    case malformedState(logger: String, reason: String)
    /// A `--logger` spec that names no logger or carries a bad option.
    case badSpec(spec: String, reason: String)
    /// Two loggers with state would file it under one key in checkpoints.
    case duplicateStateKey(key: String, first: String, second: String)

    public var description: String {
        switch self {
        case let .io(path, reason): "\(path): \(reason)"
        case let .malformedState(logger, reason): "saved state of \(logger): \(reason)"
        case let .badSpec(spec, reason): "logger spec '\(spec)': \(reason)"
        case let .duplicateStateKey(key, first, second):
            "\(first) and \(second) share the state key \(key); give one a distinct name"
        }
    }
}

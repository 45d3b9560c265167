import Foundation

/// A logger as a command line names it (`--logger csv --logger tensorboard`): a kind, then
/// optionally Lightning's arguments as `key=value` pairs, e.g.
/// `csv:name=digits,version=3,prefix=run,save_dir=logs`.
public struct LoggerSpec: Sendable, Equatable {
    /// The built-in loggers.
    public enum Kind: String, Sendable, CaseIterable {
        /// ``CSVLogger`` (also spelt `CSVLogger`).
        case csv
        /// ``TensorBoardLogger`` (also spelt `tb` or `TensorBoardLogger`).
        case tensorboard
    }

    /// Which logger.
    public var kind: Kind
    /// Lightning's `save_dir`; nil: the trainer's `defaultRootDir`.
    public var saveDirectory: String?
    /// Lightning's `name`; nil: `lightning_logs`.
    public var name: String?
    /// Lightning's `version`; nil: the next free one.
    public var version: Int?
    /// Lightning's `prefix`.
    public var prefix: String

    /// Parses `kind[:key=value,...]`; an unknown kind or key, or a bad value, is an error naming it.
    public init(parsing spec: String) throws {
        let (kindName, parsed) = try CallbackArguments.parse(spec)
        let aliases: [String: Kind] = ["csv": .csv, "csvlogger": .csv, "tensorboard": .tensorboard, "tb": .tensorboard,
                                       "tensorboardlogger": .tensorboard]
        guard let kind = aliases[kindName.lowercased()] else {
            throw LoggerError.badSpec(spec: spec, reason: "unknown logger \(kindName); known: csv, tensorboard")
        }
        var arguments = parsed
        self.kind = kind
        saveDirectory = arguments.string("save_dir")
        name = arguments.string("name")
        version = try arguments.value("version", default: nil, expected: "non-negative integer") { text in
            Int(text).flatMap { $0 >= 0 ? Optional($0) : nil }
        }
        prefix = arguments.string("prefix") ?? ""
        if let unknown = arguments.unread.first {
            throw LoggerError.badSpec(spec: spec, reason: "unknown argument \(unknown); known: save_dir, name, version, prefix")
        }
    }

    /// The logger, writing under `saveDirectory` or else `defaultRootDir`.
    public func makeLogger(defaultRootDir: String) -> any ExperimentLogger {
        let root = URL(fileURLWithPath: saveDirectory ?? defaultRootDir, isDirectory: true)
        switch kind {
        case .csv: return CSVLogger(saveDirectory: root, name: name ?? CSVLogger.defaultName, version: version, prefix: prefix)
        case .tensorboard:
            return TensorBoardLogger(saveDirectory: root, name: name ?? TensorBoardLogger.defaultName, version: version, prefix: prefix)
        }
    }

    /// The loggers `specs` name, in order. Loggers that share an experiment folder and were given
    /// no version share one run folder (the next free `version_N`), so a CSV and a TensorBoard
    /// logger of one run do not land in `version_0` and `version_1`.
    public static func makeLoggers(_ specs: [String], defaultRootDir: String) throws -> [any ExperimentLogger] {
        var parsed = try specs.map { try LoggerSpec(parsing: $0) }
        var sharedVersions: [String: Int] = [:]
        let unversionedFolders = parsed.filter { $0.version == nil }.map { $0.experimentDirectory(defaultRootDir: defaultRootDir).path }
        for (index, spec) in parsed.enumerated() where spec.version == nil {
            let folder = spec.experimentDirectory(defaultRootDir: defaultRootDir)
            guard unversionedFolders.filter({ $0 == folder.path }).count > 1 else { continue }
            let version = sharedVersions[folder.path] ?? RunDirectory.nextFreeVersion(in: folder)
            sharedVersions[folder.path] = version
            parsed[index].version = version
        }
        return parsed.map { $0.makeLogger(defaultRootDir: defaultRootDir) }
    }

    /// The folder holding this logger's `version_N` folders.
    private func experimentDirectory(defaultRootDir: String) -> URL {
        let root = URL(fileURLWithPath: saveDirectory ?? defaultRootDir, isDirectory: true)
        let folder = name ?? (kind == .csv ? CSVLogger.defaultName : TensorBoardLogger.defaultName)
        return folder.isEmpty ? root : root.appendingPathComponent(folder, isDirectory: true)
    }
}

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
        switch kind {
        case .csv: CSVLogger(saveDirectory: root(defaultRootDir), name: resolvedName, version: version, prefix: prefix)
        case .tensorboard: TensorBoardLogger(saveDirectory: root(defaultRootDir), name: resolvedName, version: version, prefix: prefix)
        }
    }

    /// The loggers `specs` name, in order. Loggers that share an experiment folder and were given
    /// no version share one run folder (the next free `version_N`), so a CSV and a TensorBoard
    /// logger of one run do not land in `version_0` and `version_1`.
    public static func makeLoggers(_ specs: [String], defaultRootDir: String) throws -> [any ExperimentLogger] {
        var parsed = try specs.map { try LoggerSpec(parsing: $0) }
        let folders = parsed.map { RunDirectory(root: $0.root(defaultRootDir), name: $0.resolvedName, version: nil).experimentDirectory }
        let unversioned = parsed.indices.filter { parsed[$0].version == nil }
        var sharedVersions: [URL: Int] = [:]
        for index in unversioned where unversioned.filter({ folders[$0] == folders[index] }).count > 1 {
            let version = sharedVersions[folders[index]] ?? RunDirectory.nextFreeVersion(in: folders[index])
            sharedVersions[folders[index]] = version
            parsed[index].version = version
        }
        return parsed.map { $0.makeLogger(defaultRootDir: defaultRootDir) }
    }

    private func root(_ defaultRootDir: String) -> URL { URL(fileURLWithPath: saveDirectory ?? defaultRootDir, isDirectory: true) }

    private var resolvedName: String { name ?? (kind == .csv ? CSVLogger.defaultName : TensorBoardLogger.defaultName) }
}

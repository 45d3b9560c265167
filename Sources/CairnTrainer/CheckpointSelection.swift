import CairnCheckpoint
import Foundation

/// Which checkpoint `fit`, `validate`, `test` or `predict` restores, as Lightning's `ckpt_path`.
public enum CheckpointSelection: Sendable, Equatable {
    /// This file.
    case path(URL)
    /// The newest `last*.ckpt` in the ModelCheckpoint's directory or ``OnExceptionCheckpoint`` file;
    /// nothing (a fresh start) when there is none.
    case last
    /// The ModelCheckpoint's best file: from the live callback, or else from the state saved in its last file.
    case best

    /// `last`, `best`, or a file path.
    public init(_ argument: String) {
        switch argument {
        case "last": self = .last
        case "best": self = .best
        default: self = .path(URL(fileURLWithPath: argument))
        }
    }
}

extension Trainer {
    /// The first ModelCheckpoint among the callbacks.
    public var checkpointCallback: ModelCheckpoint? { callbacks.lazy.compactMap { $0 as? ModelCheckpoint }.first }

    /// Where the checkpoint callback writes, known before its setup runs.
    var checkpointDirectory: URL? {
        guard let callback = checkpointCallback else { return nil }
        return URL(fileURLWithPath: callback.configuredDirpath
            ?? URL(fileURLWithPath: options.defaultRootDir).appendingPathComponent("checkpoints").path)
    }

    /// The file a selection names, or nil when `.last` finds nothing to resume.
    func resolve(_ selection: CheckpointSelection) throws -> URL? {
        switch selection {
        case let .path(url):
            return url
        case .last:
            guard let newest = try newestLastCheckpoint() else {
                logger.warning("ckpt_path last: no on-exception file and no last*.ckpt in \(checkpointDirectory?.path ?? "(no ModelCheckpoint)"); starting fresh")
                return nil
            }
            return newest
        case .best:
            if let best = checkpointCallback?.bestModelPath { return URL(fileURLWithPath: best) }
            guard let callback = checkpointCallback, let last = try newestLastCheckpoint() else {
                throw TrainerError.checkpointNotFound(selection: "best", reason: "no ModelCheckpoint with a last checkpoint to read it from")
            }
            let tree = try Checkpoint.load(last)
            let pointer = JSONPointer(tokens: ["callbacks", callback.stateKey, "best_model_path"]).description
            guard case let .string(path)? = tree[pointer], !path.isEmpty else {
                throw TrainerError.checkpointNotFound(selection: "best", reason: "\(last.path) records no \(pointer)")
            }
            // A run directory that moved holds the best file under the same name as before.
            let savedDirectory = JSONPointer(tokens: ["callbacks", callback.stateKey, "dirpath"]).description
            if !FileManager.default.fileExists(atPath: path), case let .string(oldDirectory)? = tree[savedDirectory],
               path.hasPrefix(oldDirectory + "/") {
                let moved = last.deletingLastPathComponent().appendingPathComponent(String(path.dropFirst(oldDirectory.count + 1)))
                if FileManager.default.fileExists(atPath: moved.path) { return moved }
            }
            return URL(fileURLWithPath: path)
        }
    }

    /// The newest of the ModelCheckpoint's `last*.ckpt` files and the existing on-exception files.
    private func newestLastCheckpoint() throws -> URL? {
        var candidates = callbacks.compactMap { ($0 as? OnExceptionCheckpoint)?.ckptPath }
            .filter { FileManager.default.fileExists(atPath: $0.path) }
        if let directory = checkpointDirectory, let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) {
            candidates += names.filter { $0.hasPrefix("last") && $0.hasSuffix(".ckpt") }.map { directory.appendingPathComponent($0) }
        }
        func modified(_ url: URL) -> Date {
            (try? url.resourceValues(forKeys: [.contentModificationDateKey]).contentModificationDate) ?? .distantPast
        }
        return candidates.max { (modified($0), $0.lastPathComponent) < (modified($1), $1.lastPathComponent) }
    }
}

import Foundation

/// Lightning's `OnExceptionCheckpoint`: saves the whole training state to `<dirpath>/<filename>.ckpt`
/// whenever a stage fails (including ``TrainerError/interrupted(stage:)`` from Ctrl-C), so the run
/// can resume from there; the file is removed when a later stage ends cleanly.
public final class OnExceptionCheckpoint: Callback, CheckpointingCallback, @unchecked Sendable {
    /// The directory of the file; fixed at creation, since a failure can come before any set-up.
    public let dirpath: URL
    /// The file name without its `.ckpt` extension.
    public let filename: String

    /// Whether this run saved the file, so its own (interrupted-run) tear-down keeps it.
    private var savedDuringThisRun = false
    /// Whether fit got past its restore: a failure before then has no state worth saving, and
    /// saving would replace a good file with a half-restored one (say, when resuming from it fails).
    private var fitStarted = false

    /// A callback writing `<dirpath>/<filename>.ckpt`; throws when `filename` is empty.
    public init(dirpath: String, filename: String = "on_exception") throws {
        guard !filename.isEmpty else {
            throw TrainerError.invalidConfiguration(callback: "OnExceptionCheckpoint", reason: "filename must not be empty")
        }
        self.dirpath = URL(fileURLWithPath: dirpath).standardizedFileURL
        self.filename = filename
        super.init()
    }

    /// The file written on failure.
    public var ckptPath: URL { dirpath.appendingPathComponent(filename + ".ckpt") }

    /// Each stage starts afresh: a failure skips tear-down, so the flags of a failed stage would
    /// otherwise linger into the next.
    override public func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        fitStarted = false
        savedDuringThisRun = false
    }

    override public func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        fitStarted = true
    }

    /// Saves when fit fails after `onFitStart` (Lightning saves on any failure); the save replaces
    /// any older file atomically.
    override public func onException(_ trainer: Trainer, _ module: TrainingModule, error: any Error) throws {
        guard fitStarted, trainer.stage == .fit else { return }
        do {
            try FileManager.default.createDirectory(at: dirpath, withIntermediateDirectories: true)
        } catch {
            throw TrainerError.checkpointFile(path: dirpath.path, reason: "cannot create the directory: \(error)")
        }
        try trainer.saveCheckpoint(to: ckptPath)
        savedDuringThisRun = true
    }

    /// Lightning removes the file at every tear-down, which its trainer skips after a failure;
    /// Cairn also tears down an interrupted run, so that run keeps the file it just wrote.
    override public func teardown(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        if savedDuringThisRun {
            savedDuringThisRun = false
            return
        }
        guard FileManager.default.fileExists(atPath: ckptPath.path) else { return }
        do {
            try FileManager.default.removeItem(at: ckptPath)
        } catch {
            throw TrainerError.checkpointFile(path: ckptPath.path, reason: "cannot remove the on-exception checkpoint: \(error)")
        }
    }
}

extension OnExceptionCheckpoint: RegistrableCallback {
    public static var registryName: String { "OnExceptionCheckpoint" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        guard let dirpath = arguments.string("dirpath") else {
            throw TrainerError.invalidConfiguration(callback: "OnExceptionCheckpoint", reason: "dirpath is required")
        }
        return try OnExceptionCheckpoint(dirpath: dirpath, filename: arguments.string("filename") ?? "on_exception")
    }
}

import CairnCheckpoint
import CairnData
import CairnTensor
import Foundation

/// Lightning's `ModelCheckpoint`: saves checkpoints every N optimizer steps or every N epochs,
/// keeps the `saveTopK` best by a monitored metric (or the latest when nothing is monitored),
/// and optionally a `last.ckpt` replaced on every save.
public final class ModelCheckpoint: Callback, @unchecked Sendable {
    /// Whether a lower or a higher monitored value is better.
    public enum Mode: String, Sendable { case min, max }

    /// The saved state; keys as Lightning's `ModelCheckpoint.state_dict`.
    public struct State: Codable, Sendable, Equatable {
        /// The monitored metric, or nil.
        public var monitor: String?
        /// The best monitored value so far.
        public var bestModelScore: Double?
        /// The file holding the best value (or the latest file when nothing is monitored).
        public var bestModelPath = ""
        /// The monitored value at the latest save, kept in the checkpoint that save writes.
        public var currentScore: Double?
        /// The directory the files were written to.
        public var dirpath = ""
        /// Every kept top-k file and its value.
        public var bestKModels: [String: Double] = [:]
        /// The kept file with the worst value, first to go.
        public var kthBestModelPath = ""
        /// The worst kept value.
        public var kthValue: Double?
        /// The current `last.ckpt`-style file.
        public var lastModelPath = ""

        enum CodingKeys: String, CodingKey {
            case monitor
            case bestModelScore = "best_model_score"
            case bestModelPath = "best_model_path"
            case currentScore = "current_score"
            case dirpath
            case bestKModels = "best_k_models"
            case kthBestModelPath = "kth_best_model_path"
            case kthValue = "kth_value"
            case lastModelPath = "last_model_path"
        }
    }

    /// The directory given at creation (nil: `<defaultRootDir>/checkpoints`, fixed at setup).
    public let configuredDirpath: String?
    /// The file-name template (nil: `{epoch}-{step}`).
    public let filename: String?
    /// The metric ranking the kept files, or nil to keep the latest.
    public let monitor: String?
    /// Whether lower or higher is better.
    public let mode: Mode
    /// How many files to keep: -1 all, 0 none (only `last`), k the best k.
    public let saveTopK: Int
    /// Whether a `last.ckpt` is written on every save.
    public let saveLast: Bool
    /// Save after every this many optimizer steps (0: not by steps).
    public let everyNTrainSteps: Int
    /// Save after every this many epochs (0: not by epochs).
    public let everyNEpochs: Int
    /// The state so far.
    public internal(set) var state = State()

    /// Files this instance wrote or was told (by its restored state) that it wrote; nothing
    /// else is ever deleted.
    var ownedFiles = Set<String>()
    var lastGlobalStepSaved: Int?

    /// A checkpoint callback. Throws when step and epoch triggers are both set, or when
    /// `saveTopK` is below -1, or above 1 without a monitor (the files could not be ranked).
    public init(dirpath: String? = nil, filename: String? = nil, monitor: String? = nil, mode: Mode = .min,
                saveTopK: Int = 1, saveLast: Bool = false, everyNTrainSteps: Int? = nil, everyNEpochs: Int? = nil) throws {
        let name = "ModelCheckpoint"
        if let steps = everyNTrainSteps, steps < 0 {
            throw TrainerError.invalidConfiguration(callback: name, reason: "everyNTrainSteps \(steps) must be at least 0")
        }
        if let epochs = everyNEpochs, epochs < 0 {
            throw TrainerError.invalidConfiguration(callback: name, reason: "everyNEpochs \(epochs) must be at least 0")
        }
        if (everyNTrainSteps ?? 0) > 0, (everyNEpochs ?? 0) > 0 {
            throw TrainerError.invalidConfiguration(
                callback: name, reason: "everyNTrainSteps and everyNEpochs are mutually exclusive; set one")
        }
        if saveTopK < -1 {
            throw TrainerError.invalidConfiguration(callback: name, reason: "saveTopK \(saveTopK) must be -1, 0 or positive")
        }
        if monitor == nil, saveTopK > 1 {
            throw TrainerError.invalidConfiguration(
                callback: name, reason: "saveTopK \(saveTopK) needs a monitor to rank files; use 1, 0 or -1")
        }
        configuredDirpath = dirpath
        self.filename = filename
        self.monitor = monitor
        self.mode = mode
        self.saveTopK = saveTopK
        self.saveLast = saveLast
        if everyNTrainSteps == nil, everyNEpochs == nil {
            self.everyNTrainSteps = 0
            self.everyNEpochs = 1
        } else {
            self.everyNTrainSteps = everyNTrainSteps ?? 0
            self.everyNEpochs = everyNEpochs ?? 0
        }
        super.init()
        state.monitor = monitor
        state.dirpath = dirpath ?? ""
    }

    override public var monitorsMetrics: Bool { true }

    override public var stateKey: String {
        makeStateKey([
            "monitor": monitor.map { .string($0) } ?? .null,
            "mode": .string(mode.rawValue),
            "every_n_train_steps": .int(Int64(everyNTrainSteps)),
            "every_n_epochs": .int(Int64(everyNEpochs)),
        ])
    }

    /// The directory files go to, once known.
    public var dirpath: URL { URL(fileURLWithPath: state.dirpath) }
    /// The best file so far (the latest when nothing is monitored), or nil.
    public var bestModelPath: String? { state.bestModelPath.isEmpty ? nil : state.bestModelPath }
    /// The current last file, or nil.
    public var lastModelPath: String? { state.lastModelPath.isEmpty ? nil : state.lastModelPath }

    override public func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        guard stage == .fit else { return }
        let directory = configuredDirpath
            ?? URL(fileURLWithPath: trainer.options.defaultRootDir).appendingPathComponent("checkpoints").path
        state.dirpath = URL(fileURLWithPath: directory).standardizedFileURL.path
    }

    override public func stateDict() throws -> CheckpointValue? { try CheckpointEncoder().encode(state) }

    /// Restores the top-k bookkeeping only when the files live in this run's directory, as
    /// Lightning does; elsewhere the old files are neither ranked nor deleted.
    override public func loadStateDict(_ saved: CheckpointValue) throws {
        let restored = try CheckpointDecoder().decode(State.self, from: saved)
        guard restored.dirpath == state.dirpath else { return }
        state = restored
        ownedFiles.formUnion(restored.bestKModels.keys)
        for path in [restored.bestModelPath, restored.lastModelPath] where !path.isEmpty { ownedFiles.insert(path) }
    }

    // MARK: Triggers

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        guard !shouldSkipSaving(trainer), everyNTrainSteps > 0, trainer.globalStep % everyNTrainSteps == 0 else { return }
        try save(trainer)
    }

    override public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard !shouldSkipSaving(trainer), savesOnTrainEpochEnd(trainer), epochIsDue(trainer) else { return }
        try save(trainer)
    }

    override public func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard !shouldSkipSaving(trainer), !savesOnTrainEpochEnd(trainer), epochIsDue(trainer) else { return }
        try save(trainer)
    }

    private func epochIsDue(_ trainer: Trainer) -> Bool {
        everyNEpochs >= 1 && (trainer.currentEpoch + 1) % everyNEpochs == 0
    }

    private func shouldSkipSaving(_ trainer: Trainer) -> Bool {
        trainer.stage != .fit || trainer.isSanityChecking || trainer.options.fastDevRun != nil
            || lastGlobalStepSaved == trainer.globalStep
    }

    /// Lightning's rule: at train epoch end when validation runs once per epoch (or never);
    /// otherwise after each validation.
    private func savesOnTrainEpochEnd(_ trainer: Trainer) -> Bool {
        guard trainer.options.checkValEveryNEpoch == 1 else { return false }
        return !trainer.validationEnabled || (trainer.options.valCheckInterval?.isWholeEpoch ?? true)
    }

    // MARK: Saving

    private func save(_ trainer: Trainer) throws {
        do {
            try FileManager.default.createDirectory(at: dirpath, withIntermediateDirectories: true)
        } catch {
            throw TrainerError.checkpointFile(path: dirpath.path, reason: "cannot create the directory: \(error)")
        }
        let candidates = monitorCandidates(trainer)
        lastGlobalStepSaved = trainer.globalStep
        try saveTopKCheckpoint(trainer, candidates)
        try saveLastCheckpoint(trainer, candidates)
    }

    /// The logged metrics plus `epoch` and `step`, as the file-name template sees them.
    private func monitorCandidates(_ trainer: Trainer) -> [String: Double] {
        var candidates = Dictionary(uniqueKeysWithValues: trainer.metrics.callbackMetrics.map { ($0.key, $0.value) })
        candidates["epoch"] = Double(trainer.currentEpoch)
        candidates["step"] = Double(trainer.globalStep)
        return candidates
    }

    private func saveTopKCheckpoint(_ trainer: Trainer, _ candidates: [String: Double]) throws {
        guard saveTopK != 0 else { return }
        guard let monitor else { return try saveUnmonitoredCheckpoint(trainer, candidates) }
        guard let rawValue = candidates[monitor] else {
            trainer.logger.warning("ModelCheckpoint: metric \(monitor) was not logged yet; no top-k file at step \(trainer.globalStep)")
            return
        }
        // NaN never ranks as better than a real value.
        let value = rawValue.isNaN ? (mode == .min ? Double.infinity : -Double.infinity) : rawValue
        state.currentScore = value
        guard isWorthKeeping(value) else { return }
        try updateBestAndSave(trainer, value: value, candidates)
    }

    private func isWorthKeeping(_ value: Double) -> Bool {
        if saveTopK == -1 || state.bestKModels.count < saveTopK { return true }
        guard let worst = state.bestKModels[state.kthBestModelPath] else { return true }
        return mode == .min ? value < worst : value > worst
    }

    private func isBetter(_ first: Double, than second: Double) -> Bool {
        mode == .min ? first < second : first > second
    }

    /// Writes the new file first, then drops the evicted one.
    private func updateBestAndSave(_ trainer: Trainer, value: Double, _ candidates: [String: Double]) throws {
        let keep = saveTopK == -1 ? state.bestKModels.count + 1 : saveTopK
        var evicted: String?
        if state.bestKModels.count == keep, keep > 0 {
            evicted = state.kthBestModelPath
            state.bestKModels[state.kthBestModelPath] = nil
        }
        let path = availablePath(CheckpointFilename.format(filename ?? CheckpointFilename.defaultTemplate, candidates),
                                 reusable: evicted)
        state.bestKModels[path] = value
        let ranked = state.bestKModels.sorted { isBetter($0.value, than: $1.value) || ($0.value == $1.value && $0.key < $1.key) }
        if let worst = ranked.last, state.bestKModels.count == keep {
            state.kthBestModelPath = worst.key
            state.kthValue = worst.value
        }
        if let best = ranked.first {
            state.bestModelPath = best.key
            state.bestModelScore = best.value
        }
        try write(trainer, to: path)
        if let evicted, evicted != path { removeIfOwned(evicted) }
    }

    private func saveUnmonitoredCheckpoint(_ trainer: Trainer, _ candidates: [String: Double]) throws {
        let previous = state.bestModelPath
        let path = availablePath(CheckpointFilename.format(filename ?? CheckpointFilename.defaultTemplate, candidates),
                                 reusable: saveTopK == 1 ? previous : nil)
        state.bestModelPath = path
        if saveTopK == -1 { state.bestKModels[path] = candidates["step"] }
        try write(trainer, to: path)
        if saveTopK == 1, !previous.isEmpty, previous != path { removeIfOwned(previous) }
    }

    private func saveLastCheckpoint(_ trainer: Trainer, _ candidates: [String: Double]) throws {
        guard saveLast else { return }
        let previous = state.lastModelPath
        let path = availablePath(CheckpointFilename.format(CheckpointFilename.lastTemplate, candidates, insertNames: false),
                                 reusable: previous)
        state.lastModelPath = path
        try write(trainer, to: path)
        if !previous.isEmpty, previous != path { removeIfOwned(previous) }
    }

    /// `name.ckpt`, or `name-vN.ckpt` when another file already has the name (only the file
    /// being replaced, `reusable`, may be overwritten), as Lightning's version counter.
    private func availablePath(_ name: String, reusable: String?) -> String {
        var path = dirpath.appendingPathComponent(name + ".ckpt").path
        var version = 1
        while FileManager.default.fileExists(atPath: path), path != reusable {
            path = dirpath.appendingPathComponent("\(name)-v\(version).ckpt").path
            version += 1
        }
        return path
    }

    private func write(_ trainer: Trainer, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        try trainer.saveCheckpoint(to: url)
        ownedFiles.insert(path)
        trainer.lastCheckpointPath = url
    }

    /// Deletes only files this callback wrote, inside its own directory.
    private func removeIfOwned(_ path: String) {
        guard ownedFiles.contains(path),
              URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path == state.dirpath else { return }
        try? FileManager.default.removeItem(atPath: path)
        ownedFiles.remove(path)
    }
}

extension ModelCheckpoint: RegistrableCallback {
    public static var registryName: String { "ModelCheckpoint" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        try ModelCheckpoint(
            dirpath: arguments.string("dirpath"), filename: arguments.string("filename"),
            monitor: arguments.string("monitor"),
            mode: try arguments.value("mode", default: .min, expected: "mode (min or max)") { Mode(rawValue: $0) },
            saveTopK: try arguments.int("save_top_k") ?? 1, saveLast: try arguments.bool("save_last", default: false),
            everyNTrainSteps: try arguments.int("every_n_train_steps"), everyNEpochs: try arguments.int("every_n_epochs"))
    }
}

import CairnCheckpoint
import CairnData
import CairnTensor
import Foundation
import Logging

/// Lightning's `ModelCheckpoint`: saves checkpoints every N optimizer steps, every N epochs or
/// every time interval, keeps the `saveTopK` best by a monitored metric (or the latest when
/// nothing is monitored), and optionally a `last.ckpt` replaced on every save.
public final class ModelCheckpoint: Callback, CheckpointingCallback, @unchecked Sendable {
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
        /// The optimizer step of the latest save, so a resumed run does not save that step a
        /// second time (as `-v1`, evicting the first) while accumulation keeps the step count
        /// still; Lightning keeps it in memory only. Nil in older files, read as 0.
        public var lastGlobalStepSaved: Int? = 0
        /// Seconds of `trainTimeInterval` already used when this state was saved, so the time
        /// trigger counts training time across a resume; nil without a time trigger.
        public var trainTimeElapsed: Double?

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
            case lastGlobalStepSaved = "last_global_step_saved"
            case trainTimeElapsed = "train_time_elapsed"
        }

        /// A file name as a coding key of `best_k_models`.
        struct PathKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        /// As the synthesized encoding (absent optionals left out), but `best_k_models` sorted by
        /// path: a dictionary's own order depends on its insertion history, and a resumed run
        /// must write the same bytes as an uninterrupted one.
        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(monitor, forKey: .monitor)
            try container.encodeIfPresent(bestModelScore, forKey: .bestModelScore)
            try container.encode(bestModelPath, forKey: .bestModelPath)
            try container.encodeIfPresent(currentScore, forKey: .currentScore)
            try container.encode(dirpath, forKey: .dirpath)
            var models = container.nestedContainer(keyedBy: PathKey.self, forKey: .bestKModels)
            for (path, value) in bestKModels.sorted(by: { $0.key < $1.key }) {
                try models.encode(value, forKey: PathKey(stringValue: path))
            }
            try container.encode(kthBestModelPath, forKey: .kthBestModelPath)
            try container.encodeIfPresent(kthValue, forKey: .kthValue)
            try container.encode(lastModelPath, forKey: .lastModelPath)
            try container.encodeIfPresent(lastGlobalStepSaved, forKey: .lastGlobalStepSaved)
            try container.encodeIfPresent(trainTimeElapsed, forKey: .trainTimeElapsed)
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
    /// Save after the first train batch that ends this long after the previous time save (nil: not by time).
    public let trainTimeInterval: Duration?
    /// Save at train epoch end (true) or after validation (false); nil decides as Lightning does.
    public let saveOnTrainEpochEnd: Bool?
    /// Write only the weights (and the loop counters), not the training state; such files cannot be resumed from.
    public let saveWeightsOnly: Bool
    /// Whether template fields are written `name=value` (false: just the value).
    public let autoInsertMetricName: Bool
    /// The state so far.
    public internal(set) var state = State()

    /// Called with each file about to be evicted, after the new files are written: a seam for
    /// crash tests (see `cairn`'s `CAIRN_PAUSE_BEFORE_EVICTION`), nil otherwise.
    public var beforeEviction: (@Sendable (String) -> Void)?

    /// Files this instance wrote or was told (by its restored state) that it wrote; nothing
    /// else is ever deleted.
    var ownedFiles = Set<String>()
    /// Own files of a future a resume rolled back: the replay may overwrite them by name.
    var replayableFiles = Set<String>()
    var lastTimeChecked: ContinuousClock.Instant?
    let clock: @Sendable () -> ContinuousClock.Instant
    /// What the restore in progress needs from the trainer (the file, its step, the logger).
    var restoreContext: RestoreContext?

    /// A checkpoint callback. Throws when more than one of the step, epoch and time triggers is
    /// set, when `saveTopK` is below -1, or above 1 without a monitor (the files could not be
    /// ranked). `clock` is read by the time trigger (tests pass a manual one).
    public init(dirpath: String? = nil, filename: String? = nil, monitor: String? = nil, mode: Mode = .min,
                saveTopK: Int = 1, saveLast: Bool = false, everyNTrainSteps: Int? = nil, everyNEpochs: Int? = nil,
                trainTimeInterval: Duration? = nil, saveOnTrainEpochEnd: Bool? = nil, saveWeightsOnly: Bool = false,
                autoInsertMetricName: Bool = true,
                clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }) throws {
        let name = "ModelCheckpoint"
        if let steps = everyNTrainSteps, steps < 0 {
            throw TrainerError.invalidConfiguration(callback: name, reason: "everyNTrainSteps \(steps) must be at least 0")
        }
        if let epochs = everyNEpochs, epochs < 0 {
            throw TrainerError.invalidConfiguration(callback: name, reason: "everyNEpochs \(epochs) must be at least 0")
        }
        if let interval = trainTimeInterval, interval <= .zero {
            throw TrainerError.invalidConfiguration(callback: name, reason: "trainTimeInterval \(interval) must be positive")
        }
        let triggers = [(everyNTrainSteps ?? 0) > 0, (everyNEpochs ?? 0) > 0, trainTimeInterval != nil].filter { $0 }.count
        if triggers > 1 {
            throw TrainerError.invalidConfiguration(
                callback: name, reason: "everyNTrainSteps, everyNEpochs and trainTimeInterval are mutually exclusive; set one")
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
        // As Lightning: no trigger at all means once per epoch.
        if everyNTrainSteps == nil, everyNEpochs == nil, trainTimeInterval == nil {
            self.everyNTrainSteps = 0
            self.everyNEpochs = 1
        } else {
            self.everyNTrainSteps = everyNTrainSteps ?? 0
            self.everyNEpochs = everyNEpochs ?? 0
        }
        self.trainTimeInterval = trainTimeInterval
        self.saveOnTrainEpochEnd = saveOnTrainEpochEnd
        self.saveWeightsOnly = saveWeightsOnly
        self.autoInsertMetricName = autoInsertMetricName
        self.clock = clock
        super.init()
        state.monitor = monitor
        state.dirpath = dirpath ?? ""
    }

    override public var monitorsMetrics: Bool { true }

    /// Lightning's fields (`train_time_interval` in seconds), so instances differing in any of
    /// them keep separate states.
    override public var stateKey: String {
        makeStateKey([
            "monitor": monitor.map { .string($0) } ?? .null,
            "mode": .string(mode.rawValue),
            "every_n_train_steps": .int(Int64(everyNTrainSteps)),
            "every_n_epochs": .int(Int64(everyNEpochs)),
            "train_time_interval": trainTimeInterval.map { .double(Self.seconds($0)) } ?? .null,
        ])
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
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

    override public func stateDict() throws -> CheckpointValue? {
        var saved = state
        if trainTimeInterval != nil { saved.trainTimeElapsed = lastTimeChecked.map { Self.seconds(clock() - $0) } }
        return try CheckpointEncoder().encode(saved)
    }

    override public func onLoadCheckpoint(_ trainer: Trainer, _ module: TrainingModule, checkpoint: CheckpointValue) throws {
        var step: Int?
        if case let .int(saved)? = checkpoint["/global_step"] { step = Int(exactly: saved) }
        restoreContext = RestoreContext(stage: trainer.stage, file: trainer.restoredCheckpointPath?.standardizedFileURL.path,
                                        step: step, logger: trainer.logger)
    }

    /// Restores the top-k bookkeeping: as Lightning in the same directory, and also after the run directory moved.
    override public func loadStateDict(_ saved: CheckpointValue) throws {
        restore(try CheckpointDecoder().decode(State.self, from: saved))
    }

    // MARK: Triggers

    override public func onTrainStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        // A restored state carries the part of the interval already trained.
        lastTimeChecked = clock() - .seconds(state.trainTimeElapsed ?? 0)
        state.trainTimeElapsed = nil
    }

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        guard !shouldSkipSaving(trainer) else { return }
        let stepDue = everyNTrainSteps > 0 && trainer.globalStep % everyNTrainSteps == 0
        var timeDue = false
        if let trainTimeInterval, let lastTimeChecked {
            let now = clock()
            timeDue = now - lastTimeChecked >= trainTimeInterval
            if timeDue { self.lastTimeChecked = now }
        }
        guard stepDue || timeDue else { return }
        try save(trainer, topK: true)
    }

    override public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard !shouldSkipSaving(trainer), savesOnTrainEpochEnd(trainer), epochIsDue(trainer) else { return }
        try save(trainer, topK: true)
    }

    override public func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard !shouldSkipSaving(trainer), !savesOnTrainEpochEnd(trainer), epochIsDue(trainer) else { return }
        try save(trainer, topK: true)
    }

    private func epochIsDue(_ trainer: Trainer) -> Bool {
        everyNEpochs >= 1 && (trainer.currentEpoch + 1) % everyNEpochs == 0
    }

    private func shouldSkipSaving(_ trainer: Trainer) -> Bool {
        trainer.stage != .fit || trainer.isSanityChecking || trainer.options.fastDevRun != nil
            || (state.lastGlobalStepSaved ?? 0) == trainer.globalStep
    }

    /// `saveOnTrainEpochEnd`, or Lightning's rule when nil: at train epoch end when validation
    /// runs once per epoch (or never); otherwise after each validation.
    func savesOnTrainEpochEnd(_ trainer: Trainer) -> Bool {
        if let saveOnTrainEpochEnd { return saveOnTrainEpochEnd }
        guard trainer.options.checkValEveryNEpoch == 1 else { return false }
        return !trainer.validationEnabled || (trainer.options.valCheckInterval?.isWholeEpoch ?? true)
    }
}

extension ModelCheckpoint: RegistrableCallback {
    public static var registryName: String { "ModelCheckpoint" }

    /// Lightning's argument names; `train_time_interval` is in seconds.
    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let optionalBool: (String) -> Bool?? = { ["true": true, "1": true, "false": false, "0": false][$0.lowercased()].map { Optional($0) } }
        let interval = try arguments.value("train_time_interval", default: nil, expected: "positive number of seconds") { text in
            // Bounded so the conversion to whole milliseconds cannot overflow.
            Double(text).flatMap { $0 > 0 && $0 < 1e12 ? Optional(Duration.milliseconds(Int64(($0 * 1000).rounded()))) : nil }
        }
        return try ModelCheckpoint(
            dirpath: arguments.string("dirpath"), filename: arguments.string("filename"),
            monitor: arguments.string("monitor"),
            mode: try arguments.value("mode", default: .min, expected: "mode (min or max)") { Mode(rawValue: $0) },
            saveTopK: try arguments.int("save_top_k") ?? 1, saveLast: try arguments.bool("save_last", default: false),
            everyNTrainSteps: try arguments.int("every_n_train_steps"), everyNEpochs: try arguments.int("every_n_epochs"),
            trainTimeInterval: interval,
            saveOnTrainEpochEnd: try arguments.value("save_on_train_epoch_end", default: nil, expected: "Boolean (true or false)", optionalBool),
            saveWeightsOnly: try arguments.bool("save_weights_only", default: false),
            autoInsertMetricName: try arguments.bool("auto_insert_metric_name", default: true))
    }
}

import Foundation

// Saving follows Lightning's `_save_topk_checkpoint` then `_save_last_checkpoint`, with one
// change of order: evicted files are deleted only after every new file (the top-k one and
// `last`) is on disk, so a crash at any moment leaves the files the newest state names.
extension ModelCheckpoint {
    func save(_ trainer: Trainer, topK: Bool) throws {
        do {
            try FileManager.default.createDirectory(at: dirpath, withIntermediateDirectories: true)
        } catch {
            throw TrainerError.checkpointFile(path: dirpath.path, reason: "cannot create the directory: \(error)")
        }
        let candidates = monitorCandidates(trainer)
        var evictions: [String] = []
        let wroteTopK = topK ? try saveTopKCheckpoint(trainer, candidates, evictions: &evictions) : false
        try saveLastCheckpoint(trainer, candidates, evictions: &evictions)
        if wroteTopK { try refreshEarlierLastFiles(trainer) }
        for path in evictions where shouldRemove(path, trainer: trainer) {
            beforeEviction?(path)
            try? FileManager.default.removeItem(atPath: path)
            ownedFiles.remove(path)
        }
    }

    /// The logged metrics plus `epoch` and `step`, as the file-name template sees them.
    private func monitorCandidates(_ trainer: Trainer) -> [String: Double] {
        var candidates = Dictionary(uniqueKeysWithValues: trainer.metrics.callbackMetrics.map { ($0.key, $0.value) })
        candidates["epoch"] = Double(trainer.currentEpoch)
        candidates["step"] = Double(trainer.globalStep)
        return candidates
    }

    /// Whether a top-k file was written.
    private func saveTopKCheckpoint(_ trainer: Trainer, _ candidates: [String: Double], evictions: inout [String]) throws -> Bool {
        guard saveTopK != 0 else { return false }
        guard let monitor else { return try saveUnmonitoredCheckpoint(trainer, candidates, evictions: &evictions) }
        guard let rawValue = candidates[monitor] else {
            trainer.logger.warning("ModelCheckpoint: metric \(monitor) was not logged yet; no top-k file at step \(trainer.globalStep)")
            return false
        }
        // NaN never ranks as better than a real value.
        let value = rawValue.isNaN ? (mode == .min ? Double.infinity : -Double.infinity) : rawValue
        state.currentScore = value
        guard isWorthKeeping(value) else { return false }
        try updateBestAndSave(trainer, value: value, candidates, evictions: &evictions)
        return true
    }

    private func isWorthKeeping(_ value: Double) -> Bool {
        if saveTopK == -1 || state.bestKModels.count < saveTopK { return true }
        guard let worst = state.bestKModels[state.kthBestModelPath] else { return true }
        return isBetter(value, than: worst)
    }

    private func isBetter(_ first: Double, than second: Double) -> Bool {
        mode == .min ? first < second : first > second
    }

    /// Best first; ties by path so the ranking never depends on dictionary order.
    func ranked(_ models: [String: Double]) -> [(key: String, value: Double)] {
        models.sorted { isBetter($0.value, than: $1.value) || ($0.value == $1.value && $0.key < $1.key) }
    }

    private func updateBestAndSave(_ trainer: Trainer, value: Double, _ candidates: [String: Double],
                                   evictions: inout [String]) throws {
        let keep = saveTopK == -1 ? state.bestKModels.count + 1 : saveTopK
        var evicted: String?
        if state.bestKModels.count == keep, keep > 0 {
            evicted = state.kthBestModelPath
            state.bestKModels[state.kthBestModelPath] = nil
        }
        let path = availablePath(formattedName(candidates), replacing: evicted)
        state.bestKModels[path] = value
        let order = ranked(state.bestKModels)
        if let worst = order.last, state.bestKModels.count == keep {
            state.kthBestModelPath = worst.key
            state.kthValue = worst.value
        }
        if let best = order.first {
            state.bestModelPath = best.key
            state.bestModelScore = best.value
        }
        try write(trainer, to: path)
        if let evicted, evicted != path { evictions.append(evicted) }
    }

    private func saveUnmonitoredCheckpoint(_ trainer: Trainer, _ candidates: [String: Double], evictions: inout [String]) throws -> Bool {
        let previous = state.bestModelPath
        let path = availablePath(formattedName(candidates), replacing: saveTopK == 1 ? previous : nil)
        state.bestModelPath = path
        if saveTopK == -1 { state.bestKModels[path] = candidates["step"] }
        try write(trainer, to: path)
        if saveTopK == 1, !previous.isEmpty, previous != path { evictions.append(previous) }
        return true
    }

    private func formattedName(_ candidates: [String: Double]) -> String {
        CheckpointFilename.format(filename ?? CheckpointFilename.defaultTemplate, candidates, insertNames: autoInsertMetricName)
    }

    private func saveLastCheckpoint(_ trainer: Trainer, _ candidates: [String: Double], evictions: inout [String]) throws {
        guard saveLast else { return }
        let previous = state.lastModelPath
        let path = availablePath(CheckpointFilename.format(CheckpointFilename.lastTemplate, candidates, insertNames: false),
                                 replacing: previous)
        state.lastModelPath = path
        try write(trainer, to: path)
        if !previous.isEmpty, previous != path { evictions.append(previous) }
    }

    /// Another ModelCheckpoint that already wrote its `last` file at this step wrote this
    /// callback's old state into it; rewriting it keeps a resume from `last` in step with the
    /// top-k file just written (Lightning's `last` would miss it and leave a stray file).
    private func refreshEarlierLastFiles(_ trainer: Trainer) throws {
        for case let other as ModelCheckpoint in trainer.callbacks where other !== self {
            // A `saveLast` callback writes `last` in every save, so its latest save's step is its `last` file's.
            guard other.saveLast, other.state.lastGlobalStepSaved == trainer.globalStep, let path = other.lastModelPath else { continue }
            try trainer.saveCheckpoint(to: URL(fileURLWithPath: path), weightsOnly: other.saveWeightsOnly)
        }
    }

    /// `name.ckpt`, or `name-vN.ckpt` when another file already has the name, as Lightning's
    /// version counter; only the file being replaced, or an own file of a rolled-back future
    /// the resumed run is replaying, may be overwritten.
    private func availablePath(_ name: String, replacing replaced: String?) -> String {
        func mayTake(_ path: String) -> Bool {
            !FileManager.default.fileExists(atPath: path) || path == replaced || replayableFiles.contains(path)
        }
        var path = dirpath.appendingPathComponent(name + ".ckpt").path
        var version = 1
        while !mayTake(path) {
            path = dirpath.appendingPathComponent("\(name)-v\(version).ckpt").path
            version += 1
        }
        replayableFiles.remove(path)
        return path
    }

    private func write(_ trainer: Trainer, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        do {
            // A metric name holding `/` makes a subfolder, as in Lightning.
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        } catch {
            throw TrainerError.checkpointFile(path: path, reason: "cannot create its folder: \(error)")
        }
        // Before the save, so the file's own state already says this step is saved.
        state.lastGlobalStepSaved = trainer.globalStep
        try trainer.saveCheckpoint(to: url, weightsOnly: saveWeightsOnly)
        ownedFiles.insert(path)
        trainer.lastCheckpointPath = url
    }

    /// Lightning's `_should_remove_checkpoint` (inside this directory, not the file resumed
    /// from), and only files this callback wrote.
    private func shouldRemove(_ path: String, trainer: Trainer) -> Bool {
        guard ownedFiles.contains(path), isInsideDirectory(path) else { return false }
        if let resumed = trainer.restoredCheckpointPath, resumed.standardizedFileURL.path == path { return false }
        return true
    }

    func isInsideDirectory(_ path: String) -> Bool {
        let directory = state.dirpath.hasSuffix("/") ? state.dirpath : state.dirpath + "/"
        return URL(fileURLWithPath: path).standardizedFileURL.path.hasPrefix(directory)
    }
}

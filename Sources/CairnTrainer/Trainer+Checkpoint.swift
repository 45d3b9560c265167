import CairnCheckpoint
import CairnNN
import CairnTensor
import CairnTensorCheckpoint
import Foundation
import OrderedCollections

extension Trainer {
    /// The whole training state as Lightning lays it out: `epoch`, `global_step`, `state_dict`,
    /// `loops` (with the train loader's resume point), `optimizer_states`, `lr_schedulers`,
    /// `callbacks/<stateKey>`, `hyper_parameters`, `datamodule` and `rng_states`; then each
    /// callback's and the module's `onSaveCheckpoint` may add to it.
    public func dumpCheckpoint() throws -> CheckpointValue { try dumpCheckpoint(weightsOnly: false) }

    /// As ``dumpCheckpoint()``; with `weightsOnly`, as Lightning's `save_weights_only`: only `epoch`,
    /// `global_step`, `state_dict`, `loops`, `hyper_parameters` and `datamodule`, and only the
    /// module's `onSaveCheckpoint` runs (no optimizer, callback or generator state: nothing to resume from).
    public func dumpCheckpoint(weightsOnly: Bool) throws -> CheckpointValue {
        guard let module else { preconditionFailure("dumpCheckpoint: no module is running; call it from a hook") }
        var savedProgress = progress
        // The redo of a batch in flight zeroes the gradients again (they come back as before the batch).
        if trainBatchInFlight, let before = stateBeforeBatch { savedProgress.zeroGrad = before.zeroGrad }
        // A validation cut short runs again from its first batch: count it as not begun.
        if fitValidationInFlight { savedProgress.fitValidationBatch.forgetCurrentRun() }
        var loops = savedProgress.checkpointValue
        if let trainLoader, case var .dictionary(fitLoop)? = loops["/fit_loop"], case var .dictionary(root) = loops {
            let loaderState = trainBatchInFlight ? stateBeforeBatch?.trainLoader ?? trainLoader.stateDict() : trainLoader.stateDict()
            fitLoop["state_dict"] = .dictionary(["combined_loader": .list([CheckpointValue(loaderState)])])
            // Lightning does not save a requested stop, so its resumed run trains on until the
            // next check asks again; Cairn stops where the uninterrupted run stopped.
            if case var .dictionary(epochLoop)? = fitLoop["epoch_loop.state_dict"] {
                epochLoop["_should_stop"] = .bool(shouldStop)
                fitLoop["epoch_loop.state_dict"] = .dictionary(epochLoop)
            }
            root["fit_loop"] = .dictionary(fitLoop)
            loops = .dictionary(root)
        }
        loops = addingLoggedResults(to: loops)
        var callbackStates = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for callback in callbacks {
            if let state = try callback.stateDict() { callbackStates[.string(callback.stateKey)] = state }
        }
        var tree: OrderedDictionary<CheckpointKey, CheckpointValue> = [
            "epoch": .int(Int64(currentEpoch)),
            "global_step": .int(Int64(globalStep)),
            "state_dict": CheckpointValue(tensors: module.stateDict()),
            "loops": loops,
        ]
        if !weightsOnly {
            tree["optimizer_states"] = .list(optimizer.map { [CheckpointValue($0.stateDict())] } ?? [])
            tree["lr_schedulers"] = lrSchedulerStates
            tree["callbacks"] = .dictionary(callbackStates)
            if let gradients = accumulatedGradientsEntry(of: module) { tree[.string(Self.accumulatedGradientsKey)] = gradients }
        }
        if let hyperparameters = module.hyperparameters { tree["hyper_parameters"] = hyperparameters }
        if let loggerStates = try loggerStates() { tree["loggers"] = loggerStates }
        if let dataState = try dataModule?.stateDict() { tree["datamodule"] = dataState }
        if !weightsOnly { tree["rng_states"] = rngStates(of: module, batchInFlight: trainBatchInFlight) }
        var checkpoint = CheckpointValue.dictionary(tree)
        if !weightsOnly {
            for callback in callbacks { try callback.onSaveCheckpoint(self, module, checkpoint: &checkpoint) }
        }
        try module.onSaveCheckpoint(checkpoint: &checkpoint)
        return checkpoint
    }

    /// Saves ``dumpCheckpoint()`` to `url` (atomically replacing any file there).
    public func saveCheckpoint(to url: URL) throws {
        try Checkpoint.save(try dumpCheckpoint(), to: url)
    }

    /// Saves ``dumpCheckpoint(weightsOnly:)`` to `url` (atomically replacing any file there).
    public func saveCheckpoint(to url: URL, weightsOnly: Bool) throws {
        try Checkpoint.save(try dumpCheckpoint(weightsOnly: weightsOnly), to: url)
    }

    /// Fit resumes training, so it needs what a weights-only file leaves out; evaluation needs only weights.
    func requireTrainingState(in checkpoint: CheckpointValue, file: URL, stage: Stage) throws {
        // Without weights it is not a weights-only file but a broken one, which the restore reports.
        guard stage == .fit, checkpoint["/state_dict"] != nil else { return }
        let missing = ["optimizer_states", "callbacks"].filter { checkpoint["/\($0)"] == nil }
        guard !missing.isEmpty else { return }
        throw TrainerError.checkpointFile(
            path: file.path,
            reason: "holds no \(missing.joined(separator: " or ")) (a weights-only checkpoint, as ModelCheckpoint saveWeightsOnly "
                + "writes), so fit cannot resume from it; use it with validate, test or predict, or load its state_dict into the module")
    }

    /// A training batch has started and is not processed: a checkpoint now resumes by redoing it.
    var trainBatchInFlight: Bool { progress.trainBatch.current.ready > progress.trainBatch.current.processed }

    /// Fit's validation has begun and its end hooks have not: a checkpoint now resumes by running it again.
    var fitValidationInFlight: Bool {
        stage == .fit && metricPhase == .evaluation && !isSanityChecking
            && progress.validationCheckedBatches < progress.trainBatch.total.processed
    }

    /// `{"trainer": words, "dropout": {module path: words}}`; words are stored bit-for-bit as Int64.
    /// With a batch in flight, the generators as they were before it: the resume redoes the batch,
    /// which must draw the same dropout masks again.
    private func rngStates(of module: TrainingModule, batchInFlight: Bool) -> CheckpointValue {
        func words(_ generator: RandomGenerator) -> CheckpointValue {
            .list(generator.state.map { .int(Int64(bitPattern: $0)) })
        }
        var dropouts = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for (name, child) in module.namedModules() {
            guard let dropout = child as? Dropout else { continue }
            var generator = dropout.rng
            if batchInFlight, let before = stateBeforeBatch, let position = fitDropouts?.firstIndex(where: { $0 === dropout }),
               position < before.dropoutGenerators.count {
                generator = before.dropoutGenerators[position]
            }
            dropouts[.string(name)] = words(generator)
        }
        let trainerGenerator = batchInFlight ? stateBeforeBatch?.rng ?? rng : rng
        return .dictionary(["trainer": words(trainerGenerator), "dropout": .dictionary(dropouts)])
    }

    /// Notes ``StateBeforeBatch`` before a training batch; the module's dropouts are found once per
    /// fit. Runs every batch, so it only copies values (the metrics are copy-on-write: no copy
    /// unless the batch logs).
    func recordStateBeforeBatch(of module: TrainingModule, loader: any BatchLoader) {
        if fitDropouts == nil { fitDropouts = module.namedModules().compactMap { $0.module as? Dropout } }
        stateBeforeBatch = StateBeforeBatch(trainLoader: loader.stateDict(), rng: rng,
                                            dropoutGenerators: fitDropouts?.map(\.rng) ?? [], metrics: metrics,
                                            zeroGrad: progress.zeroGrad)
    }
}

/// What a training batch changes before it is processed, as it was before the batch: a checkpoint
/// written while the batch is in flight (after its backward pass, on an exception) saves these, so
/// the resume redoes the batch with the same loader position, dropout masks and metrics.
struct StateBeforeBatch {
    /// The train loader's position.
    var trainLoader: StateValue
    /// ``Trainer/rng``.
    var rng: RandomGenerator
    /// Each of the fit's dropout layers' generators, in ``Trainer/fitDropouts`` order.
    var dropoutGenerators: [RandomGenerator]
    /// The logged metrics.
    var metrics: LoggedMetrics
    /// The optimizer's zero-grad progress.
    var zeroGrad: ProgressTracker
}

extension Trainer {

    func loadCheckpointTree(_ url: URL) throws -> CheckpointValue {
        try Checkpoint.load(url)
    }

    /// Lightning's `_restore_modules_and_callbacks`: the module's hook, its weights, hyper-parameters,
    /// the data module, then each callback's hook and state by key (mismatches become warnings);
    /// generators are restored here too so the model is whole before any step.
    func restoreModulesAndCallbacks(from checkpoint: CheckpointValue, module: TrainingModule, data: DataModule,
                                    stage: Stage) throws {
        try module.onLoadCheckpoint(checkpoint: checkpoint)
        try module.loadStateDict(try savedWeights(in: checkpoint))
        if let hyperparameters = checkpoint["/hyper_parameters"] { module.hyperparameters = hyperparameters }
        if let dataState = checkpoint["/datamodule"] { try data.loadStateDict(dataState) }
        for callback in callbacks { try callback.onLoadCheckpoint(self, module, checkpoint: checkpoint) }
        try restoreCallbackStates(from: checkpoint, stage: stage)
        try restoreGenerators(from: checkpoint, module: module)
    }


    /// Mismatched states are warned about only when fitting: validate, test and predict never
    /// continue a callback's work, so a fresh trainer evaluating a checkpoint stays quiet
    /// (the mismatches are still in ``callbackStateWarnings``).
    /// The tensors under `/state_dict`, by name.
    func savedWeights(in checkpoint: CheckpointValue) throws -> OrderedDictionary<String, Tensor> {
        try (checkpoint["/state_dict"] ?? .null).tensorDictionary(path: "/state_dict")
    }

    private func restoreCallbackStates(from checkpoint: CheckpointValue, stage: Stage) throws {
        var saved = OrderedDictionary<String, CheckpointValue>()
        if case let .dictionary(entries)? = checkpoint["/callbacks"] {
            for (key, value) in entries { saved[key.token] = value }
        }
        var warnings: [CallbackStateWarning] = []
        var claimed = Set<String>()
        for callback in callbacks {
            let key = callback.stateKey
            if let state = saved[key] {
                try callback.loadStateDict(state)
                claimed.insert(key)
            } else if try callback.stateDict() != nil {
                warnings.append(CallbackStateWarning(kind: .callbackWithoutSavedState, stateKey: key))
            }
        }
        for key in saved.keys where !claimed.contains(key) {
            warnings.append(CallbackStateWarning(kind: .savedStateWithoutCallback, stateKey: key))
        }
        for warning in warnings {
            if stage == .fit { logger.warning("\(warning.description)") } else { logger.debug("\(warning.description)") }
        }
        callbackStateWarnings = warnings
    }

    func restoreGenerators(from checkpoint: CheckpointValue, module: TrainingModule) throws {
        func generator(_ pointer: String) throws -> RandomGenerator? {
            guard let value = checkpoint[pointer] else { return nil }
            guard case let .list(items) = value else {
                throw TrainerError.malformedCheckpoint(path: pointer, reason: "expected a list of four ints")
            }
            let words: [UInt64] = try items.map {
                guard case let .int(word) = $0 else {
                    throw TrainerError.malformedCheckpoint(path: pointer, reason: "expected a list of four ints")
                }
                return UInt64(bitPattern: word)
            }
            do {
                return try RandomGenerator(state: words)
            } catch {
                throw TrainerError.malformedCheckpoint(path: pointer, reason: "\(error)")
            }
        }
        if let trainerGenerator = try generator("/rng_states/trainer") { rng = trainerGenerator }
        for (name, child) in module.namedModules() {
            guard let dropout = child as? Dropout else { continue }
            let pointer = JSONPointer(tokens: ["rng_states", "dropout", name])
            if let restored = try generator(pointer.description) { dropout.rng = restored }
        }
    }

    /// Lightning's `restore_training_state`: the optimizer, then the loops (counters rewound to
    /// the last processed batch, so the next run continues at the very next batch).
    func restoreTrainingState(from checkpoint: CheckpointValue, stage: Stage) throws {
        guard stage == .fit else { return }
        if let optimizer, let saved = checkpoint["/optimizer_states/0"] {
            try optimizer.loadStateDict(try StateValue(saved, path: "/optimizer_states/0"))
        }
        try restoreLRSchedulers(from: checkpoint)
        try restoreAccumulatedGradients(from: checkpoint)
        guard let loops = checkpoint["/loops"] else { return }
        var restored = try LoopProgress(loops)
        restartingMidEpoch = restored.epoch.current.started > restored.epoch.current.processed
        // Written during an epoch's end hooks: the epoch is processed but not completed, and what
        // follows those hooks (epoch means, the epoch plateau step) is still to do. Lightning rewinds
        // to completed and reruns the epoch end; Cairn keeps the hooks that ran and does only the rest.
        restartingAtEpochEnd = restored.epoch.current.processed > restored.epoch.current.completed
        restored.resetOnRestart()
        if restartingAtEpochEnd {
            restored.epoch.current.completed -= 1
            restored.epoch.total.completed -= 1
        }
        progress = restored
        if case let .bool(stop)? = loops["/fit_loop/epoch_loop.state_dict/_should_stop"] { shouldStop = stop }
        try restoreLoggers(from: checkpoint)
        if let loaderState = checkpoint["/loops/fit_loop/state_dict/combined_loader/0"] {
            pendingTrainLoaderState = try StateValue(loaderState, path: "/loops/fit_loop/state_dict/combined_loader/0")
        }
    }
}

import CairnData
import CairnNN
import CairnOptim
import CairnTensor

extension Trainer {
    var maxEpochs: Int? {
        if let maxEpochs = options.maxEpochs { return maxEpochs }
        // Lightning's `_parse_loop_limits`: 1000 unless max_steps or a Timer (max_time) bounds the run.
        return options.maxSteps == nil && options.maxTime == nil ? 1000 : nil
    }

    var maxStepsReached: Bool { options.maxSteps.map { globalStep >= $0 } ?? false }

    /// Lightning's `FitLoop.done`.
    var fitDone: Bool {
        if maxStepsReached { return true }
        if let maxEpochs, currentEpoch >= maxEpochs { return true }
        return stopHonoured
    }

    /// ``Trainer/shouldStop``, once `minEpochs` allows stopping (Lightning's `_can_stop_early`).
    var stopHonoured: Bool { shouldStop && currentEpoch >= (options.minEpochs ?? 0) }

    /// Lightning's Timer callback: asks to stop once `maxTime` has passed since training began.
    private func stopIfOutOfTime() {
        guard let maxTime = options.maxTime, let trainingStartedAt else { return }
        if ContinuousClock.now - trainingStartedAt >= maxTime { shouldStop = true }
    }

    var validationEnabled: Bool { validationLoader != nil && options.limitValBatches != 0 }

    func runSanityCheck() throws {
        // As Lightning (`not val_loop.restarting`): a resumed run ran its sanity check already, and
        // running it again would disturb the restored state.
        guard validationEnabled, options.numSanityValSteps > 0, restoredCheckpointPath == nil,
              let module, let validationLoader else { return }
        isSanityChecking = true
        metrics.reset()
        let savedProgress = progress.fitValidationBatch
        for callback in callbacks { try callback.onSanityCheckStart(self, module) }
        try runEvaluation(.validate, loader: validationLoader, limit: options.numSanityValSteps)
        for callback in callbacks { try callback.onSanityCheckEnd(self, module) }
        progress.fitValidationBatch = savedProgress
        metrics.reset()
        isSanityChecking = false
    }

    func runFitLoop() throws {
        // A restored epoch still in progress (its batches or its end) is finished even when the
        // limits are already reached, as the uninterrupted run finished it.
        guard let module, let trainLoader, options.limitTrainBatches != 0,
              !fitDone || restartingMidEpoch || restartingAtEpochEnd else { return }
        let batchCount = min(trainLoader.batchesPerEpoch, options.limitTrainBatches ?? Int.max)
        if validationEnabled { try checkValCheckInterval(batchesPerEpoch: batchCount) }
        module.train()
        accumulateGradBatches = options.accumulateGradBatches
        for callback in callbacks { try callback.onTrainStart(self, module) }
        try module.onTrainStart()
        trainingStartedAt = .now
        if restartingAtEpochEnd {
            restartingAtEpochEnd = false
            try completeEpoch(reachedLastBatch: progress.trainBatch.current.processed >= batchCount)
        }
        while !fitDone || restartingMidEpoch {
            progress.epoch.incrementReady()
            if !restartingMidEpoch {
                try trainLoader.startEpoch(currentEpoch)
                progress.trainBatch.resetCurrent()
                progress.schedulerStep.resetCurrent()
            }
            metricPhase = .training
            for callback in callbacks { try callback.onTrainEpochStart(self, module) }
            try module.onTrainEpochStart()
            progress.epoch.incrementStarted()
            let reachedLastBatch = try runTrainEpoch(module, trainLoader, batchCount: batchCount)
            restartingMidEpoch = false
            progress.epoch.incrementProcessed()
            metricPhase = .training
            // No batch is current in epoch-end hooks: what they log weighs 1, whether or not the
            // epoch's last batch ran in this process (a resumed run would not know its size).
            currentBatchSize = 1
            // Callbacks first, except those that watch metrics: they run after the module so
            // they see what it logs in its own epoch-end hook (Lightning's FitLoop.on_advance_end).
            // Each group sees the epoch's means so far, as Lightning's callback_metrics at epoch end.
            metrics.publishEpoch(.training)
            for callback in callbacks where !callback.monitorsMetrics { try callback.onTrainEpochEnd(self, module) }
            try module.onTrainEpochEnd()
            metrics.publishEpoch(.training)
            for callback in callbacks where callback.monitorsMetrics { try callback.onTrainEpochEnd(self, module) }
            try completeEpoch(reachedLastBatch: reachedLastBatch)
        }
        for callback in callbacks { try callback.onTrainEnd(self, module) }
        try module.onTrainEnd()
    }

    /// What follows the epoch-end hooks: the epoch means, then the plateau monitors, which step once
    /// the epoch's metrics are final (Lightning's FitLoop.on_advance_end).
    private func completeEpoch(reachedLastBatch: Bool) throws {
        metricPhase = .training
        try logTrainEpochMetrics(metrics.finishEpoch(.training))
        if reachedLastBatch { try updateLRSchedulers(.epoch, plateau: true, batchIndex: 0) }
        progress.epoch.incrementCompleted()
    }

    /// Lightning's `_TrainingEpochLoop`: one epoch's batches, each followed by validation when due;
    /// returns whether the epoch ran to its last batch.
    private func runTrainEpoch(_ module: TrainingModule, _ loader: any BatchLoader, batchCount: Int) throws -> Bool {
        var reachedLastBatch: Bool { progress.trainBatch.current.processed >= batchCount }
        // Restored after a batch whose tail had not run (a checkpoint in its end hooks or in the
        // validation after it): finish that tail first. Lightning does the same when restarting:
        // `advance` skips training when a validation is due and `on_advance_end` runs it.
        if restartingMidEpoch, progress.trainBatch.current.processed > 0,
           progress.batchTailsCompleted < progress.trainBatch.total.processed {
            let batchIndex = progress.trainBatch.current.processed - 1
            let isLastBatch = batchIndex == batchCount - 1
            // The loggers count that batch's own step only once its tail is over (see `loggingStep`).
            let stepped = !isAccumulating(batchIndex: batchIndex, isLastBatch: isLastBatch)
            loggerConnector.stepsAtBatchStart = progress.batchesThatStepped - (stepped ? 1 : 0)
            try finishBatchTail(module, batchIndex: batchIndex, isLastBatch: isLastBatch, batchCount: batchCount)
            markBatchBoundaryForLogging()
            if isLastBatch { return true }
        }
        while !maxStepsReached, !stopHonoured {
            let batchIndex = progress.trainBatch.current.processed
            guard batchIndex < batchCount else { return reachedLastBatch }
            recordStateBeforeBatch(of: module, loader: loader)
            guard let batch = try loader.nextBatch() else { return reachedLastBatch }
            let isLastBatch = batchIndex == batchCount - 1
            markBatchBoundaryForLogging()
            defer { markBatchBoundaryForLogging() }
            progress.trainBatch.incrementReady()
            progress.trainBatch.isLastBatch = isLastBatch
            isTrainingStep = true
            currentBatchSize = batch.size
            defer { isTrainingStep = false }
            for callback in callbacks { try callback.onTrainBatchStart(self, module, batch: batch, batchIndex: batchIndex) }
            guard try module.onTrainBatchStart(batch: batch, batchIndex: batchIndex) else {
                progress.trainBatch.incrementProcessed()
                // The epoch ends here with no tail for this batch, in a resumed run too.
                progress.validationCheckedBatches = progress.trainBatch.total.processed
                progress.batchTailsCompleted = progress.trainBatch.total.processed
                return false
            }
            progress.trainBatch.incrementStarted()
            let loss = try optimizationStep(module, batch: batch, batchIndex: batchIndex, isLastBatch: isLastBatch)
            progress.trainBatch.incrementProcessed()
            let accumulating = isAccumulating(batchIndex: batchIndex, isLastBatch: isLastBatch)
            accumulationWindowOpen = accumulating
            batchGradientPending = false
            gradientsBeforeBatch = nil
            try updateLRSchedulers(.step, plateau: false, batchIndex: batchIndex, accumulating: accumulating)
            if isLastBatch { try updateLRSchedulers(.epoch, plateau: false, batchIndex: batchIndex) }
            for callback in callbacks {
                try callback.onTrainBatchEnd(self, module, outputs: loss, batch: batch, batchIndex: batchIndex)
            }
            try module.onTrainBatchEnd(outputs: loss, batch: batch, batchIndex: batchIndex)
            progress.trainBatch.incrementCompleted()
            try logTrainStepMetrics()
            isTrainingStep = false
            try stopIfInterrupted()
            stopIfOutOfTime()
            try finishBatchTail(module, batchIndex: batchIndex, isLastBatch: isLastBatch, batchCount: batchCount)
            if isLastBatch { return true }
        }
        return reachedLastBatch
    }

    private func isAccumulating(batchIndex: Int, isLastBatch: Bool) -> Bool {
        !((batchIndex + 1) % accumulateGradBatches == 0 || isLastBatch)
    }

    /// Lightning's `on_advance_end`: validation when due, then the per-step plateau monitors (which
    /// read its metrics). Each part is marked done in the loop progress, so a resume from a
    /// checkpoint written in between does only what is left.
    private func finishBatchTail(_ module: TrainingModule, batchIndex: Int, isLastBatch: Bool, batchCount: Int) throws {
        let batchNumber = progress.trainBatch.total.processed
        if progress.validationCheckedBatches < batchNumber {
            if shouldValidate(batchIndex: batchIndex, isLastBatch: isLastBatch, batchCount: batchCount), let validationLoader {
                try runEvaluation(.validate, loader: validationLoader, limit: options.limitValBatches)
                module.train()
                metricPhase = .training
            }
            progress.validationCheckedBatches = batchNumber
        }
        try updateLRSchedulers(.step, plateau: true, batchIndex: batchIndex,
                               accumulating: isAccumulating(batchIndex: batchIndex, isLastBatch: isLastBatch))
        progress.batchTailsCompleted = batchNumber
    }

    /// Lightning's `_should_check_val_fx`.
    private func shouldValidate(batchIndex: Int, isLastBatch: Bool, batchCount: Int) -> Bool {
        guard validationEnabled else { return false }
        if let every = options.checkValEveryNEpoch, (currentEpoch + 1) % every != 0 { return false }
        if stopHonoured { return true }
        guard let interval = options.valCheckInterval else { return isLastBatch }
        let iteration = options.checkValEveryNEpoch == nil ? progress.trainBatch.total.processed - 1 : batchIndex
        return (iteration + 1) % interval.period(batchesPerEpoch: batchCount) == 0
    }

    /// Lightning refuses a batch-count interval longer than the epoch when validation is per epoch
    /// (it would never run); checked once the train loader's length is known.
    func checkValCheckInterval(batchesPerEpoch: Int) throws {
        guard case let .batches(count)? = options.valCheckInterval, options.checkValEveryNEpoch != nil,
              count > batchesPerEpoch else { return }
        throw TrainerError.invalidOption(name: "valCheckInterval",
                                         reason: "\(count) batches is more than the \(batchesPerEpoch) training batches per epoch; set checkValEveryNEpoch to nil to count batches across epochs, or limitValBatches to 0 to disable validation")
    }

    /// Lightning's automatic optimization: step, zero-grad at the first batch of each
    /// accumulation window, backward of the loss divided by the window, then (once the
    /// window is full) on-before-optimizer-step, clipping and the step.
    private func optimizationStep(_ module: TrainingModule, batch: Batch, batchIndex: Int, isLastBatch: Bool) throws -> Tensor? {
        guard let optimizer else { preconditionFailure("fit: configureOptimizers did not run") }
        let accumulate = accumulateGradBatches
        let stepsNow = (batchIndex + 1) % accumulate == 0 || isLastBatch
        guard let loss = try module.trainingStep(batch, batchIndex: batchIndex) else { return nil }
        if stepsNow { progress.optimizerStep.incrementReady() }
        if batchIndex % accumulate == 0 {
            progress.zeroGrad.incrementReady()
            for callback in callbacks { try callback.onBeforeZeroGrad(self, module, optimizer: optimizer) }
            try module.onBeforeZeroGrad(optimizer: optimizer)
            progress.zeroGrad.incrementStarted()
            optimizer.zeroGrad()
            progress.zeroGrad.incrementProcessed()
            progress.zeroGrad.incrementCompleted()
        }
        let scaledLoss = accumulate == 1 ? loss : loss / Float(accumulate)
        // A checkpoint written before this batch is processed resumes by redoing it: it must hold
        // the window's sum without this batch's share.
        if accumulationWindowOpen, batchIndex % accumulate != 0 { recordGradientsBeforeBatch(of: module) }
        for callback in callbacks { try callback.onBeforeBackward(self, module, loss: scaledLoss) }
        try module.onBeforeBackward(loss: scaledLoss)
        scaledLoss.backward()
        batchGradientPending = true
        for callback in callbacks { try callback.onAfterBackward(self, module) }
        try module.onAfterBackward()
        guard stepsNow else { return loss }
        for callback in callbacks { try callback.onBeforeOptimizerStep(self, module, optimizer: optimizer) }
        try module.onBeforeOptimizerStep(optimizer: optimizer)
        clipGradients(optimizer)
        progress.optimizerStep.incrementStarted()
        optimizer.step()
        // Every counter moves, so the restart rule (rewind to processed) keeps whole steps.
        progress.optimizerStep.incrementProcessed()
        progress.optimizerStep.incrementCompleted()
        progress.batchesThatStepped += 1
        return loss
    }
}

extension Trainer {
    /// Clips the gradients of every optimized parameter as ``Options/gradientClipVal`` says.
    func clipGradients(_ optimizer: Optimizer) {
        guard let limit = options.gradientClipVal else { return }
        let parameters = optimizer.paramGroups.flatMap(\.parameters)
        switch options.gradientClipAlgorithm {
        case .norm: _ = GradientClipping.clipByGlobalNorm(parameters, maxNorm: limit)
        case .value: GradientClipping.clipByValue(parameters, limit: limit)
        }
    }
}

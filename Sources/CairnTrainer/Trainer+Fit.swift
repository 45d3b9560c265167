import CairnData
import CairnNN
import CairnOptim
import CairnTensor

extension Trainer {
    var maxEpochs: Int? {
        if let maxEpochs = options.maxEpochs { return maxEpochs }
        return options.maxSteps == nil ? 1000 : nil
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
        guard validationEnabled, options.numSanityValSteps > 0, let module, let validationLoader else { return }
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
        guard let module, let trainLoader, options.limitTrainBatches != 0, !fitDone else { return }
        module.train()
        for callback in callbacks { try callback.onTrainStart(self, module) }
        try module.onTrainStart()
        trainingStartedAt = .now
        while !fitDone {
            progress.epoch.incrementReady()
            if !restartingMidEpoch {
                try trainLoader.startEpoch(currentEpoch)
                progress.trainBatch.resetCurrent()
            }
            metricPhase = .training
            for callback in callbacks { try callback.onTrainEpochStart(self, module) }
            try module.onTrainEpochStart()
            progress.epoch.incrementStarted()
            try runTrainEpoch(module, trainLoader)
            restartingMidEpoch = false
            progress.epoch.incrementProcessed()
            metricPhase = .training
            // Callbacks first, except those that watch metrics: they run after the module so
            // they see what it logs in its own epoch-end hook (Lightning's FitLoop.on_advance_end).
            for callback in callbacks where !callback.monitorsMetrics { try callback.onTrainEpochEnd(self, module) }
            try module.onTrainEpochEnd()
            for callback in callbacks where callback.monitorsMetrics { try callback.onTrainEpochEnd(self, module) }
            metrics.finishEpoch(.training)
            progress.epoch.incrementCompleted()
        }
        for callback in callbacks { try callback.onTrainEnd(self, module) }
        try module.onTrainEnd()
    }

    /// Lightning's `_TrainingEpochLoop`: one epoch's batches, each followed by validation when due.
    private func runTrainEpoch(_ module: TrainingModule, _ loader: any BatchLoader) throws {
        let batchCount = min(loader.batchesPerEpoch, options.limitTrainBatches ?? Int.max)
        while !maxStepsReached, !stopHonoured {
            let batchIndex = progress.trainBatch.current.processed
            guard batchIndex < batchCount, let batch = loader.nextBatch() else { return }
            let isLastBatch = batchIndex == batchCount - 1
            progress.trainBatch.incrementReady()
            progress.trainBatch.isLastBatch = isLastBatch
            isTrainingStep = true
            currentBatchSize = batch.features.shape.first ?? 1
            defer { isTrainingStep = false }
            for callback in callbacks { try callback.onTrainBatchStart(self, module, batch: batch, batchIndex: batchIndex) }
            guard try module.onTrainBatchStart(batch: batch, batchIndex: batchIndex) else {
                progress.trainBatch.incrementProcessed()
                return
            }
            progress.trainBatch.incrementStarted()
            let loss = try optimizationStep(module, batch: batch, batchIndex: batchIndex, isLastBatch: isLastBatch)
            progress.trainBatch.incrementProcessed()
            for callback in callbacks {
                try callback.onTrainBatchEnd(self, module, outputs: loss, batch: batch, batchIndex: batchIndex)
            }
            try module.onTrainBatchEnd(outputs: loss, batch: batch, batchIndex: batchIndex)
            progress.trainBatch.incrementCompleted()
            isTrainingStep = false
            try stopIfInterrupted()
            stopIfOutOfTime()
            if shouldValidate(batchIndex: batchIndex, isLastBatch: isLastBatch), let validationLoader {
                try runEvaluation(.validate, loader: validationLoader, limit: options.limitValBatches)
                module.train()
                metricPhase = .training
            }
            if isLastBatch { return }
        }
    }

    /// Lightning's `_should_check_val_fx`.
    private func shouldValidate(batchIndex: Int, isLastBatch: Bool) -> Bool {
        guard validationEnabled else { return false }
        if let every = options.checkValEveryNEpoch, (currentEpoch + 1) % every != 0 { return false }
        if stopHonoured { return true }
        guard let interval = options.valCheckInterval else { return isLastBatch }
        let iteration = options.checkValEveryNEpoch == nil ? progress.trainBatch.total.processed - 1 : batchIndex
        return (iteration + 1) % interval == 0
    }

    /// Lightning's automatic optimization: step, zero-grad at the first batch of each
    /// accumulation window, backward of the loss divided by the window, then (once the
    /// window is full) on-before-optimizer-step, clipping and the step.
    private func optimizationStep(_ module: TrainingModule, batch: Batch, batchIndex: Int, isLastBatch: Bool) throws -> Tensor? {
        guard let optimizer else { preconditionFailure("fit: configureOptimizers did not run") }
        let accumulate = options.accumulateGradBatches
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
        for callback in callbacks { try callback.onBeforeBackward(self, module, loss: scaledLoss) }
        try module.onBeforeBackward(loss: scaledLoss)
        scaledLoss.backward()
        for callback in callbacks { try callback.onAfterBackward(self, module) }
        try module.onAfterBackward()
        guard stepsNow else { return loss }
        for callback in callbacks { try callback.onBeforeOptimizerStep(self, module, optimizer: optimizer) }
        try module.onBeforeOptimizerStep(optimizer: optimizer)
        if let limit = options.gradientClipVal {
            let parameters = optimizer.paramGroups.flatMap(\.parameters)
            switch options.gradientClipAlgorithm {
            case .norm: _ = GradientClipping.clipByGlobalNorm(parameters, maxNorm: limit)
            case .value: GradientClipping.clipByValue(parameters, limit: limit)
            }
        }
        progress.optimizerStep.incrementStarted()
        optimizer.step()
        // Every counter moves, so the restart rule (rewind to processed) keeps whole steps.
        progress.optimizerStep.incrementProcessed()
        progress.optimizerStep.incrementCompleted()
        progress.batchesThatStepped += 1
        return loss
    }
}

import CairnData
import CairnNN
import CairnTensor

extension Trainer {
    /// Lightning's `_EvaluationLoop` for validation (in fit, the sanity check or `validate`) and test:
    /// start, epoch start, each batch between its start and end hooks, epoch end, end.
    func runEvaluation(_ stage: Stage, loader: any BatchLoader, limit: Int?) throws {
        guard let module else { return }
        let testing = stage == .test
        let wasTraining = module.isTraining
        module.eval()
        metricPhase = .evaluation
        try loader.startEpoch(0)
        metrics.discardEpoch(.evaluation)
        evaluationBatchCount = min(loader.batchesPerEpoch, limit ?? Int.max)
        withProgress(for: stage) { $0.resetCurrent() }
        if testing {
            for callback in callbacks { try callback.onTestStart(self, module) }
            try module.onTestStart()
            for callback in callbacks { try callback.onTestEpochStart(self, module) }
            try module.onTestEpochStart()
        } else {
            for callback in callbacks { try callback.onValidationStart(self, module) }
            try module.onValidationStart()
            for callback in callbacks { try callback.onValidationEpochStart(self, module) }
            try module.onValidationEpochStart()
        }
        let batchCount = min(loader.batchesPerEpoch, limit ?? Int.max)
        var batchIndex = 0
        while batchIndex < (limit ?? Int.max), let batch = try loader.nextBatch() {
            currentBatchSize = batch.size
            withProgress(for: stage) {
                $0.incrementReady()
                $0.isLastBatch = batchIndex == batchCount - 1
            }
            if testing {
                for callback in callbacks { try callback.onTestBatchStart(self, module, batch: batch, batchIndex: batchIndex, dataloaderIndex: 0) }
                try module.onTestBatchStart(batch: batch, batchIndex: batchIndex, dataloaderIndex: 0)
            } else {
                for callback in callbacks { try callback.onValidationBatchStart(self, module, batch: batch, batchIndex: batchIndex, dataloaderIndex: 0) }
                try module.onValidationBatchStart(batch: batch, batchIndex: batchIndex, dataloaderIndex: 0)
            }
            withProgress(for: stage) { $0.incrementStarted() }
            let output = try withNoGrad {
                testing ? try module.testStep(batch, batchIndex: batchIndex) : try module.validationStep(batch, batchIndex: batchIndex)
            }
            withProgress(for: stage) { $0.incrementProcessed() }
            if testing {
                for callback in callbacks {
                    try callback.onTestBatchEnd(self, module, outputs: output, batch: batch, batchIndex: batchIndex, dataloaderIndex: 0)
                }
                try module.onTestBatchEnd(outputs: output, batch: batch, batchIndex: batchIndex, dataloaderIndex: 0)
            } else {
                for callback in callbacks {
                    try callback.onValidationBatchEnd(self, module, outputs: output, batch: batch, batchIndex: batchIndex, dataloaderIndex: 0)
                }
                try module.onValidationBatchEnd(outputs: output, batch: batch, batchIndex: batchIndex, dataloaderIndex: 0)
            }
            withProgress(for: stage) { $0.incrementCompleted() }
            try logEvaluationStepMetrics(batchIndex: batchIndex)
            batchIndex += 1
            try stopIfInterrupted()
        }
        currentBatchSize = 1
        if testing {
            for callback in callbacks { try callback.onTestEpochEnd(self, module) }
            try module.onTestEpochEnd()
        } else {
            for callback in callbacks { try callback.onValidationEpochEnd(self, module) }
            try module.onValidationEpochEnd()
        }
        try logEvaluationEndMetrics(metrics.finishEpoch(.evaluation))
        // From its end hooks on, fit's validation counts as done: a checkpoint written there (as
        // ModelCheckpoint's) resumes after it rather than running it again.
        if stage == .validate, self.stage == .fit, !isSanityChecking {
            progress.validationCheckedBatches = progress.trainBatch.total.processed
        }
        if testing {
            for callback in callbacks { try callback.onTestEnd(self, module) }
            try module.onTestEnd()
        } else {
            for callback in callbacks { try callback.onValidationEnd(self, module) }
            try module.onValidationEnd()
        }
        module.train(wasTraining)
    }

    /// Lightning's `_PredictionLoop`: the module in evaluation mode, no gradients, one epoch.
    func runPrediction(loader: any BatchLoader, limit: Int?) throws -> [Tensor] {
        guard let module else { return [] }
        module.eval()
        try loader.startEpoch(0)
        evaluationBatchCount = min(loader.batchesPerEpoch, limit ?? Int.max)
        progress.predictBatch.resetCurrent()
        for callback in callbacks { try callback.onPredictStart(self, module) }
        try module.onPredictStart()
        for callback in callbacks { try callback.onPredictEpochStart(self, module) }
        try module.onPredictEpochStart()
        var predictions: [Tensor] = []
        let batchCount = min(loader.batchesPerEpoch, limit ?? Int.max)
        var batchIndex = 0
        while batchIndex < (limit ?? Int.max), let batch = try loader.nextBatch() {
            progress.predictBatch.incrementReady()
            progress.predictBatch.isLastBatch = batchIndex == batchCount - 1
            for callback in callbacks { try callback.onPredictBatchStart(self, module, batch: batch, batchIndex: batchIndex, dataloaderIndex: 0) }
            try module.onPredictBatchStart(batch: batch, batchIndex: batchIndex, dataloaderIndex: 0)
            progress.predictBatch.incrementStarted()
            let output = try withNoGrad { try module.predictStep(batch, batchIndex: batchIndex) }
            progress.predictBatch.incrementProcessed()
            for callback in callbacks {
                try callback.onPredictBatchEnd(self, module, outputs: output, batch: batch, batchIndex: batchIndex, dataloaderIndex: 0)
            }
            try module.onPredictBatchEnd(outputs: output, batch: batch, batchIndex: batchIndex, dataloaderIndex: 0)
            progress.predictBatch.incrementCompleted()
            predictions.append(output)
            batchIndex += 1
            try stopIfInterrupted()
        }
        for callback in callbacks { try callback.onPredictEpochEnd(self, module) }
        try module.onPredictEpochEnd()
        for callback in callbacks { try callback.onPredictEnd(self, module) }
        try module.onPredictEnd()
        return predictions
    }

    /// The batch counters of the loop running `stage` (fit's validation, validate's or test's).
    private func withProgress(for stage: Stage, _ change: (inout ProgressTracker) -> Void) {
        switch stage {
        case .test: change(&progress.testBatch)
        case .validate where self.stage == .fit: change(&progress.fitValidationBatch)
        case .validate: change(&progress.validateBatch)
        case .fit, .predict: preconditionFailure("runEvaluation: \(stage) is not an evaluation stage")
        }
    }
}

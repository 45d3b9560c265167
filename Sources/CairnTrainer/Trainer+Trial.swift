import CairnCheckpoint
import CairnData
import CairnOptim
import CairnTensor
import CairnTensorCheckpoint

/// What a finder's trial run changes, taken before it and put back after: Lightning saves a
/// temporary checkpoint file for this; here the trainer's checkpoint assembly stays in memory.
struct TrialSnapshot {
    let checkpoint: CheckpointValue
    let progress: LoopProgress
    let metrics: LoggedMetrics
    let shouldStop: Bool
}

extension Trainer {
    /// The whole state (``dumpCheckpoint()``) plus the live counters and metrics.
    func takeTrialSnapshot() throws -> TrialSnapshot {
        TrialSnapshot(checkpoint: try dumpCheckpoint(), progress: progress, metrics: metrics, shouldStop: shouldStop)
    }

    /// Puts back the weights, the optimizer state (learning rates included), the generators,
    /// the counters and the metrics; callbacks are untouched, as no hook ran during the trial.
    func restoreTrialSnapshot(_ snapshot: TrialSnapshot, module: TrainingModule) throws {
        try module.loadStateDict(try savedWeights(in: snapshot.checkpoint))
        if let optimizer, let saved = snapshot.checkpoint["/optimizer_states/0"] {
            try optimizer.loadStateDict(try StateValue(saved, path: "/optimizer_states/0"))
        }
        try restoreGenerators(from: snapshot.checkpoint, module: module)
        progress = snapshot.progress
        metrics = snapshot.metrics
        shouldStop = snapshot.shouldStop
    }

    /// One optimizer step outside the loops, as a finder's trial takes it: no hooks, no counters,
    /// no accumulation; gradient clipping as configured. Returns the loss, or nil when the
    /// module's step returned none (no step is then taken).
    func trialStep(_ module: TrainingModule, optimizer: Optimizer, batch: Batch, batchIndex: Int) throws -> Float? {
        isTrainingStep = true
        currentBatchSize = batch.size
        defer { isTrainingStep = false }
        optimizer.zeroGrad()
        guard let loss = try module.trainingStep(batch, batchIndex: batchIndex) else { return nil }
        loss.backward()
        clipGradients(optimizer)
        optimizer.step()
        return loss.scalars[0]
    }

    /// Runs `steps` trial steps over `loader`, moving to the next epoch when one ends;
    /// `afterStep` sees each step's index and loss and returns false to stop early.
    func runTrialSteps(_ module: TrainingModule, loader: any BatchLoader, steps: Int,
                       beforeStep: (Int) -> Void = { _ in },
                       afterStep: (Int, Float?) throws -> Bool) throws {
        guard let optimizer else { preconditionFailure("trial steps: configureOptimizers did not run") }
        module.train()
        var epoch = 0
        var batchIndex = 0
        try loader.startEpoch(epoch)
        for step in 0..<steps {
            var next = try loader.nextBatch()
            if next == nil {
                guard batchIndex > 0 else { return }  // an empty loader
                epoch += 1
                batchIndex = 0
                try loader.startEpoch(epoch)
                next = try loader.nextBatch()
            }
            guard let batch = next else { return }
            beforeStep(step)
            let loss = try trialStep(module, optimizer: optimizer, batch: batch, batchIndex: batchIndex)
            batchIndex += 1
            guard try afterStep(step, loss) else { return }
        }
    }
}

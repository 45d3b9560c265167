import CairnCheckpoint
import CairnTensor
import CairnTensorCheckpoint

extension Trainer {
    /// Lightning's `update_lr_schedulers`: steps each configuration of `interval` whose
    /// frequency is due, either the plateau monitors (which read a metric) or the others.
    /// Step-interval schedulers wait while gradients are still accumulating.
    func updateLRSchedulers(_ interval: LRSchedulerConfiguration.Interval, plateau: Bool, batchIndex: Int,
                            accumulating: Bool = false) throws {
        if interval == .step, accumulating { return }
        let index = (interval == .step ? batchIndex : currentEpoch) + 1
        for configuration in lrSchedulerConfigs
        where configuration.reducesOnPlateau == plateau && configuration.interval == interval
            && index % configuration.frequency == 0 {
            var metric: Double?
            if configuration.reducesOnPlateau {
                let monitor = configuration.monitor ?? ""
                guard let value = metrics.callbackMetrics[monitor] else {
                    let available = Array(metrics.callbackMetrics.keys)
                    if configuration.strict {
                        throw TrainerError.missingMonitoredMetric(monitor: monitor, available: available)
                    }
                    logger.warning("ReduceLROnPlateau monitors \(monitor), which was not logged (available: \(available)); strict is false, so this lr update is skipped")
                    continue
                }
                metric = value
            }
            progress.schedulerStep.incrementReady()
            try module?.lrSchedulerStep(configuration.scheduler, metric: metric)
            // Only ready and completed are saved; the middle two keep pace so a restart (which
            // rewinds to processed) rewinds to completed, as Lightning's `_ReadyCompletedTracker`.
            progress.schedulerStep.incrementStarted()
            progress.schedulerStep.incrementProcessed()
            progress.schedulerStep.incrementCompleted()
        }
    }

    /// `/lr_schedulers`: each configuration's scheduler state, in the order configured.
    var lrSchedulerStates: CheckpointValue {
        .list(lrSchedulerConfigs.map { CheckpointValue($0.stateDict()) })
    }

    /// Lightning's `_load_lr_scheduler_states`: pairs saved states with the configured schedulers
    /// by position; a count mismatch is logged, and the pairs that exist are restored.
    func restoreLRSchedulers(from checkpoint: CheckpointValue) throws {
        guard case let .list(saved)? = checkpoint["/lr_schedulers"] else {
            if !lrSchedulerConfigs.isEmpty {
                logger.warning("checkpoint has no /lr_schedulers; the \(lrSchedulerConfigs.count) configured schedulers start fresh")
            }
            return
        }
        if saved.count != lrSchedulerConfigs.count {
            logger.warning("checkpoint holds \(saved.count) lr scheduler states, the module configures \(lrSchedulerConfigs.count); restoring the first \(min(saved.count, lrSchedulerConfigs.count))")
        }
        for (position, (configuration, state)) in zip(lrSchedulerConfigs, saved).enumerated() {
            let path = "/lr_schedulers/\(position)"
            do {
                try configuration.loadStateDict(try StateValue(state, path: path))
            } catch let error as TrainerError {
                throw error
            } catch {
                throw TrainerError.malformedCheckpoint(path: path, reason: "\(error)")
            }
        }
    }
}

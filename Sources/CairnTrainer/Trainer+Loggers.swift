import CairnCheckpoint
import OrderedCollections

/// Metrics owed to the loggers: due when a checkpoint was taken, sent by the run that resumes from it.
struct LoggerRecord: Sendable, Equatable {
    var step: Int
    var metrics: OrderedDictionary<String, Double>
}

/// The trainer's bookkeeping between the loops and the loggers (Lightning's `_LoggerConnector`).
struct LoggerConnectorState: Sendable {
    /// Optimizer steps taken when the running train batch began; more now means it stepped.
    var stepsAtBatchStart = 0
    /// Loggers whose state a resumed fit restored: they already hold the run's hyper-parameters.
    var resumedLoggers: Set<ObjectIdentifier> = []
    /// Records the interrupted run owed its loggers at the checkpoint, sent when fit starts.
    var owedRecords: [LoggerRecord] = []
}

extension Trainer {
    /// Whether the running train batch has taken its optimizer step (true until its validation is over).
    var trainBatchStepped: Bool { stage == .fit && progress.batchesThatStepped > loggerConnector.stepsAtBatchStart }

    /// Lightning's `_batches_that_stepped` as its loggers see it: the running batch's own
    /// step is counted only once the batch (and the validation after it) is over.
    var loggingStep: Int { progress.batchesThatStepped - (trainBatchStepped ? 1 : 0) }

    /// Lightning's `should_update_logs` for the batch that just stepped.
    private var trainStepLogDue: Bool {
        progress.batchesThatStepped % options.logEveryNSteps == 0 || shouldStop || options.fastDevRun != nil
    }

    /// Sends `metrics` to every logger (Lightning adds `epoch` to what the loops log), then saves them.
    private func sendToLoggers(_ metrics: OrderedDictionary<String, Double>, step: Int, addingEpoch: Bool = true) throws {
        guard !metrics.isEmpty else { return }
        self.metrics.noteLogged(metrics)
        var scalars = metrics
        if addingEpoch, scalars["epoch"] == nil { scalars["epoch"] = Double(currentEpoch) }
        for logger in loggers {
            try logger.logMetrics(scalars, step: step)
            try logger.save()
        }
    }

    /// Called as a train batch starts and once it (with its validation) is over: from there on
    /// its step counts in full for the loggers (see ``trainBatchStepped``).
    func markBatchBoundaryForLogging() { loggerConnector.stepsAtBatchStart = progress.batchesThatStepped }

    /// Lightning's `update_train_step_metrics`, after a train batch's end hooks: a batch that
    /// stepped sends its step values every `logEveryNSteps` steps (or when fit is stopping);
    /// an accumulating batch's values wait for the batch that steps.
    func logTrainStepMetrics() throws {
        guard trainBatchStepped else { return }
        let unsent = metrics.takeUnsentStepMetrics(.training)
        if trainStepLogDue { try sendToLoggers(unsent, step: loggingStep) }
    }

    /// Lightning's `update_train_epoch_metrics`: the epoch means, at the epoch's last step.
    func logTrainEpochMetrics(_ means: OrderedDictionary<String, Double>) throws {
        try sendToLoggers(means, step: max(progress.batchesThatStepped - 1, 0))
    }

    /// Lightning's `update_eval_step_metrics`: values logged per step in an evaluation batch, at
    /// the batch's index (the sanity check logs nothing).
    func logEvaluationStepMetrics(batchIndex: Int) throws {
        let unsent = metrics.takeUnsentStepMetrics(.evaluation)
        guard !isSanityChecking else { return }
        try sendToLoggers(unsent, step: batchIndex, addingEpoch: false)
    }

    /// Lightning's `log_eval_end_metrics`: a validation or test run's means.
    func logEvaluationEndMetrics(_ means: OrderedDictionary<String, Double>) throws {
        guard !isSanityChecking else { return }
        try sendToLoggers(means, step: loggingStep)
    }

    /// Lightning's `_log_hyperparams` when a stage starts (loggers a resume restored already hold
    /// them), then what the interrupted run owed its loggers at the checkpoint.
    func startLogging() throws {
        if let hyperparameters = module?.hyperparameters {
            for logger in loggers where !loggerConnector.resumedLoggers.contains(ObjectIdentifier(logger)) {
                try logger.logHyperparameters(hyperparameters)
                try logger.save()
            }
        }
        let owed = loggerConnector.owedRecords
        loggerConnector.owedRecords = []
        for record in owed {
            for logger in loggers {
                try logger.logMetrics(record.metrics, step: record.step)
                try logger.save()
            }
        }
    }

    /// Ends every logger's run after a stage that succeeded.
    func finalizeLoggers(status: String) throws {
        for logger in loggers { try logger.finalize(status: status) }
    }

    /// Ends every logger's run after a stage that failed or was interrupted: a logger failing too
    /// is only reported, so the stage's own error is the one thrown.
    func finalizeLoggersAfterFailure(status: String) {
        for logger in loggers {
            do {
                try logger.finalize(status: status)
            } catch {
                self.logger.warning("logger \(logger.stateKey) could not finalize (\(status)): \(error)")
            }
        }
    }

    // MARK: Checkpoints

    /// `loops` with ``loggedResultsState()`` under `fit_loop/epoch_loop._results`.
    func addingLoggedResults(to loops: CheckpointValue) -> CheckpointValue {
        guard case var .dictionary(root) = loops, case var .dictionary(fitLoop)? = root["fit_loop"] else { return loops }
        fitLoop["epoch_loop._results"] = loggedResultsState()
        root["fit_loop"] = .dictionary(fitLoop)
        return .dictionary(root)
    }

    /// What `/loops/fit_loop/epoch_loop._results` holds (Lightning keeps its result collection
    /// there): the training epoch's running sums and the records due but not yet sent when the
    /// checkpoint was taken — the train step values of a batch saved from its end hooks, or the
    /// means of an epoch saved from its end hooks.
    private func loggedResultsState() -> CheckpointValue {
        var sums = metrics.epochSums[.training] ?? [:]
        var owed: [LoggerRecord] = []
        let epochEnding = stage == .fit && progress.epoch.total.processed > progress.epoch.total.completed
        if epochEnding {
            var finishing = metrics
            owed.append(LoggerRecord(step: max(progress.batchesThatStepped - 1, 0), metrics: finishing.finishEpoch(.training)))
            sums = [:]
        } else if isTrainingStep, trainBatchStepped, trainStepLogDue {
            owed.append(LoggerRecord(step: loggingStep, metrics: metrics.unsentStepMetrics[.training] ?? [:]))
        }
        var sumEntries = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for (name, sum) in sums {
            sumEntries[.string(name)] = .dictionary(["weighted_sum": .double(sum.weightedSum), "weight": .double(sum.weight),
                                                     "prog_bar": .bool(sum.progressBar)])
        }
        let records: [CheckpointValue] = owed.filter { !$0.metrics.isEmpty }.map { record in
            var metrics = OrderedDictionary<CheckpointKey, CheckpointValue>()
            for (name, value) in record.metrics { metrics[.string(name)] = .double(value) }
            metrics["epoch"] = metrics["epoch"] ?? .double(Double(currentEpoch))
            return .dictionary(["step": .int(Int64(record.step)), "metrics": .dictionary(metrics)])
        }
        return .dictionary(["epoch_sums": .dictionary(sumEntries), "unsent": .list(records)])
    }

    /// `/loggers`: each logger's state by its key, saved first so the state matches the files;
    /// two stateful loggers with one key are an error naming both.
    func loggerStates() throws -> CheckpointValue? {
        guard !loggers.isEmpty else { return nil }
        var states = OrderedDictionary<CheckpointKey, CheckpointValue>()
        var owners: [String: Int] = [:]
        for (position, logger) in loggers.enumerated() {
            try logger.save()
            guard let state = try logger.stateDict() else { continue }
            if let first = owners[logger.stateKey] {
                throw LoggerError.duplicateStateKey(key: logger.stateKey, first: "loggers[\(first)] \(type(of: loggers[first]))",
                                                    second: "loggers[\(position)] \(type(of: logger))")
            }
            owners[logger.stateKey] = position
            states[.string(logger.stateKey)] = state
        }
        return .dictionary(states)
    }

    /// Restores what ``loggedResultsState()`` and ``loggerStates()`` saved, for a resumed fit.
    func restoreLoggers(from checkpoint: CheckpointValue) throws {
        let resultsPath = "/loops/fit_loop/epoch_loop._results"
        if let results = checkpoint[resultsPath] {
            var sums = OrderedDictionary<String, EpochSum>()
            if case let .dictionary(entries)? = results["/epoch_sums"] {
                for (name, entry) in entries {
                    let path = "\(resultsPath)/epoch_sums/\(name)"
                    sums[name.token] = EpochSum(weightedSum: try number(entry["/weighted_sum"], path),
                                                weight: try number(entry["/weight"], path),
                                                progressBar: { if case .bool(true)? = entry["/prog_bar"] { return true }; return false }())
                }
            }
            metrics.epochSums[.training] = sums.isEmpty ? nil : sums
            var owed: [LoggerRecord] = []
            if case let .list(records)? = results["/unsent"] {
                for (index, record) in records.enumerated() {
                    let path = "\(resultsPath)/unsent/\(index)"
                    guard case let .int(step)? = record["/step"], step >= 0, step <= Int64(Int32.max),
                          case let .dictionary(entries)? = record["/metrics"] else {
                        throw TrainerError.malformedCheckpoint(path: path, reason: "expected a step and metrics")
                    }
                    var values = OrderedDictionary<String, Double>()
                    for (name, value) in entries { values[name.token] = try number(value, "\(path)/metrics/\(name)") }
                    owed.append(LoggerRecord(step: Int(step), metrics: values))
                }
            }
            loggerConnector.owedRecords = owed
        }
        loggerConnector.resumedLoggers = []
        for logger in loggers {
            guard let state = checkpoint[JSONPointer(tokens: ["loggers", logger.stateKey])] else {
                if try logger.stateDict() != nil {
                    self.logger.warning("logger \(logger.stateKey): no saved state in the checkpoint; it starts a new run")
                }
                continue
            }
            try logger.loadStateDict(state)
            loggerConnector.resumedLoggers.insert(ObjectIdentifier(logger))
        }
    }

    private func number(_ value: CheckpointValue?, _ path: String) throws -> Double {
        switch value {
        case let .double(number)?: return number
        case let .int(number)?: return Double(number)
        default: throw TrainerError.malformedCheckpoint(path: path, reason: "expected a number")
        }
    }
}

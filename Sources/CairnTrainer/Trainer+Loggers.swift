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
    /// Batches of a validation interrupted by the checkpoint whose step values the loggers already
    /// hold: the resume runs that validation again from its first batch without sending them twice.
    var validationBatchesLogged = 0
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
        guard !isSanityChecking, batchIndex >= loggerConnector.validationBatchesLogged else { return }
        try sendToLoggers(unsent, step: batchIndex, addingEpoch: false)
    }

    /// Lightning's `log_eval_end_metrics`: a validation or test run's means.
    func logEvaluationEndMetrics(_ means: OrderedDictionary<String, Double>) throws {
        loggerConnector.validationBatchesLogged = 0
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

    /// What `/loops/fit_loop/epoch_loop._results` holds (Lightning 1.x kept its result collection
    /// there): the ``LoggedMetrics`` as the resume must find them, plus what the loggers are owed.
    /// With a train batch in flight, the metrics from before it (the resume redoes the batch, which
    /// logs again). In a batch's end hooks after its optimizer step, its step values are due to the
    /// loggers right after those hooks, which the resume does not run again: they are saved as an
    /// owed record instead. Inside a fit validation that the resume runs again, the number of its
    /// batches whose step values were sent already.
    private func loggedResultsState() -> CheckpointValue {
        var saved = trainBatchInFlight ? stateBeforeBatch?.metrics ?? metrics : metrics
        var owed: [LoggerRecord] = []
        if stage == .fit, isTrainingStep, !trainBatchInFlight, trainBatchStepped {
            let unsent = saved.takeUnsentStepMetrics(.training)
            if trainStepLogDue, !unsent.isEmpty {
                saved.noteLogged(unsent)
                var sent = unsent
                if sent["epoch"] == nil { sent["epoch"] = Double(currentEpoch) }
                owed.append(LoggerRecord(step: loggingStep, metrics: sent))
            }
        }
        var validationBatchesLogged = 0
        if fitValidationInFlight {
            validationBatchesLogged = progress.fitValidationBatch.current.completed
        }
        var state = saved.checkpointEntries
        state["owed_logger_records"] = .list(owed.map { record in
            var metrics = OrderedDictionary<CheckpointKey, CheckpointValue>()
            for (name, value) in record.metrics { metrics[.string(name)] = .double(value) }
            return .dictionary(["step": .int(Int64(record.step)), "metrics": .dictionary(metrics)])
        })
        state["validation_batches_logged"] = .int(Int64(validationBatchesLogged))
        return .dictionary(state)
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

    /// Restores what ``loggedResultsState()`` and ``loggerStates()`` saved, for a resumed fit: the
    /// logged metrics, the records owed to the loggers (sent as fit starts) and each logger's state.
    func restoreLoggers(from checkpoint: CheckpointValue) throws {
        let resultsPath = "/loops/fit_loop/epoch_loop._results"
        loggerConnector.owedRecords = []
        loggerConnector.validationBatchesLogged = 0
        if let results = checkpoint[resultsPath] {
            metrics = try LoggedMetrics(results, path: resultsPath)
            if case let .list(records)? = results["/owed_logger_records"] {
                for (index, record) in records.enumerated() {
                    let path = "\(resultsPath)/owed_logger_records/\(index)"
                    guard case let .int(step)? = record["/step"], step >= 0, step <= Int64(Int32.max),
                          case let .dictionary(entries)? = record["/metrics"] else {
                        throw TrainerError.malformedCheckpoint(path: path, reason: "expected a step and metrics")
                    }
                    var values = OrderedDictionary<String, Double>()
                    for (name, value) in entries { values[name.token] = try checkpointNumber(value, "\(path)/metrics/\(name)") }
                    loggerConnector.owedRecords.append(LoggerRecord(step: Int(step), metrics: values))
                }
            }
            if let logged = results["/validation_batches_logged"] {
                guard case let .int(count) = logged, count >= 0, count <= Int64(Int32.max) else {
                    throw TrainerError.malformedCheckpoint(path: "\(resultsPath)/validation_batches_logged",
                                                           reason: "expected a non-negative int")
                }
                loggerConnector.validationBatchesLogged = Int(count)
            }
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
}

import CairnCheckpoint
import OrderedCollections

/// Lightning's four progress counters of one loop level.
public struct ProgressCounters: Sendable, Equatable {
    /// Items fetched and about to start.
    public var ready = 0
    /// Items whose start hooks ran.
    public var started = 0
    /// Items whose work is done (step taken, hooks before the end hook run).
    public var processed = 0
    /// Items whose end hooks ran too.
    public var completed = 0

    public init() {}

    var checkpointValue: CheckpointValue {
        .dictionary(["ready": .int(Int64(ready)), "started": .int(Int64(started)),
                     "processed": .int(Int64(processed)), "completed": .int(Int64(completed))])
    }

    init(_ value: CheckpointValue, path: String) throws {
        func counter(_ name: String) throws -> Int {
            guard case let .int(number)? = value[JSONPointer(tokens: [name])], number >= 0, number <= Int64(Int32.max) else {
                throw TrainerError.malformedCheckpoint(path: "\(path)/\(name)", reason: "expected a non-negative int")
            }
            return Int(number)
        }
        ready = try counter("ready")
        started = try counter("started")
        processed = try counter("processed")
        completed = try counter("completed")
    }
}

/// Counters over the whole run (`total`) and since the loop last reset (`current`).
public struct ProgressTracker: Sendable, Equatable {
    /// Since the trainer was created or restored.
    public var total = ProgressCounters()
    /// Since the current epoch (or evaluation run) began.
    public var current = ProgressCounters()
    /// Whether the batch fetched last is its epoch's last (Lightning's `is_last_batch`,
    /// which its fit loop reads on resume); batch counters only.
    public var isLastBatch = false

    public init() {}

    mutating func incrementReady() { total.ready += 1; current.ready += 1 }
    mutating func incrementStarted() { total.started += 1; current.started += 1 }
    mutating func incrementProcessed() { total.processed += 1; current.processed += 1 }
    mutating func incrementCompleted() { total.completed += 1; current.completed += 1 }
    mutating func resetCurrent() {
        current = ProgressCounters()
        isLastBatch = false
    }

    /// As before the run `current` counts began: it goes from the total, and `current` to zero.
    mutating func forgetCurrentRun() {
        total.ready -= current.ready
        total.started -= current.started
        total.processed -= current.processed
        total.completed -= current.completed
        resetCurrent()
    }

    /// On restart, anything begun but not processed is redone and a processed item counts as
    /// completed (Lightning rewinds to `completed`; Cairn keeps the processed batch, whose step
    /// is in the checkpoint, so a checkpoint taken in an end hook resumes at the next batch).
    mutating func resetOnRestart() {
        for counters in [\ProgressTracker.current, \ProgressTracker.total] {
            let processed = self[keyPath: counters].processed
            self[keyPath: counters].ready = processed
            self[keyPath: counters].started = processed
            self[keyPath: counters].completed = processed
        }
    }

    var checkpointValue: CheckpointValue {
        .dictionary(["total": total.checkpointValue, "current": current.checkpointValue])
    }

    /// Lightning's `_ReadyCompletedTracker` layout, for trackers that only move ready and completed.
    var readyCompletedValue: CheckpointValue {
        func counters(_ counters: ProgressCounters) -> CheckpointValue {
            .dictionary(["ready": .int(Int64(counters.ready)), "completed": .int(Int64(counters.completed))])
        }
        return .dictionary(["total": counters(total), "current": counters(current)])
    }

    /// Reads ``readyCompletedValue``; started and processed follow completed.
    init(readyCompleted value: CheckpointValue, path: String) throws {
        func counters(_ level: String) throws -> ProgressCounters {
            var result = ProgressCounters()
            for (name, keyPath) in [("ready", \ProgressCounters.ready), ("completed", \ProgressCounters.completed)] {
                guard case let .int(number)? = value[JSONPointer(tokens: [level, name])], number >= 0,
                      number <= Int64(Int32.max) else {
                    throw TrainerError.malformedCheckpoint(path: "\(path)/\(level)/\(name)", reason: "expected a non-negative int")
                }
                result[keyPath: keyPath] = Int(number)
            }
            result.started = result.completed
            result.processed = result.completed
            return result
        }
        total = try counters("total")
        current = try counters("current")
    }

    /// The counters with `is_last_batch`, as Lightning's `_BatchProgress` saves them.
    var batchCheckpointValue: CheckpointValue {
        .dictionary(["total": total.checkpointValue, "current": current.checkpointValue, "is_last_batch": .bool(isLastBatch)])
    }

    init(_ value: CheckpointValue, path: String) throws {
        guard let total = value["/total"], let current = value["/current"] else {
            throw TrainerError.malformedCheckpoint(path: path, reason: "expected total and current counters")
        }
        self.total = try ProgressCounters(total, path: "\(path)/total")
        self.current = try ProgressCounters(current, path: "\(path)/current")
        // Absent from checkpoints written before Cairn saved it.
        if case let .bool(isLast)? = value["/is_last_batch"] { isLastBatch = isLast }
    }
}

/// The progress of every loop, saved under `/loops` with Lightning's key names.
public struct LoopProgress: Sendable, Equatable {
    /// Training epochs.
    public var epoch = ProgressTracker()
    /// Training batches.
    public var trainBatch = ProgressTracker()
    /// Optimizer steps (ready and completed only, as Lightning).
    public var optimizerStep = ProgressTracker()
    /// Gradient clears.
    public var zeroGrad = ProgressTracker()
    /// Learning-rate scheduler steps (ready and completed only, as Lightning's `scheduler_progress`).
    public var schedulerStep = ProgressTracker()
    /// Optimizer steps taken (Lightning's `_batches_that_stepped`).
    public var batchesThatStepped = 0
    /// Train batches (counted as `trainBatch.total.processed`) after which the due-validation
    /// check has been made, the validation itself included when it reached its end hooks.
    public var validationCheckedBatches = 0
    /// Train batches whose whole tail (validation when due, then the per-step plateau monitors) is done.
    /// With ``validationCheckedBatches``, it tells a restart how much of the last batch's tail is left.
    public var batchTailsCompleted = 0
    /// Validation batches during fit.
    public var fitValidationBatch = ProgressTracker()
    /// Validation batches of `validate`.
    public var validateBatch = ProgressTracker()
    /// Test batches.
    public var testBatch = ProgressTracker()
    /// Prediction batches.
    public var predictBatch = ProgressTracker()

    public init() {}

    var checkpointValue: CheckpointValue {
        .dictionary([
            "fit_loop": .dictionary([
                "epoch_progress": epoch.checkpointValue,
                "epoch_loop.state_dict": .dictionary([
                    "_batches_that_stepped": .int(Int64(batchesThatStepped)),
                    "_validation_checked_batches": .int(Int64(validationCheckedBatches)),
                    "_batch_tails_completed": .int(Int64(batchTailsCompleted)),
                ]),
                "epoch_loop.batch_progress": trainBatch.batchCheckpointValue,
                "epoch_loop.scheduler_progress": schedulerStep.readyCompletedValue,
                "epoch_loop.automatic_optimization.optim_progress": .dictionary([
                    "optimizer": .dictionary(["step": optimizerStep.checkpointValue, "zero_grad": zeroGrad.checkpointValue]),
                ]),
                "epoch_loop.val_loop.batch_progress": fitValidationBatch.batchCheckpointValue,
            ]),
            "validate_loop": .dictionary(["batch_progress": validateBatch.batchCheckpointValue]),
            "test_loop": .dictionary(["batch_progress": testBatch.batchCheckpointValue]),
            "predict_loop": .dictionary(["batch_progress": predictBatch.batchCheckpointValue]),
        ])
    }

    mutating func resetOnRestart() {
        for level in [\LoopProgress.epoch, \.trainBatch, \.optimizerStep, \.zeroGrad, \.schedulerStep, \.fitValidationBatch,
                      \.validateBatch, \.testBatch, \.predictBatch] {
            self[keyPath: level].resetOnRestart()
        }
    }

    init(_ loops: CheckpointValue) throws {
        func progress(_ pointer: String) throws -> ProgressTracker {
            guard let value = loops[pointer] else {
                throw TrainerError.malformedCheckpoint(path: "/loops\(pointer)", reason: "missing")
            }
            return try ProgressTracker(value, path: "/loops\(pointer)")
        }
        epoch = try progress("/fit_loop/epoch_progress")
        trainBatch = try progress("/fit_loop/epoch_loop.batch_progress")
        optimizerStep = try progress("/fit_loop/epoch_loop.automatic_optimization.optim_progress/optimizer/step")
        zeroGrad = try progress("/fit_loop/epoch_loop.automatic_optimization.optim_progress/optimizer/zero_grad")
        fitValidationBatch = try progress("/fit_loop/epoch_loop.val_loop.batch_progress")
        // Checkpoints written before schedulers were stepped by the trainer have no scheduler progress.
        if let schedulerValue = loops["/fit_loop/epoch_loop.scheduler_progress"] {
            schedulerStep = try ProgressTracker(readyCompleted: schedulerValue, path: "/loops/fit_loop/epoch_loop.scheduler_progress")
        }
        validateBatch = try progress("/validate_loop/batch_progress")
        testBatch = try progress("/test_loop/batch_progress")
        predictBatch = try progress("/predict_loop/batch_progress")
        guard case let .int(stepped)? = loops["/fit_loop/epoch_loop.state_dict/_batches_that_stepped"], stepped >= 0,
              stepped <= Int64(Int32.max) else {
            throw TrainerError.malformedCheckpoint(path: "/loops/fit_loop/epoch_loop.state_dict/_batches_that_stepped",
                                                   reason: "expected a non-negative int")
        }
        batchesThatStepped = Int(stepped)
        // Checkpoints written before these were kept resume as they did then: with the tail done.
        validationCheckedBatches = try optionalCount("_validation_checked_batches", in: loops) ?? trainBatch.total.processed
        batchTailsCompleted = try optionalCount("_batch_tails_completed", in: loops) ?? trainBatch.total.processed
    }

    private func optionalCount(_ name: String, in loops: CheckpointValue) throws -> Int? {
        let pointer = JSONPointer(tokens: ["fit_loop", "epoch_loop.state_dict", name])
        guard let value = loops[pointer] else { return nil }
        guard case let .int(count) = value, count >= 0, count <= Int64(Int32.max) else {
            throw TrainerError.malformedCheckpoint(path: "/loops\(pointer)", reason: "expected a non-negative int")
        }
        return Int(count)
    }
}

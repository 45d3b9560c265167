import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import OrderedCollections
import Testing

/// One `logMetrics` call, comparable.
struct LoggedCall: Equatable, CustomStringConvertible {
    var step: Int
    var metrics: OrderedDictionary<String, Double>
    var description: String { "step \(step): \(metrics)" }
}

extension RecordingLogger {
    /// Every `logMetrics` call so far, in order.
    var loggedCalls: [LoggedCall] { metricRows.map { LoggedCall(step: $0.step, metrics: $0.metrics) } }
}

/// Saves a checkpoint at every point a run can be resumed from: at each train batch's start,
/// after its backward pass, before its optimizer step and at its end, after each validation batch
/// and each validation, and at each train epoch end; noting how many logger calls preceded each.
class SaveEverywhere: Callback, @unchecked Sendable {
    struct Point: CustomStringConvertible {
        var file: URL
        var where_: String
        var loggedBefore: Int
        var description: String { "\(where_) (\(file.lastPathComponent))" }
    }

    let directory: URL
    let logger: RecordingLogger
    var points: [Point] = []
    /// Called with each point's index right after its file is written.
    var afterSave: ((Int) throws -> Void)?

    init(directory: URL, logger: RecordingLogger) {
        self.directory = directory
        self.logger = logger
    }

    // As a checkpointing callback, it runs after the module at epoch end.
    override var monitorsMetrics: Bool { true }

    private func save(_ trainer: Trainer, _ where_: String) throws {
        let file = directory.appendingPathComponent("point-\(points.count).ckpt")
        try trainer.saveCheckpoint(to: file)
        let label = "\(where_) epoch \(trainer.currentEpoch) batch \(trainer.progress.trainBatch.current.processed)"
        points.append(Point(file: file, where_: label, loggedBefore: logger.metricRows.count))
        try afterSave?(points.count - 1)
    }

    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        try save(trainer, "train batch end")
    }

    override func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        if !trainer.isSanityChecking { try save(trainer, "validation end") }
    }

    // A batch in flight, as an exception checkpoint would catch it: the resume redoes the batch.
    override func onTrainBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int) throws {
        try save(trainer, "train batch start")
    }

    // After backward, the batch's share already in the gradients: the resume redoes the batch
    // from the window's sum before it.
    override func onAfterBackward(_ trainer: Trainer, _ module: TrainingModule) throws {
        try save(trainer, "after backward")
    }

    override func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainingModule, optimizer: Optimizer) throws {
        try save(trainer, "before optimizer step")
    }

    // Part-way through a validation: the resume runs the whole validation again.
    override func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                       batchIndex: Int, dataloaderIndex: Int) throws {
        if !trainer.isSanityChecking { try save(trainer, "validation batch \(batchIndex) end") }
    }

    override func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        try save(trainer, "train epoch end")
    }
}

/// ``TinyClassifier`` logging per step and per epoch (also from its epoch-end hook and each validation batch), with a step
/// schedule, a strict epoch plateau monitor and a lenient per-step one on `val_loss`.
final class ResumeProbe: TinyClassifier, @unchecked Sendable {
    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
        log("train_loss", loss, onStep: true, onEpoch: true)
        return loss
    }

    // Per-step validation values reach the loggers batch by batch: a validation run again after a
    // resume from inside it must not send its earlier batches' values twice.
    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = try super.validationStep(batch, batchIndex: batchIndex)
        if let loss { log("val_batch_loss", loss, onStep: true, onEpoch: false) }
        return loss
    }

    override func onTrainEpochEnd() throws {
        log("epoch_lr", trainer?.optimizer?.paramGroups[0].learningRate ?? .nan)
    }

    override func configureLRSchedulers(optimizer: Optimizer) throws -> [LRSchedulerConfiguration] {
        [LRSchedulerConfiguration(StepLR(optimizer, stepSize: 2, gamma: 0.8), interval: .step),
         LRSchedulerConfiguration(ReduceLROnPlateau(optimizer, factor: 0.5, patience: 0), monitor: "val_loss"),
         LRSchedulerConfiguration(ReduceLROnPlateau(optimizer, mode: .max, factor: 0.9, patience: 1), monitor: "val_loss",
                                  interval: .step, strict: false)]
    }
}

/// The stateful callbacks of one run, with the checkpointing one last.
struct ProbeCallbacks {
    let counters = [Counter(what: .batches), Counter(what: .epochs)]
    let stopper: EarlyStopping

    /// With `stopsEarly`, EarlyStopping wants val_loss to rise: the second validation stops the run.
    init(stopsEarly: Bool = false) throws {
        stopper = stopsEarly ? try EarlyStopping(monitor: "val_loss", patience: 1, mode: .max)
            : try EarlyStopping(monitor: "val_loss", patience: 100)
    }

    func list(saver: Callback? = nil) -> [Callback] {
        counters + [stopper] + (saver.map { [$0] } ?? [])
    }

    /// Each stateful callback's state, printed (checkpoint values compare by their printed form).
    func states() throws -> [String] { try (counters + [stopper]).map { String(describing: try $0.stateDict()) } }
}

@Suite struct ExhaustiveResumeTests {
    enum Validation: String, CaseIterable, CustomTestStringConvertible {
        /// Every 3 batches counted across epochs: mid-epoch, and once at the last epoch's last batch.
        case everyThreeBatches
        /// At each epoch's end (after its last batch).
        case atEpochEnd
        /// Every 3 batches, with `maxSteps` 7 ending fit at the second batch of the last epoch,
        /// which still ends (its end hooks and means) in the uninterrupted run.
        case untilMaxSteps
        /// Every 3 batches, with EarlyStopping ending fit after the second validation (the first
        /// batch of the second epoch), which still ends that epoch.
        case stoppedEarly

        var testDescription: String { rawValue }

        /// Train batches the uninterrupted run processes.
        var trainBatches: Int {
            switch self {
            case .everyThreeBatches, .atEpochEnd: 15
            case .untilMaxSteps: 12
            case .stoppedEarly: 6
            }
        }
        /// Validations it runs (each of two batches).
        var validations: Int { self == .atEpochEnd ? 3 : trainBatches / 3 }
        /// Epochs it completes.
        var epochs: Int { self == .stoppedEarly ? 2 : 3 }
        /// Its optimizer steps (accumulating over 2 of 5 batches: after the 2nd, 4th and 5th).
        var steps: Int { [.untilMaxSteps: 7, .stoppedEarly: 3][self] ?? 9 }

        func callbacks() throws -> ProbeCallbacks { try ProbeCallbacks(stopsEarly: self == .stoppedEarly) }
    }

    static func options(_ validation: Validation) -> Trainer.Options {
        Trainer.Options(maxEpochs: 3, maxSteps: validation == .untilMaxSteps ? 7 : nil,
                        valCheckInterval: validation == .atEpochEnd ? nil : .batches(3),
                        checkValEveryNEpoch: validation == .atEpochEnd ? 1 : nil, numSanityValSteps: 1,
                        accumulateGradBatches: 2, logEveryNSteps: 1, enableCheckpointing: false)
    }

    /// One fit of a ``ResumeProbe`` with the scenario's options and callbacks (and `extra` ones
    /// after them), recording its logger calls.
    struct ProbeRun {
        let trainer: Trainer
        let module: ResumeProbe
        let callbacks: ProbeCallbacks
        let logger: RecordingLogger

        /// Resumed runs start from another initialisation (`seed` 77) than fresh ones (5), so only
        /// the restore can make them agree.
        init(_ validation: Validation, extra: [Callback] = [], seed: UInt64 = 5, logger: RecordingLogger = RecordingLogger()) throws {
            module = ResumeProbe(seed: seed)
            self.logger = logger
            callbacks = try validation.callbacks()
            trainer = try Trainer(ExhaustiveResumeTests.options(validation), callbacks: callbacks.list() + extra, loggers: [logger])
        }

        func fit(ckptPath: URL? = nil) throws {
            try trainer.fit(module, data: try freshData(), ckptPath: ckptPath.map { .path($0) })
        }

        /// A fresh run resumed from `file`, or nil (with the failure recorded) when it throws.
        static func resumed(_ validation: Validation, from file: URL, _ context: String) throws -> ProbeRun? {
            let run = try ProbeRun(validation, seed: 77)
            do {
                try run.fit(ckptPath: file)
            } catch {
                Issue.record("\(context): the resumed fit failed: \(error)")
                return nil
            }
            return run
        }
    }

    /// 3 epochs × 5 batches with dropout, accumulation over 2, three schedulers, two Counters and
    /// EarlyStopping: from a checkpoint at every point the run can be saved, a fresh trainer and a
    /// differently initialised model end byte-identical to the uninterrupted run (weights, optimizer,
    /// schedulers, callback states), and the loggers receive exactly the rest of its calls.
    @Test(arguments: Validation.allCases) func resumeFromEveryPointIsExact(_ validation: Validation) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let straightLogger = RecordingLogger()
        let saver = SaveEverywhere(directory: directory, logger: straightLogger)
        let straight = try ProbeRun(validation, extra: [saver], logger: straightLogger)
        try straight.fit()
        #expect(straight.trainer.currentEpoch == validation.epochs)
        #expect(straight.trainer.globalStep == validation.steps)
        // Each train batch's start, backward and end, each optimizer step; per validation two
        // batches, then its end; each epoch's end.
        #expect(saver.points.count == 3 * validation.trainBatches + validation.steps + 3 * validation.validations + validation.epochs)

        for point in saver.points {
            guard let resumed = try ProbeRun.resumed(validation, from: point.file, "resumed from \(point)") else { continue }
            try expectSameEnd(resumed, resumed.logger.loggedCalls, as: straight,
                              Array(straight.logger.loggedCalls[point.loggedBefore...]), "resumed from \(point)")
        }
    }

    /// Ctrl-C (the interrupt flag) after every train batch and every validation batch: the run
    /// stops with OnExceptionCheckpoint's file, and resuming from it ends as the uninterrupted run,
    /// the two runs' logger calls together being exactly the uninterrupted run's.
    @Test(arguments: Validation.allCases) func resumeAfterAnInterruptAnywhereIsExact(_ validation: Validation) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let straight = try ProbeRun(validation)
        try straight.fit()

        let stops = (1...validation.trainBatches).map { InterruptAt.trainBatch($0) }
            + (1...(2 * validation.validations)).map { InterruptAt.validationBatch($0) }
        for stop in stops {
            let onException = try OnExceptionCheckpoint(dirpath: directory.path, filename: "interrupted")
            let first = try ProbeRun(validation, extra: [Interrupter(at: stop), onException])
            #expect(throws: TrainerError.interrupted(stage: .fit), "interrupt at \(stop)") { try first.fit() }
            guard let resumed = try ProbeRun.resumed(validation, from: onException.ckptPath, "interrupted at \(stop)") else { continue }
            try expectSameEnd(resumed, first.logger.loggedCalls + resumed.logger.loggedCalls, as: straight,
                              straight.logger.loggedCalls, "interrupted at \(stop)")
        }
    }

    /// A resumed fit skips the sanity check its first run made (Lightning's `not val_loop.restarting`).
    @Test func resumedFitSkipsTheSanityCheck() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("batch3.ckpt")
        let first = HookTrace()
        try Trainer(Self.options(.atEpochEnd), callbacks: [RecordingCallback("first", trace: first), StopAndSave(batch: 3, url: checkpoint)])
            .fit(ResumeProbe(seed: 5), data: try freshData())
        let resumed = HookTrace()
        try Trainer(Self.options(.atEpochEnd), callbacks: [RecordingCallback("resumed", trace: resumed)])
            .fit(ResumeProbe(seed: 5), data: try freshData(), ckptPath: checkpoint)
        #expect(first.entries.contains("first.onSanityCheckStart"))
        #expect(resumed.entries.contains("resumed.onTrainStart"))
        #expect(!resumed.entries.contains("resumed.onSanityCheckStart"))
    }

    /// Weights, optimizer, schedulers, their counters and callback states byte-identical, and the same logger calls.
    func expectSameEnd(_ run: ProbeRun, _ entries: [LoggedCall], as straight: ProbeRun,
                       _ expected: [LoggedCall], _ context: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (trainer, straightTrainer) = (run.trainer, straight.trainer)
        #expect(weightBytes(run.module) == weightBytes(straight.module), "weights, \(context)", sourceLocation: sourceLocation)
        #expect(trainer.optimizer?.stateDict() == straightTrainer.optimizer?.stateDict(), "optimizer, \(context)", sourceLocation: sourceLocation)
        #expect(trainer.lrSchedulerConfigs.map { $0.stateDict() } == straightTrainer.lrSchedulerConfigs.map { $0.stateDict() },
                "schedulers, \(context)", sourceLocation: sourceLocation)
        #expect(trainer.progress.schedulerStep.total == straightTrainer.progress.schedulerStep.total,
                "scheduler steps, \(context)", sourceLocation: sourceLocation)
        #expect(trainer.globalStep == straightTrainer.globalStep && trainer.currentEpoch == straightTrainer.currentEpoch,
                "step and epoch, \(context)", sourceLocation: sourceLocation)
        #expect(try run.callbacks.states() == straight.callbacks.states(), "callback states, \(context)", sourceLocation: sourceLocation)
        guard entries != expected else { return }
        let firstDifference = zip(entries, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(entries.count, expected.count)
        func describe(_ list: [LoggedCall]) -> String {
            list.dropFirst(firstDifference).first.map(String.init(describing:)) ?? "nothing"
        }
        Issue.record("logged metrics, \(context): \(entries.count) calls against \(expected.count); first difference at call \(firstDifference): got \(describe(entries)), expected \(describe(expected))",
                     sourceLocation: sourceLocation)
    }
}

/// Where ``Interrupter`` raises the interrupt flag: after the run's n-th train or validation batch (1-based).
enum InterruptAt: CustomStringConvertible {
    case trainBatch(Int)
    case validationBatch(Int)

    var description: String {
        switch self {
        case let .trainBatch(count): "train batch \(count)"
        case let .validationBatch(count): "validation batch \(count)"
        }
    }
}

/// Raises the trainer's interrupt flag once, as Ctrl-C would, at the end of the chosen batch.
final class Interrupter: Callback, @unchecked Sendable {
    let stop: InterruptAt
    private var validationBatches = 0

    init(at stop: InterruptAt) { self.stop = stop }

    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        if case let .trainBatch(count) = stop, trainer.progress.trainBatch.total.processed == count { trainer.interruptFlag.raise() }
    }

    override func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                       batchIndex: Int, dataloaderIndex: Int) throws {
        guard !trainer.isSanityChecking else { return }
        validationBatches += 1
        if case let .validationBatch(count) = stop, validationBatches == count { trainer.interruptFlag.raise() }
    }
}

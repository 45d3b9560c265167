import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import OrderedCollections
import Testing

/// Keeps every call the trainer makes, in order.
final class RecordingLogger: ExperimentLogger, @unchecked Sendable {
    let name = "recording"
    let version = "version_0"
    private let lock = NSLock()
    private var recorded: [String] = []
    private var rows: [(step: Int, metrics: OrderedDictionary<String, Double>)] = []

    var calls: [String] { lock.withLock { recorded } }
    /// Every `logMetrics` call, in order.
    var metricRows: [(step: Int, metrics: OrderedDictionary<String, Double>)] { lock.withLock { rows } }

    func logMetrics(_ metrics: OrderedDictionary<String, Double>, step: Int) throws {
        lock.withLock {
            rows.append((step, metrics))
            recorded.append("metrics@\(step):" + metrics.keys.joined(separator: ","))
        }
    }
    func logHyperparameters(_ hyperparameters: CheckpointValue) throws { lock.withLock { recorded.append("hyperparameters") } }
    func save() throws {}
    func finalize(status: String) throws { lock.withLock { recorded.append("finalize(\(status))") } }
}

/// A logger whose `finalize` always fails.
final class UnfinalizableLogger: ExperimentLogger, @unchecked Sendable {
    let name = "unfinalizable"
    let version = "version_0"
    func logMetrics(_ metrics: OrderedDictionary<String, Double>, step: Int) throws {}
    func logHyperparameters(_ hyperparameters: CheckpointValue) throws {}
    func save() throws {}
    func finalize(status: String) throws { throw LoggerError.io(path: "nowhere", reason: "finalize") }
}

/// Saves a checkpoint in the first training epoch's end hooks, then stops fit.
final class SaveAtFirstEpochEnd: Callback, @unchecked Sendable {
    let url: URL
    init(url: URL) { self.url = url }
    override func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard trainer.currentEpoch == 0 else { return }
        try trainer.saveCheckpoint(to: url)
        trainer.shouldStop = true
    }
}

/// Fails in its third training step.
final class ThirdBatchFailingClassifier: TinyClassifier, @unchecked Sendable {
    struct Failure: Error {}
    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        if batchIndex == 2 { throw Failure() }
        return try super.trainingStep(batch, batchIndex: batchIndex)
    }
}

@Suite struct LoggerWiringTests {
    /// Hyper-parameters first, each train step (with `epoch`), validation means at the epoch's
    /// last step, then `finalize(success)`; the sanity check logs nothing.
    @Test func fitSendsWhatLightningSends() throws {
        let logger = RecordingLogger()
        let options = Trainer.Options(maxEpochs: 1, numSanityValSteps: 2, logEveryNSteps: 1, enableCheckpointing: false)
        try Trainer(options, loggers: [logger]).fit(EpochMeanClassifier(seed: 1), data: try freshData())
        #expect(logger.calls == ["hyperparameters"] + (0..<5).map { "metrics@\($0):train_loss_step,epoch" }
            + ["metrics@4:val_loss,epoch", "metrics@4:train_loss_epoch,epoch", "finalize(success)"])
        #expect(logger.metricRows.allSatisfy { $0.metrics["epoch"] == 0 })
    }

    /// With two batches per step, only the batches that step log, at the steps' own numbers.
    @Test func accumulatingBatchesWaitForTheStep() throws {
        let logger = RecordingLogger()
        let options = Trainer.Options(maxEpochs: 1, limitValBatches: 0, numSanityValSteps: 0, accumulateGradBatches: 2,
                                      logEveryNSteps: 1, enableCheckpointing: false)
        try Trainer(options, loggers: [logger]).fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(logger.metricRows.map(\.step) == [0, 1, 2])
    }

    /// validate and test send their means at the steps trained so far, then finalize.
    @Test func evaluationStagesLogTheirMeans() throws {
        let logger = RecordingLogger()
        let trainer = try Trainer(quietOptions(), loggers: [logger])
        let module = TinyClassifier(seed: 1)
        try trainer.validate(module, data: try freshData())
        #expect(logger.calls == ["hyperparameters", "metrics@0:val_loss,epoch", "finalize(success)"])
        let data = LoaderDataModule(train: nil, validation: nil, test: DataLoader(try syntheticDataset(rows: 8), batchSize: 4))
        try trainer.test(module, data: data)
        #expect(logger.calls.suffix(2) == ["metrics@0:test_loss,epoch", "finalize(success)"])
    }

    /// A failing stage finalizes with `failed`, an interrupted one with `interrupted`.
    @Test func finalizeNamesHowTheStageEnded() throws {
        let failed = RecordingLogger()
        #expect(throws: ThirdBatchFailingClassifier.Failure.self) {
            try Trainer(quietOptions(), loggers: [failed]).fit(ThirdBatchFailingClassifier(seed: 1), data: try freshData())
        }
        #expect(failed.calls.last == "finalize(failed)")
        let interrupted = RecordingLogger()
        #expect(throws: TrainerError.interrupted(stage: .fit)) {
            try Trainer(quietOptions(), callbacks: [InterruptAfterBatch(batchIndex: 1)], loggers: [interrupted])
                .fit(TinyClassifier(seed: 1), data: try freshData())
        }
        #expect(interrupted.calls.last == "finalize(interrupted)")
    }

    /// A logger that cannot finalize fails a stage that succeeded, but never hides the error of one that failed.
    @Test func finalizeErrorsNeverHideTheStagesOwn() throws {
        #expect(throws: LoggerError.io(path: "nowhere", reason: "finalize")) {
            try Trainer(quietOptions(), loggers: [UnfinalizableLogger()]).fit(TinyClassifier(seed: 1), data: try freshData())
        }
        #expect(throws: ThirdBatchFailingClassifier.Failure.self) {
            try Trainer(quietOptions(), loggers: [UnfinalizableLogger()]).fit(ThirdBatchFailingClassifier(seed: 1), data: try freshData())
        }
    }

    /// A checkpoint taken in the first epoch's end hooks, before that epoch's means are logged:
    /// the resumed run logs them first, and its file matches the uninterrupted run's; a resumed
    /// logger does not log the hyper-parameters again.
    @Test func epochEndCheckpointOwesTheEpochMeans() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let straightRoot = directory.appendingPathComponent("straight"), resumedRoot = directory.appendingPathComponent("resumed")
        let checkpoint = directory.appendingPathComponent("epoch0.ckpt")
        let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 1, logEveryNSteps: 2, enableCheckpointing: false)
        try Trainer(options, loggers: [CSVLogger(saveDirectory: straightRoot)]).fit(EpochMeanClassifier(seed: 1), data: try freshData())
        try Trainer(options, callbacks: [SaveAtFirstEpochEnd(url: checkpoint)], loggers: [CSVLogger(saveDirectory: resumedRoot)])
            .fit(EpochMeanClassifier(seed: 1), data: try freshData())
        let recording = RecordingLogger()
        try Trainer(options, loggers: [CSVLogger(saveDirectory: resumedRoot), recording])
            .fit(EpochMeanClassifier(seed: 2), data: try freshData(), ckptPath: checkpoint)
        #expect(try metricsText(resumedRoot) == (try metricsText(straightRoot)))
        // The recording logger was not in the checkpoint: it starts a new run, hyper-parameters first.
        #expect(recording.calls.prefix(2) == ["hyperparameters", "metrics@4:train_loss_epoch,epoch"])
    }

    /// Two CSV loggers of one name would overwrite each other's state: the checkpoint refuses.
    @Test func statefulLoggersNeedDistinctKeys() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let loggers = [CSVLogger(saveDirectory: directory.appendingPathComponent("a")), CSVLogger(saveDirectory: directory.appendingPathComponent("b"))]
        let key = #"CSVLogger<"name":"lightning_logs">"#
        #expect(throws: LoggerError.duplicateStateKey(key: key, first: "loggers[0] CSVLogger", second: "loggers[1] CSVLogger")) {
            try Trainer(quietOptions(), callbacks: [StopAndSave(step: 2, url: directory.appendingPathComponent("x.ckpt"))], loggers: loggers)
                .fit(TinyClassifier(seed: 1), data: try freshData())
        }
        #expect(LoggerError.duplicateStateKey(key: key, first: "loggers[0] CSVLogger", second: "loggers[1] CSVLogger").description
            == "loggers[0] CSVLogger and loggers[1] CSVLogger share the state key \(key); give one a distinct name")
    }

    @Test func loggerSpecsBuildTheLoggers() throws {
        let loggers = try LoggerSpec.makeLoggers(["csv", "tensorboard:name=digits,version=3,prefix=run,save_dir=/tmp/tb"],
                                                 defaultRootDir: "/tmp/root")
        let csv = try #require(loggers[0] as? CSVLogger)
        #expect(csv.logDirectory?.path == "/tmp/root/lightning_logs/version_\(RunDirectory.nextFreeVersion(in: URL(fileURLWithPath: "/tmp/root/lightning_logs")))")
        let board = try #require(loggers[1] as? TensorBoardLogger)
        #expect(board.logDirectory?.path == "/tmp/tb/digits/version_3")
        #expect(board.prefix == "run")
        #expect(try LoggerSpec(parsing: "TB").kind == .tensorboard)
        #expect(try LoggerSpec(parsing: "CSVLogger:version=0").version == 0)
        #expect(throws: LoggerError.badSpec(spec: "wandb", reason: "unknown logger wandb; known: csv, tensorboard")) {
            try LoggerSpec(parsing: "wandb")
        }
        #expect(throws: LoggerError.badSpec(spec: "csv:flush=3", reason: "unknown argument flush; known: save_dir, name, version, prefix")) {
            try LoggerSpec(parsing: "csv:flush=3")
        }
        #expect(throws: CallbackSpecError.badValue(callback: "csv", key: "version", value: "-1", expected: "non-negative integer")) {
            try LoggerSpec(parsing: "csv:version=-1")
        }
    }
}

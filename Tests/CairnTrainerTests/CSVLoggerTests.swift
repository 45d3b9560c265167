import CairnCheckpoint
import CairnData
import CairnNN
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// The text of a run's `metrics.csv`.
func metricsText(_ root: URL, version: Int = 0) throws -> String {
    try String(contentsOf: root.appendingPathComponent("lightning_logs/version_\(version)/metrics.csv"), encoding: .utf8)
}

@Suite struct CSVLoggerTests {
    /// Two epochs of five batches, logging every other step: train step rows at steps 1, 3, 5, 7, 9
    /// (Lightning's `(step + 1) % n == 0`), then each epoch's validation and training means at its last step.
    @Test func rowsFollowLightningsSteps() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let logger = CSVLogger(saveDirectory: directory)
        let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 1, logEveryNSteps: 2, enableCheckpointing: false)
        try Trainer(options, loggers: [logger]).fit(TinyClassifier(seed: 1), data: try freshData())

        let table = try CSVTable(contentsOf: logger.metricsFile)
        #expect(table.header == ["epoch", "step", "train_loss", "val_loss"])
        let layout = table.rows.map { row in [row[0], row[1], row[2].isEmpty ? "" : "t", row[3].isEmpty ? "" : "v"] }
        #expect(layout == [["0", "1", "t", ""], ["0", "3", "t", ""], ["0", "4", "", "v"],
                           ["1", "5", "t", ""], ["1", "7", "t", ""], ["1", "9", "t", ""], ["1", "9", "", "v"]])
        #expect(logger.version == "version_0")
        #expect(logger.logDirectory == directory.appendingPathComponent("lightning_logs/version_0", isDirectory: true))
    }

    /// Epoch means of a metric logged per step and per epoch get `_step` and `_epoch` columns; a
    /// column appearing later rewrites the file under the wider header, earlier rows left empty there.
    @Test func columnsGrowAsMetricsAppear() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let logger = CSVLogger(saveDirectory: directory, name: "growing")
        try logger.logMetrics(["b": 1], step: 0)
        try logger.save()
        try logger.logMetrics(["a": 0.5, "c,d": 2], step: 1)
        try logger.logMetrics(["b": 3], step: 2)
        try logger.finalize(status: LoggerStatus.success)
        let text = try String(contentsOf: directory.appendingPathComponent("growing/version_0/metrics.csv"), encoding: .utf8)
        #expect(text == "a,b,\"c,d\",step\n,1.0,,0\n0.5,,2.0,1\n,3.0,,2\n")
    }

    /// The everyday case: a ModelCheckpoint saving `last.ckpt` every 3 steps, the run interrupted
    /// after step 8 (two steps after its last checkpoint, whose rows it wrote), resumed with `ckptPath: .last`.
    @Test func interruptedRunResumedFromLastCheckpoint() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let straightRoot = directory.appendingPathComponent("straight"), resumedRoot = directory.appendingPathComponent("resumed")
        func options(_ root: URL) -> Trainer.Options {
            Trainer.Options(maxEpochs: 3, numSanityValSteps: 1, logEveryNSteps: 1, defaultRootDir: root.path)
        }
        func checkpointing() throws -> ModelCheckpoint { try ModelCheckpoint(saveTopK: 0, saveLast: true, everyNTrainSteps: 3) }
        try Trainer(options(straightRoot), callbacks: [try checkpointing()], loggers: [CSVLogger(saveDirectory: straightRoot)])
            .fit(EpochMeanClassifier(seed: 1), data: try freshData())
        #expect(throws: TrainerError.interrupted(stage: .fit)) {
            try Trainer(options(resumedRoot), callbacks: [try checkpointing(), InterruptAtStep(step: 8)],
                        loggers: [CSVLogger(saveDirectory: resumedRoot)])
                .fit(EpochMeanClassifier(seed: 1), data: try freshData())
        }
        let interruptedRows = try metricsText(resumedRoot).split(separator: "\n")
        #expect(interruptedRows.last?.hasPrefix("1,7,") == true)
        try Trainer(options(resumedRoot), callbacks: [try checkpointing()], loggers: [CSVLogger(saveDirectory: resumedRoot)])
            .fit(EpochMeanClassifier(seed: 4), data: try freshData(), ckptPath: .last)
        #expect(try metricsText(resumedRoot) == (try metricsText(straightRoot)))
        #expect(try metricsText(straightRoot).split(separator: "\n").count == 1 + 15 + 3 + 3)
    }

    /// Loading a state cuts the file back to its rows, and drops a column only later rows used.
    @Test func loadingAStateCutsTheFileBack() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = CSVLogger(saveDirectory: directory)
        try first.logMetrics(["loss": 0.5], step: 0)
        let state = try #require(try first.stateDict())
        try first.logMetrics(["loss": 0.25, "late": 1], step: 1)
        try first.save()
        #expect(try metricsText(directory) == "late,loss,step\n,0.5,0\n1.0,0.25,1\n")

        let second = CSVLogger(saveDirectory: directory)
        try second.loadStateDict(state)
        #expect(try metricsText(directory) == "loss,step\n0.5,0\n")
        try second.logMetrics(["loss": 0.125], step: 1)
        try second.save()
        #expect(try metricsText(directory) == "loss,step\n0.5,0\n0.125,1\n")
        #expect(throws: LoggerError.malformedState(logger: second.stateKey, reason: "expected a non-negative int at /rows")) {
            try second.loadStateDict(.dictionary(["version": .int(0)]))
        }
    }

    /// Each new logger without a version takes the next free `version_N`.
    @Test func newRunsTakeTheNextVersion() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("lightning_logs/version_3"), withIntermediateDirectories: true)
        for expected in ["version_4", "version_5"] {
            let logger = CSVLogger(saveDirectory: directory)
            try Trainer(quietOptions(), loggers: [logger]).fit(TinyClassifier(seed: 1), data: try freshData())
            #expect(logger.version == expected)
            #expect(FileManager.default.fileExists(atPath: logger.metricsFile.path))
        }
        #expect(CSVLogger(saveDirectory: directory, version: 1).version == "version_1")
    }

    /// Fit start writes the module's hyper-parameters as YAML.
    @Test func hyperparametersGoToYAML() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let logger = CSVLogger(saveDirectory: directory)
        try Trainer(quietOptions(), loggers: [logger]).fit(TinyClassifier(seed: 1), data: try freshData())
        let yaml = try String(contentsOf: logger.logDirectory!.appendingPathComponent("hparams.yaml"), encoding: .utf8)
        #expect(yaml == "hidden: 8\nlearningRate: 0.05\n")
    }

    @Test func yamlSpellsTypesForYAMLReaders() {
        let tree: CheckpointValue = .dictionary([
            "name": .string("mlp"), "tricky": .string("yes"), "colon": .string("a: b"), "small": .double(1e-5),
            "layers": .list([.int(8), .int(4)]), "optimizer": .dictionary(["lr": .double(0.1), "betas": .list([])]),
            "none": .null, "flag": .bool(true), "limit": .double(.infinity),
            "blocks": .list([.dictionary(["width": .int(2), "act": .string("relu")])]),
        ])
        #expect(HyperparameterYAML.document(tree) == """
            name: mlp
            tricky: "yes"
            colon: "a: b"
            small: 1.0e-05
            layers:
              - 8
              - 4
            optimizer:
              lr: 0.1
              betas: []
            none: null
            flag: true
            limit: .inf
            blocks:
              - width: 2
                act: relu

            """)
    }

    @Test func csvTableQuotesAndParsesBack() throws {
        let table = CSVTable(header: ["a", "b"], rows: [["x,y", "say \"hi\""], ["", "line\nbreak"]])
        #expect(try CSVTable.parse(table.text, file: "t.csv") == [table.header] + table.rows)
        // A row cut off by a killed writer is not a row.
        #expect(try CSVTable.parse("a,b\n1,2\n3,", file: "t.csv") == [["a", "b"], ["1", "2"]])
    }

    /// The resume test: ten steps straight through, against a run stopped after step 7 with a
    /// checkpoint (the stopping run still writes rows after it) and resumed with a fresh logger:
    /// the same version folder, and byte-identical `metrics.csv` files — with the step row the
    /// checkpoint was taken in, and (per-epoch logging) the epoch mean over both halves of the epoch.
    @Test(arguments: [(1, false), (3, false), (1, true), (2, true)])
    func resumedRunWritesTheSameMetricsFile(logEveryNSteps: Int, epochMeans: Bool) throws {
        func model(_ seed: UInt64) -> TinyClassifier { epochMeans ? EpochMeanClassifier(seed: seed) : TinyClassifier(seed: seed) }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let straightRoot = directory.appendingPathComponent("straight"), resumedRoot = directory.appendingPathComponent("resumed")
        let checkpoint = directory.appendingPathComponent("step7.ckpt")
        let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 1, logEveryNSteps: logEveryNSteps, enableCheckpointing: false)

        try Trainer(options, loggers: [CSVLogger(saveDirectory: straightRoot)]).fit(model(1), data: try freshData())
        try Trainer(options, callbacks: [StopAndSave(step: 7, url: checkpoint)], loggers: [CSVLogger(saveDirectory: resumedRoot)])
            .fit(model(1), data: try freshData())
        let stopped = try metricsText(resumedRoot)
        let resumedLogger = CSVLogger(saveDirectory: resumedRoot)
        try Trainer(options, loggers: [resumedLogger]).fit(model(5), data: try freshData(), ckptPath: checkpoint)

        #expect(resumedLogger.version == "version_0")
        #expect(try metricsText(resumedRoot) == (try metricsText(straightRoot)))
        #expect(stopped != (try metricsText(straightRoot)))
        #expect(!FileManager.default.fileExists(atPath: resumedRoot.appendingPathComponent("lightning_logs/version_1").path))
        if epochMeans { #expect(try metricsText(straightRoot).hasPrefix("epoch,step,train_loss_epoch,train_loss_step,val_loss\n")) }
        let saved = try Checkpoint.load(checkpoint)
        #expect(integer(saved[JSONPointer(tokens: ["loggers", #"CSVLogger<"name":"lightning_logs">"#, "version"])]) == 0)
    }
}

/// Logs its training loss per step and as an epoch mean (`train_loss_step`, `train_loss_epoch`).
final class EpochMeanClassifier: TinyClassifier, @unchecked Sendable {
    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
        log("train_loss", loss, onStep: true, onEpoch: true)
        return loss
    }
}


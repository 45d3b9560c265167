import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Ends a run abruptly after the optimizer step that reaches `step`, as a crash would: nothing
/// is saved on the way out, and the test carries on with fresh objects.
final class CrashAtStep: Callback, @unchecked Sendable {
    struct Crash: Error {}
    let step: Int
    init(step: Int) { self.step = step }

    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        if trainer.globalStep == step { throw Crash() }
    }
}

/// A regression on 8 float features and one float target, as a new user writes it.
final class LinearRegression: TrainingModule, @unchecked Sendable {
    let hidden: Linear
    let output: Linear

    init(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        hidden = Linear(8, 16, rng: &rng)
        output = Linear(16, 1, rng: &rng)
        super.init()
    }

    override func forward(_ input: Tensor) -> Tensor { output(hidden(input).relu()) }

    /// The mean squared error of the batch's float targets, logged under `name`.
    private func loss(_ batch: Batch, logging name: String) throws -> Tensor {
        let loss = Loss.meanSquaredError(self(try batch.tensor("features")), try batch.tensor("target"))
        log(name, loss)
        return loss
    }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? { try loss(batch, logging: "train_loss") }
    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? { try loss(batch, logging: "val_loss") }

    override func configureOptimizers() throws -> Optimizer { Adam(parameters(), lr: 0.01) }
}

/// A CSV of 8 features `x0…x7` and a float target `y`, a fixed function of them.
func regressionCSV(rows: Int, offset: Int) -> String {
    var lines = [((0..<8).map { "x\($0)" } + ["y"]).joined(separator: ",")]
    for row in 0..<rows {
        let features = (0..<8).map { column in Float(((row + offset) * (column + 3) + column * 7) % 13) / 13 - 0.5 }
        let target = features.enumerated().reduce(Float(0.25)) { $0 + $1.element * Float($1.offset % 3 - 1) }
        lines.append((features + [target]).map { "\($0)" }.joined(separator: ","))
    }
    return lines.joined(separator: "\n")
}

@Suite struct RegressionAndSequenceTests {
    static func regressionData() throws -> LoaderDataModule {
        let train = try CSVDataset(text: regressionCSV(rows: 60, offset: 0), file: "train.csv", target: .values(columns: ["y"]))
        let validation = try CSVDataset(text: regressionCSV(rows: 16, offset: 100), file: "val.csv", target: .values(columns: ["y"]))
        return LoaderDataModule(train: DataLoader(train, batchSize: 8, shuffle: true, seed: 5),
                                validation: DataLoader(validation, batchSize: 8, shuffle: false))
    }

    static func regressionCallbacks(_ directory: URL) throws -> [Callback] {
        [try EarlyStopping(monitor: "val_loss", patience: 2),
         try ModelCheckpoint(dirpath: directory.path, monitor: "val_loss", saveTopK: 2, saveLast: true, everyNTrainSteps: 5)]
    }

    static func options() -> Trainer.Options {
        Trainer.Options {
            $0.maxEpochs = 6
            $0.enableProgressBar = false
            $0.numSanityValSteps = 0
            $0.enableModelSummary = false
        }
    }

    /// The whole scenario: float targets from a CSV, MSE, early stopping on `val_loss`, the two
    /// best files and `last.ckpt` every 5 steps; a crash mid-epoch (step 13, with step 10's
    /// files on disk) and `ckptPath: .last` end with the same weights and files as a run that
    /// never crashed.
    @Test func floatTargetRegressionResumesExactlyAfterACrash() throws {
        let straightDirectory = try temporaryDirectory(), crashedDirectory = try temporaryDirectory()
        defer {
            try? FileManager.default.removeItem(at: straightDirectory)
            try? FileManager.default.removeItem(at: crashedDirectory)
        }
        let straight = LinearRegression(seed: 3)
        let straightTrainer = try Trainer(Self.options(), callbacks: try Self.regressionCallbacks(straightDirectory))
        try straightTrainer.fit(straight, data: try Self.regressionData())
        let straightLoss = try #require(straightTrainer.metrics.callbackMetrics["val_loss"])
        #expect(straightTrainer.globalStep > 13)

        let crashed = LinearRegression(seed: 3)
        #expect(throws: CrashAtStep.Crash.self) {
            try Trainer(Self.options(), callbacks: try Self.regressionCallbacks(crashedDirectory) + [CrashAtStep(step: 13)])
                .fit(crashed, data: try Self.regressionData())
        }
        let resumed = LinearRegression(seed: 99)
        let resumedTrainer = try Trainer(Self.options(), callbacks: try Self.regressionCallbacks(crashedDirectory))
        try resumedTrainer.fit(resumed, data: try Self.regressionData(), ckptPath: .last)

        #expect(weightBytes(resumed) == weightBytes(straight))
        #expect(resumedTrainer.globalStep == straightTrainer.globalStep)
        #expect(resumedTrainer.metrics.callbackMetrics["val_loss"] == straightLoss)
        let files = { (directory: URL) in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted() }
        #expect(try files(crashedDirectory) == files(straightDirectory))
        #expect(try files(straightDirectory).contains("last.ckpt"))
    }

    /// A token-window dataset over a short text feeds `[B, T]` batches to a tiny next-token
    /// model; stopped mid-epoch and resumed, it ends byte-identical to an uninterrupted run.
    @Test func tokenWindowsTrainAndResumeMidEpochExactly() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("mid.ckpt")
        let text = "the quick brown fox jumps over the lazy dog, then the dog sleeps while the fox runs away."
        let vocabulary = Array(Set(text)).sorted()
        let tokens = text.map { Int64(vocabulary.firstIndex(of: $0) ?? 0) }
        func data() throws -> LoaderDataModule {
            LoaderDataModule(train: DataLoader(try TokenWindowDataset(tokens: tokens, window: 8, stride: 3), batchSize: 4, shuffle: true, seed: 2))
        }
        let options = Trainer.Options {
            $0.maxEpochs = 3
            $0.enableCheckpointing = false
            $0.enableProgressBar = false
            $0.enableModelSummary = false
        }
        let straight = NextTokenModel(vocabulary: vocabulary.count, seed: 4)
        let straightTrainer = try Trainer(options)
        try straightTrainer.fit(straight, data: try data())
        #expect(straight.batchShapes.allSatisfy { $0 == [4, 8] || $0 == [Int(straight.lastBatchRows), 8] })
        #expect(straight.batchShapes.contains([4, 8]))

        let stopped = NextTokenModel(vocabulary: vocabulary.count, seed: 4)
        try Trainer(options, callbacks: [StopAndSave(step: 9, url: checkpoint)]).fit(stopped, data: try data())
        let resumed = NextTokenModel(vocabulary: vocabulary.count, seed: 77)
        let resumedTrainer = try Trainer(options)
        try resumedTrainer.fit(resumed, data: try data(), ckptPath: checkpoint)
        #expect(weightBytes(resumed) == weightBytes(straight))
        #expect(resumedTrainer.globalStep == straightTrainer.globalStep)
    }
}

/// Embedding → linear over every position of `[B, T]` token batches, cross-entropy against the next token.
final class NextTokenModel: TrainingModule, @unchecked Sendable {
    let embedding: Embedding
    let output: Linear
    private(set) var batchShapes: [[Int]] = []
    var lastBatchRows: Int { batchShapes.last?.first ?? 0 }

    init(vocabulary: Int, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        embedding = Embedding(vocabulary, 6, rng: &rng)
        output = Linear(6, vocabulary, rng: &rng)
        super.init()
    }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let tokens = try batch.tensor("tokens"), targets = try batch.tensor("targets")
        batchShapes.append(tokens.shape)
        let positions = tokens.shape.reduce(1, *)
        let logits = output(embedding(tokens.reshape([positions])))
        let loss = Loss.crossEntropy(logits, targets.reshape([positions]))
        log("train_loss", loss)
        return loss
    }

    override func configureOptimizers() throws -> Optimizer { Adam(parameters(), lr: 0.05) }
}

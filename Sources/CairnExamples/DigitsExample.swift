import CairnData
import CairnNN
import CairnOptim
import CairnTensor
import CairnTrainer
import Foundation

/// The hyper-parameters `DigitsClassifier` saves under `/hyper_parameters`.
public struct DigitsHyperparameters: Codable, Sendable, Equatable {
    /// Adam's learning rate.
    public var lr: Double
    /// Seed of the initial weights and dropout.
    public var seed: UInt64

    public init(lr: Double, seed: UInt64) {
        self.lr = lr
        self.seed = seed
    }
}

/// `DigitsMLP` as a ``TrainingModule``: cross-entropy, Adam, and `train_loss`, `val_loss`,
/// `val_acc`, `test_loss`, `test_acc` logged. Its state_dict keys are DigitsMLP's (`0.weight`, …).
public final class DigitsClassifier: TrainingModule, CheckpointLoadable, @unchecked Sendable {
    /// The wrapped network.
    public let model: DigitsMLP
    /// Adam's learning rate.
    public let learningRate: Double

    public init(lr: Double = 3e-3, seed: UInt64 = 42) {
        model = DigitsMLP(seed: seed)
        learningRate = lr
        super.init()
        // Encoding two plain numbers cannot fail.
        try? saveHyperparameters(DigitsHyperparameters(lr: lr, seed: seed))
    }

    /// The classifier its saved hyper-parameters describe (see ``CheckpointLoadable``).
    public convenience init(hyperparameters: DigitsHyperparameters) {
        self.init(lr: hyperparameters.lr, seed: hyperparameters.seed)
    }

    /// One all-zero row of 64 pixels, so the model summary shows output shapes.
    override public var exampleInput: Tensor? { Tensor.zeros([1, 64]) }

    // No path segment for the wrapper, so checkpoints read as DigitsMLP's own.
    override public var members: [(name: String, member: Member)] { model.members }

    override public func forward(_ input: Tensor) -> Tensor { model(input) }

    override public func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
        log("train_loss", loss)
        return loss
    }

    override public func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        try evaluate(batch, prefix: "val")
    }

    override public func testStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        try evaluate(batch, prefix: "test")
    }

    override public func configureOptimizers() throws -> Optimizer { Adam(parameters(), lr: learningRate) }

    private func evaluate(_ batch: Batch, prefix: String) throws -> Tensor {
        let labels = try batch.tensor("target")
        let logits = self(try batch.tensor("features"))
        let loss = Loss.crossEntropy(logits, labels)
        let correct = zip(logits.argmax(axis: 1).integers, labels.integers).filter { $0 == $1 }.count
        log("\(prefix)_loss", loss, progressBar: true)
        log("\(prefix)_acc", Double(correct) / Double(max(labels.count, 1)), progressBar: true)
        return loss
    }
}

/// The digits CSV as a ``DataModule``: pixels scaled by 1/16, a seeded split (validation 0.1,
/// test 0.2), a shuffled train loader and in-order evaluation loaders.
public final class DigitsDataModule: DataModule, BatchSizeAdjustable, @unchecked Sendable {
    /// The CSV file; nil reads the copy bundled with CairnExamples (``BundledData/digitsCSV``).
    public let path: String?
    /// Rows per batch of the loaders made from now on (``BatchSizeFinder`` may change it).
    public var batchSize: Int {
        didSet { precondition(batchSize >= 1, "DigitsDataModule: batchSize \(batchSize) must be at least 1") }
    }
    /// Seed of the split and the shuffling.
    public let seed: UInt64
    private var splits: DatasetSplits<CSVDataset>?

    public init(path: String? = nil, batchSize: Int = 64, seed: UInt64 = 42) {
        precondition(batchSize >= 1, "DigitsDataModule: batchSize \(batchSize) must be at least 1")
        self.path = path
        self.batchSize = batchSize
        self.seed = seed
    }

    /// The file read: `path`, or the bundled copy.
    public func resolvedPath() throws -> String {
        if let path { return path }
        return try BundledData.digitsCSV().path
    }

    /// Rows in the train, validation and test splits (after setup).
    public var splitSizes: (train: Int, validation: Int, test: Int)? {
        splits.map { ($0.train.count, $0.validation.count, $0.test.count) }
    }

    override public func setup(stage: Stage) throws {
        guard splits == nil else { return }
        // Pixels are 0…16; scaling to 0…1 keeps the first layer's inputs well conditioned.
        let data = try CSVDataset(contentsOfFile: resolvedPath()).scaled(by: 1 / 16)
        splits = data.split(validationFraction: 0.1, testFraction: 0.2, seed: seed)
    }

    override public func trainLoader() throws -> (any BatchLoader)? {
        splits.map { DataLoader($0.train, batchSize: batchSize, shuffle: true, seed: seed) }
    }

    override public func validationLoader() throws -> (any BatchLoader)? {
        splits.map { DataLoader($0.validation, batchSize: batchSize, shuffle: false) }
    }

    override public func testLoader() throws -> (any BatchLoader)? {
        splits.map { DataLoader($0.test, batchSize: batchSize, shuffle: false) }
    }

    override public func predictLoader() throws -> (any BatchLoader)? { try testLoader() }
}

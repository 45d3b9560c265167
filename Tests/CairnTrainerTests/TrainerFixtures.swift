import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation

/// A deterministic two-class data set: `rows` examples of three features.
func syntheticDataset(rows: Int, offset: Int = 0) throws -> CSVDataset {
    var lines = ["a,b,c,label"]
    for row in 0..<rows {
        let x = Float((row + offset) % 7) / 7 - 0.4
        let y = Float((row * 3 + offset) % 5) / 5 - 0.5
        let z = Float((row * 5 + offset) % 11) / 11
        lines.append("\(x),\(y),\(z),\(x + y > 0 ? 1 : 0)")
    }
    return try CSVDataset(text: lines.joined(separator: "\n"), file: "synthetic.csv")
}

/// Hyper-parameters saved by ``TinyClassifier``.
struct TinyHyperparameters: Codable, Equatable {
    var hidden: Int
    var learningRate: Double
}

/// A small MLP with dropout, trained with Adam, that logs its losses.
class TinyClassifier: TrainingModule, @unchecked Sendable {
    let hidden: Linear
    let dropout: Dropout
    let output: Linear

    init(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        hidden = Linear(3, 8, rng: &rng)
        dropout = Dropout(p: 0.25, seed: seed &+ 1)
        output = Linear(8, 2, rng: &rng)
        super.init()
        try? saveHyperparameters(TinyHyperparameters(hidden: 8, learningRate: 0.05))
    }

    override func forward(_ input: Tensor) -> Tensor { output(dropout(hidden(input).relu())) }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
        log("train_loss", loss)
        return loss
    }

    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
        log("val_loss", loss)
        return loss
    }

    override func testStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
        log("test_loss", loss)
        return loss
    }

    override func configureOptimizers() throws -> Optimizer { Adam(parameters(), lr: 0.05) }
}

/// Options that keep tests quiet and free of files unless they ask for them.
func quietOptions(maxEpochs: Int? = 1, numSanityValSteps: Int = 0) -> Trainer.Options {
    Trainer.Options(maxEpochs: maxEpochs, numSanityValSteps: numSanityValSteps, enableCheckpointing: false)
}

/// A fresh temporary directory for checkpoint files.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-trainer-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

import Cairn
import Foundation

/// One training run of the digits MLP: Adam, a seeded split, a checkpoint per epoch.
///
/// This is the engine-level example that `cairn fit` runs until the Trainer takes
/// over the loop; the checkpoint layout already follows Lightning's top-level keys.
struct DigitsRun {
    /// What the command line chose.
    struct Settings {
        var dataPath: String
        var maxEpochs: Int
        var batchSize: Int
        var learningRate: Double
        var seed: UInt64
        var checkpointDirectory: URL
    }

    /// Loss and accuracy of the model on one split.
    struct Evaluation {
        var loss: Float
        var accuracy: Double
    }

    let settings: Settings

    init(_ settings: Settings) {
        self.settings = settings
    }

    func fit() throws {
        // Pixels are 0…16; scaling to 0…1 keeps the first layer's inputs well conditioned.
        let data = try CSVDataset(contentsOfFile: settings.dataPath).scaled(by: 1 / 16)
        let splits = data.split(validationFraction: 0.1, testFraction: 0.2, seed: settings.seed)
        let loader = DataLoader(splits.train, batchSize: settings.batchSize, shuffle: true, seed: settings.seed)
        let model = DigitsMLP(seed: settings.seed)
        let optimizer = Adam(model.parameters(), lr: settings.learningRate)
        try FileManager.default.createDirectory(at: settings.checkpointDirectory, withIntermediateDirectories: true)
        print("cairn fit: \(data.count) digits from \(settings.dataPath): "
              + "\(splits.train.count) train, \(splits.validation.count) validation, \(splits.test.count) test")

        var globalStep = 0
        for epoch in 0..<settings.maxEpochs {
            model.train()
            var lossSum: Float = 0, seen = 0
            while let batch = loader.nextBatch() {
                optimizer.zeroGrad()
                let loss = Loss.crossEntropy(model(batch.features), batch.labels)
                loss.backward()
                optimizer.step()
                globalStep += 1
                lossSum += loss.item * Float(batch.labels.count)
                seen += batch.labels.count
            }
            let validation = Self.evaluate(model, on: splits.validation)
            let metrics: [(String, Double)] = [("train_loss", Double(lossSum / Float(max(seen, 1)))),
                                               ("val_loss", Double(validation.loss)), ("val_acc", validation.accuracy)]
            let name = "epoch=\(epoch)-step=\(globalStep).ckpt"
            let tree = checkpoint(model: model, optimizer: optimizer, loader: loader,
                                  epoch: epoch, globalStep: globalStep, metrics: metrics)
            try Checkpoint.save(tree, to: settings.checkpointDirectory.appendingPathComponent(name))
            try Checkpoint.save(tree, to: settings.checkpointDirectory.appendingPathComponent("last.ckpt"))
            let shown = metrics.map { "\($0.0) \(String(format: "%.4f", $0.1))" }.joined(separator: "  ")
            print("epoch \(epoch + 1)/\(settings.maxEpochs)  step \(globalStep)  \(shown)  → \(name)")
        }
        let test = Self.evaluate(model, on: splits.test)
        print("test_loss \(String(format: "%.4f", test.loss))  test_acc \(String(format: "%.4f", test.accuracy))")
        print("checkpoints in \(settings.checkpointDirectory.path)")
    }

    static func evaluate<Source: Dataset>(_ model: DigitsMLP, on split: Source) -> Evaluation {
        model.eval()
        defer { model.train() }
        let batch = DataLoader(split, batchSize: max(split.count, 1), shuffle: false).epochBatches()[0]
        return withNoGrad {
            let logits = model(batch.features)
            let predictions = logits.argmax(axis: 1).integers
            let correct = zip(predictions, batch.labels.integers).filter { $0 == $1 }.count
            return Evaluation(loss: Loss.crossEntropy(logits, batch.labels).item,
                              accuracy: Double(correct) / Double(max(split.count, 1)))
        }
    }

    /// The run's whole state under Lightning's top-level names, plus Cairn's own.
    func checkpoint(model: DigitsMLP, optimizer: Optimizer, loader: DataLoader<Subset<CSVDataset>>,
                    epoch: Int, globalStep: Int, metrics: [(String, Double)]) -> CheckpointValue {
        var stateDict = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for (name, tensor) in model.stateDict() { stateDict[.string(name)] = .tensor(CheckpointTensor(tensor)) }
        let hyperParameters: OrderedDictionary<CheckpointKey, CheckpointValue> = [
            "data": .string(settings.dataPath), "max_epochs": .int(Int64(settings.maxEpochs)),
            "batch_size": .int(Int64(settings.batchSize)), "lr": .double(settings.learningRate),
            "seed": .int(Int64(bitPattern: settings.seed)),
        ]
        let loggedMetrics = OrderedDictionary(uniqueKeysWithValues: metrics.map {
            (CheckpointKey.string($0.0), CheckpointValue.double($0.1))
        })
        return .dictionary([
            "epoch": .int(Int64(epoch)),
            "global_step": .int(Int64(globalStep)),
            "cairn_version": .string(cairnCheckpointEngineVersion),
            "state_dict": .dictionary(stateDict),
            "optimizer_states": .list([CheckpointValue(optimizer.stateDict())]),
            "lr_schedulers": .list([]),
            "hparams_name": .string("hparams"),
            "hyper_parameters": .dictionary(hyperParameters),
            "rng_states": CheckpointValue(model.randomStateDict()),
            "data_loader": CheckpointValue(loader.stateDict()),
            "logged_metrics": .dictionary(loggedMetrics),
        ])
    }
}

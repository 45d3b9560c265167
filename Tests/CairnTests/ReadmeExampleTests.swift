import Cairn
import Foundation
import Testing

/// The README's example, kept compiling and working (two epochs instead of ten).
@Test func readmeExampleTrainsAndSavesACheckpoint() throws {
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures/digits.csv").standardized.path
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("readme-\(UUID()).ckpt")
    defer { try? FileManager.default.removeItem(at: output) }

    let data = try CSVDataset(contentsOfFile: fixture).scaled(by: 1 / 16)
    let splits = data.split(validationFraction: 0.1, testFraction: 0.2, seed: 42)
    let loader = DataLoader(splits.train, batchSize: 64, shuffle: true, seed: 42)
    let model = DigitsMLP(seed: 42)
    let optimizer = Adam(model.parameters(), lr: 3e-3)
    for _ in 0..<2 {
        while let batch = try loader.nextBatch() {
            optimizer.zeroGrad()
            Loss.crossEntropy(model(try batch.tensor("features")), try batch.tensor("target")).backward()
            optimizer.step()
        }
    }
    var stateDict = OrderedDictionary<CheckpointKey, CheckpointValue>()
    for (name, tensor) in model.stateDict() { stateDict[.string(name)] = .tensor(CheckpointTensor(tensor)) }
    let checkpoint: CheckpointValue = .dictionary([
        "state_dict": .dictionary(stateDict),
        "optimizer_states": .list([CheckpointValue(optimizer.stateDict())]),
    ])
    try Checkpoint.save(checkpoint, to: output)

    let reader = try Checkpoint.open(output)
    #expect(reader.tensorInfos.map(\.path.description).contains("/state_dict/0.weight"))
    let savedWeight = try Tensor(try #require(reader.tree()["/state_dict/0.weight"]?.tensor))
    #expect(savedWeight.rawBytes == model.stateDict()["0.weight"]?.rawBytes)
}

import CairnData
import CairnNN
import CairnOptim
import CairnTensor
import Foundation
import Testing

@Suite struct DigitsTrainingTests {
    static let digitsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures/digits.csv").standardized.path

    @Test func digitsMLPReachesNinetyFivePercentOnHeldOutData() throws {
        // Pixels are 0…16; scaling to 0…1 keeps the first layer's inputs well conditioned.
        let data = try CSVDataset(contentsOfFile: Self.digitsPath).scaled(by: 1 / 16)
        let splits = data.split(validationFraction: 0, testFraction: 0.2, seed: 42)
        let loader = DataLoader(splits.train, batchSize: 64, shuffle: true, seed: 7)
        let model = DigitsMLP(seed: 3)
        let optimizer = Adam(model.parameters(), lr: 3e-3)
        for _ in 0..<12 {
            model.train()
            while let batch = try loader.nextBatch() {
                optimizer.zeroGrad()
                Loss.crossEntropy(model(try batch.tensor("features")), try batch.tensor("target")).backward()
                optimizer.step()
            }
        }
        model.eval()
        let test = try DataLoader(splits.test, batchSize: splits.test.count, shuffle: false).epochBatches()[0]
        let features = try test.tensor("features"), labels = try test.tensor("target")
        let predictions = withNoGrad { model(features).argmax(axis: 1) }.integers
        let accuracy = Double(zip(predictions, labels.integers).filter { $0 == $1 }.count) / Double(splits.test.count)
        #expect(accuracy >= 0.95, "accuracy \(accuracy)")
    }
}

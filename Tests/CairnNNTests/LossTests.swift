import CairnNN
import CairnTensor
import Foundation
import Testing

@Suite struct LossTests {
    let logits = Tensor(shape: [3, 4], scalars: [0.1, 2, -1, 0.5, 1.5, -0.3, 0.2, 0.0, -2, 0.7, 1.1, 0.3], requiresGrad: true)
    let targets = Tensor(indices: [1, 0, 3])

    /// Reference in Double: -log softmax at the target, mixed with the smoothed uniform target.
    func reference(weights: [Double]?, smoothing: Double) -> Double {
        let rows = (0..<3).map { row in (0..<4).map { Double(logits.scalars[row * 4 + $0]) } }
        let labels = [1, 0, 3]
        var numerator = 0.0, smoothNumerator = 0.0, denominator = 0.0
        for (row, values) in rows.enumerated() {
            let logSum = Foundation.log(values.map { Foundation.exp($0) }.reduce(0, +))
            let logProbabilities = values.map { $0 - logSum }
            let weight = weights?[labels[row]] ?? 1
            numerator += -weight * logProbabilities[labels[row]]
            smoothNumerator += -zip(logProbabilities, weights ?? [1, 1, 1, 1]).map { $0 * $1 }.reduce(0, +)
            denominator += weight
        }
        return (1 - smoothing) * numerator / denominator + smoothing / 4 * smoothNumerator / denominator
    }

    @Test func crossEntropyMatchesTorchSemantics() {
        let plain = Loss.crossEntropy(logits, targets)
        #expect(abs(Double(plain.item) - reference(weights: nil, smoothing: 0)) < 1e-5)
        let weights: [Float] = [0.5, 2, 1, 3]
        let weighted = Loss.crossEntropy(logits, targets, weights: weights, labelSmoothing: 0.1)
        #expect(abs(Double(weighted.item) - reference(weights: weights.map(Double.init), smoothing: 0.1)) < 1e-5)
        #expect(Loss.crossEntropy(logits, targets, reduction: .none).shape == [3])
    }

    @Test func crossEntropyGradientIsSoftmaxMinusOneHotOverN() {
        let loss = Loss.crossEntropy(logits, targets)
        logits.grad = nil
        loss.backward()
        let softmax = logits.softmax(axis: 1).scalars
        #expect(abs(logits.grad!.scalars[1] - (softmax[1] - 1) / 3) < 1e-6)
        #expect(abs(logits.grad!.scalars[0] - softmax[0] / 3) < 1e-6)
    }

    @Test func regressionAndBinaryLosses() {
        let prediction = Tensor(shape: [4], scalars: [1, -2, 3, 0.5])
        let target = Tensor(shape: [4], scalars: [0, 1, 1, 1])
        #expect(abs(Loss.meanSquaredError(prediction, target).item - (1 + 9 + 4 + 0.25) / 4) < 1e-6)
        #expect(abs(Loss.l1(prediction, target, reduction: .sum).item - 6.5) < 1e-6)
        let expected = zip(prediction.scalars, target.scalars).map { x, y -> Double in
            let p = 1 / (1 + Foundation.exp(-Double(x)))
            return -(Double(y) * Foundation.log(p) + (1 - Double(y)) * Foundation.log(1 - p))
        }.reduce(0, +) / 4
        #expect(abs(Double(Loss.binaryCrossEntropyWithLogits(prediction, target).item) - expected) < 1e-6)
        let nll = Loss.negativeLogLikelihood(logits.logSoftmax(axis: 1), targets)
        #expect(abs(nll.item - Loss.crossEntropy(logits, targets).item) < 1e-6)
    }
}

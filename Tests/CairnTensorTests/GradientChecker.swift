import Testing
@testable import CairnTensor

/// Compares autograd gradients with central finite differences of
/// `sum(f(inputs) · w)` for fixed random weights `w`, accumulating in Double.
func checkGradients(_ inputs: [Tensor], epsilon: Float = 1e-2, tolerance: Double = 1e-2,
                    sourceLocation: SourceLocation = #_sourceLocation, _ function: ([Tensor]) -> Tensor) {
    let leaves = inputs.map { Tensor(shape: $0.shape, scalars: $0.scalars, requiresGrad: true) }
    let output = function(leaves)
    var rng = RandomGenerator(seed: 99)
    let weights = Tensor.uniform(output.shape, low: 0.5, high: 1.5, rng: &rng)
    (output * weights).sum().backward()

    func weightedSum(_ values: [Tensor]) -> Double {
        let result = withNoGrad { function(values) }
        return zip(result.scalars, weights.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }
    for (inputIndex, input) in inputs.enumerated() {
        let analytic = leaves[inputIndex].grad?.scalars ?? [Float](repeating: 0, count: input.count)
        for element in 0..<input.count {
            func shifted(_ delta: Float) -> [Tensor] {
                var values = input.scalars
                values[element] += delta
                var copy = inputs
                copy[inputIndex] = Tensor(shape: input.shape, scalars: values)
                return copy
            }
            let numeric = (weightedSum(shifted(epsilon)) - weightedSum(shifted(-epsilon))) / (2 * Double(epsilon))
            let exact = Double(analytic[element])
            let allowed = tolerance * Swift.max(1, Swift.abs(numeric), Swift.abs(exact))
            #expect(Swift.abs(numeric - exact) <= allowed,
                    "input \(inputIndex) element \(element): autograd \(exact) vs finite difference \(numeric)",
                    sourceLocation: sourceLocation)
        }
    }
}

/// A reproducible tensor with values in [low, high).
func sample(_ shape: [Int], low: Float = -1, high: Float = 1, seed: UInt64 = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.uniform(shape, low: low, high: high, rng: &rng)
}

/// A reproducible tensor whose elements differ pairwise by at least 0.1, so that
/// max/min/relu/abs are far from their kinks for a finite-difference step.
func spread(_ shape: [Int], seed: UInt64 = 2) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let n = shape.reduce(1, *)
    let order = rng.permutation(n)
    return Tensor(shape: shape, scalars: order.map { Float($0) * 0.1 - Float(n) * 0.05 + 0.05 })
}

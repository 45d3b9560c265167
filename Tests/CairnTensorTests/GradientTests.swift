import Testing
@testable import CairnTensor

@Suite struct ArithmeticGradientTests {
    @Test func addSubBroadcast() {
        checkGradients([sample([2, 3]), sample([3], seed: 2)]) { $0[0] + $0[1] }
        checkGradients([sample([2, 1]), sample([1, 3], seed: 2)]) { $0[0] - $0[1] }
        checkGradients([sample([2, 3]), sample([], seed: 3)]) { $0[0] - $0[1] * 2 + 1 }
    }

    @Test func mulDivBroadcast() {
        checkGradients([sample([2, 3, 2]), sample([3, 1], seed: 2)]) { $0[0] * $0[1] }
        checkGradients([sample([2, 3]), sample([2, 1], low: 1, high: 2, seed: 2)]) { $0[0] / $0[1] }
        checkGradients([sample([4], low: 1, high: 2)]) { 2 / $0[0] - (-$0[0]) }
    }

    @Test func powers() {
        checkGradients([sample([3, 2], low: 0.5, high: 2)]) { $0[0].pow(3) }
        checkGradients([sample([3, 2], low: 0.5, high: 2)]) { $0[0].pow(-0.5) }
        checkGradients([sample([3, 2], low: 0.5, high: 2), sample([2], low: -1, high: 2, seed: 5)]) { $0[0].pow($0[1]) }
    }

    @Test func unaryFunctions() {
        checkGradients([sample([5])]) { $0[0].neg() }
        checkGradients([sample([5])]) { $0[0].exp() }
        checkGradients([sample([5], low: 0.5, high: 3)]) { $0[0].log() }
        checkGradients([sample([5], low: 0.5, high: 3)]) { $0[0].sqrt() }
        checkGradients([spread([6])]) { $0[0].abs() }
        checkGradients([spread([6])]) { $0[0].relu() }
        checkGradients([spread([8])]) { $0[0].clamp(min: -0.22, max: 0.17) }
        checkGradients([sample([6], low: -3, high: 3)]) { $0[0].gelu() }
        checkGradients([sample([6], low: -3, high: 3)]) { $0[0].gelu(approximateTanh: true) }
        checkGradients([sample([6], low: -2, high: 2)]) { $0[0].tanh() }
        checkGradients([sample([6], low: -4, high: 4)]) { $0[0].sigmoid() }
    }

    @Test func conversionToF32PassesGradient() {
        checkGradients([sample([3])]) { $0[0].to(.f32) * 3 }
    }

    @Test func dropoutWithFixedMask() {
        checkGradients([sample([4, 5])]) { inputs in
            var rng = RandomGenerator(seed: 8)
            return inputs[0].dropout(p: 0.4, rng: &rng)
        }
    }
}

@Suite struct ReductionGradientTests {
    @Test func sumsAndMeans() {
        checkGradients([sample([2, 3, 4])]) { $0[0].sum() }
        checkGradients([sample([2, 3, 4])]) { $0[0].sum(axis: 1) }
        checkGradients([sample([2, 3, 4])]) { $0[0].sum(axes: [0, -1], keepDims: true) }
        checkGradients([sample([2, 3, 4])]) { $0[0].mean(axis: -1, keepDims: true) }
        checkGradients([sample([2, 3, 4])]) { $0[0].mean() }
    }

    @Test func maxAndMin() {
        checkGradients([spread([3, 4])]) { $0[0].max(axis: 1) }
        checkGradients([spread([3, 4])]) { $0[0].min(axis: 0, keepDims: true) }
        checkGradients([spread([2, 3, 2])]) { $0[0].max(axes: [0, 2]) }
        checkGradients([spread([3, 4])]) { $0[0].min() }
    }

    @Test func variance() {
        checkGradients([sample([3, 4])]) { $0[0].variance(axis: 1) }
        checkGradients([sample([3, 4])]) { $0[0].variance(axes: [0], correction: 0, keepDims: true) }
        checkGradients([sample([3, 4])]) { $0[0].variance() }
    }

    @Test func softmaxes() {
        checkGradients([sample([3, 4], low: -2, high: 2)]) { $0[0].softmax(axis: -1) }
        checkGradients([sample([3, 4], low: -2, high: 2)]) { $0[0].softmax(axis: 0) }
        checkGradients([sample([2, 3, 2], low: -2, high: 2)]) { $0[0].logSoftmax(axis: 1) }
    }
}

@Suite struct LayoutGradientTests {
    @Test func reshapeTransposePermute() {
        checkGradients([sample([2, 3, 4])]) { $0[0].reshape([4, -1]) * Tensor.arange(6) }
        checkGradients([sample([2, 3])]) { $0[0].transpose(0, 1) * Tensor.arange(2) }
        checkGradients([sample([2, 3, 4])]) { $0[0].permute([2, 0, 1]) * Tensor.arange(3) }
        checkGradients([sample([3, 1])]) { $0[0].broadcast(to: [2, 3, 4]) * Tensor.arange(4) }
    }

    @Test func slicing() {
        checkGradients([sample([4, 7])]) { $0[0].slice(axis: 1, start: 1, end: -1, step: 2) }
        checkGradients([sample([4, 7])]) { $0[0].slice(axis: 0, 1..<3) }
    }

    @Test func indexSelectAndGather() {
        let indices = Tensor(indices: [2, 0, 2])
        checkGradients([sample([3, 4])]) { $0[0].indexSelect(axis: 0, indices: indices) }
        checkGradients([sample([3, 4])]) { $0[0].indexSelect(axis: -1, indices: indices) }
        let index = Tensor(indices: [0, 0, 3, 1, 2, 2], shape: [3, 2])
        checkGradients([sample([3, 4])]) { $0[0].gather(axis: 1, index: index) }
        let rows = Tensor(indices: [2, 1, 0, 2], shape: [2, 2], dtype: .i32)
        checkGradients([sample([3, 4])]) { $0[0].gather(axis: 0, index: rows) }
    }

    @Test func concatStackWhere() {
        checkGradients([sample([2, 3]), sample([2, 1], seed: 2), sample([2, 2], seed: 3)]) {
            Tensor.concat($0, axis: 1) * Tensor.arange(6)
        }
        checkGradients([sample([2, 3]), sample([2, 3], seed: 2)]) { Tensor.stack($0, axis: 1) * Tensor.arange(3) }
        let condition = Tensor(shape: [2, 3], scalars: [1, 0, 1, 0, 0, 1]).gt(0.5)
        checkGradients([sample([2, 3]), sample([3], seed: 2)]) { Tensor.where(condition, $0[0], $0[1]) }
    }
}

@Suite struct MatmulAndConvolutionGradientTests {
    @Test func matmul2D() {
        checkGradients([sample([3, 4]), sample([4, 2], seed: 2)]) { $0[0].matmul($0[1]) }
    }

    @Test func matmulBatchedWithBroadcast() {
        checkGradients([sample([2, 3, 4]), sample([4, 5], seed: 2)]) { $0[0].matmul($0[1]) }
        checkGradients([sample([2, 1, 2, 3]), sample([3, 3, 2], seed: 2)]) { $0[0].matmul($0[1]) }
    }

    @Test func matmulVectors() {
        checkGradients([sample([3]), sample([3, 2], seed: 2)]) { $0[0].matmul($0[1]) }
        checkGradients([sample([2, 3]), sample([3], seed: 2)]) { $0[0].matmul($0[1]) }
    }

    @Test func conv2dWithStridePaddingBias() {
        checkGradients([sample([2, 2, 5, 5]), sample([3, 2, 3, 3], seed: 2), sample([3], seed: 3)]) {
            $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        }
        checkGradients([sample([1, 1, 4, 3]), sample([2, 1, 2, 2], seed: 2)]) { $0[0].conv2d(weight: $0[1]) }
    }

    @Test func pooling() {
        checkGradients([spread([1, 2, 5, 5])]) { $0[0].maxPool2d(kernel: 3, stride: 2, padding: 1) }
        checkGradients([spread([2, 1, 4, 4])]) { $0[0].maxPool2d(kernel: 2) }
        checkGradients([sample([1, 2, 5, 5])]) { $0[0].avgPool2d(kernel: 3, stride: 2, padding: 1) }
    }
}

@Test func gradientCheckerCatchesAWrongGradient() {
    // x · detach(x) has true derivative 2x but autograd sees only x.
    withKnownIssue {
        checkGradients([sample([3], low: 1, high: 2)]) { $0[0] * $0[0].detach() }
    }
}

@Test func powGradientsAtZeroFollowTorch() {
    let base = Tensor(shape: [3], scalars: [0, 0, 2], requiresGrad: true)
    let exponent = Tensor(shape: [3], scalars: [0, 2, 0], requiresGrad: true)
    base.pow(exponent).sum().backward()
    #expect(base.grad?.scalars == [0, 0, 0])
    #expect(exponent.grad?.scalars[0] == 0)
    #expect(exponent.grad?.scalars[1] == 0)
    #expect(Swift.abs((exponent.grad?.scalars[2] ?? 0) - 0.693_147_2) < 1e-6)
    #expect(Tensor(shape: [1], scalars: [.nan]).relu().scalars[0].isNaN)
}

import Testing
@testable import CairnTensor

/// Whether every pair of values agrees within `tolerance`.
func close(_ actual: [Float], _ expected: [Float], tolerance: Float = 1e-5) -> Bool {
    actual.count == expected.count && zip(actual, expected).allSatisfy { Swift.abs($0 - $1) <= tolerance * Swift.max(1, Swift.abs($1)) }
}

@Suite struct ElementwiseForwardTests {
    @Test func broadcastingArithmetic() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        let row = Tensor(shape: [3], scalars: [10, 20, 30])
        let column = Tensor(shape: [2, 1], scalars: [1, 2])
        #expect((a + row).scalars == [11, 22, 33, 14, 25, 36])
        #expect((a - column).scalars == [0, 1, 2, 2, 3, 4])
        #expect((a * column).shape == [2, 3])
        #expect((column * row).scalars == [10, 20, 30, 20, 40, 60])
        #expect((a / 2).scalars == [0.5, 1, 1.5, 2, 2.5, 3])
        #expect((1 - a).scalars == [0, -1, -2, -3, -4, -5])
        #expect((-a).scalars == [-1, -2, -3, -4, -5, -6])
        #expect(Tensor(shape: [2], scalars: [2, 3]).pow(Tensor(shape: [2], scalars: [3, 2])).scalars == [8, 9])
    }

    @Test func unaryValues() {
        let x = Tensor(shape: [3], scalars: [-1, 0, 2])
        #expect(x.relu().scalars == [0, 0, 2])
        #expect(x.abs().scalars == [1, 0, 2])
        #expect(x.clamp(min: -0.5, max: 1).scalars == [-0.5, 0, 1])
        #expect(x.clamp(max: 0).scalars == [-1, 0, 0])
        #expect(close(x.gelu().scalars, [-0.158_655_25, 0, 1.954_499_7]))
        #expect(close(x.gelu(approximateTanh: true).scalars, [-0.158_808, 0, 1.954_597_7]))
        #expect(close(x.sigmoid().scalars, [0.268_941_42, 0.5, 0.880_797_1]))
        #expect(close(x.tanh().scalars, [-0.761_594_2, 0, 0.964_027_6]))
        #expect(close(x.exp().scalars, [0.367_879_44, 1, 7.389_056]))
        #expect(close(Tensor(shape: [2], scalars: [4, 9]).sqrt().scalars, [2, 3]))
        #expect(close(Tensor(shape: [1], scalars: [2.718_281_8]).log().scalars, [1]))
    }

    @Test func comparisonsGiveBool() {
        let a = Tensor(shape: [3], scalars: [1, 2, 3]), b = Tensor(shape: [3], scalars: [3, 2, 1])
        #expect(a.lt(b).dtype == .bool)
        #expect(a.lt(b).rawBytes == [1, 0, 0])
        #expect(a.le(b).rawBytes == [1, 1, 0])
        #expect(a.gt(b).rawBytes == [0, 0, 1])
        #expect(a.ge(2).rawBytes == [0, 1, 1])
        #expect(a.eq(b).rawBytes == [0, 1, 0])
        #expect(a.ne(b).rawBytes == [1, 0, 1])
        #expect(a.lt(b).requiresGrad == false)
    }

    @Test func whereSelectsAndBroadcasts() {
        let condition = Tensor(shape: [2, 1], scalars: [1, 0]).to(.bool)
        let result = Tensor.where(condition, Tensor(shape: [3], scalars: [1, 2, 3]), Tensor(-1))
        #expect(result.shape == [2, 3])
        #expect(result.scalars == [1, 2, 3, -1, -1, -1])
    }
}

@Suite struct ReductionForwardTests {
    let x = Tensor(shape: [2, 3], scalars: [1, 5, 3, 4, 2, 6])

    @Test func sumsMeansAndKeepDims() {
        #expect(x.sum().shape == [])
        #expect(x.sum().item == 21)
        #expect(x.sum(axis: 0).scalars == [5, 7, 9])
        #expect(x.sum(axis: -1, keepDims: true).shape == [2, 1])
        #expect(x.sum(axis: -1, keepDims: true).scalars == [9, 12])
        #expect(x.mean(axis: 1).scalars == [3, 4])
        #expect(x.mean().item == 3.5)
    }

    @Test func extremesAndArgmax() {
        #expect(x.max(axis: 1).scalars == [5, 6])
        #expect(x.min(axis: 0, keepDims: true).scalars == [1, 2, 3])
        #expect(x.max().item == 6)
        #expect(x.argmax(axis: 1).dtype == .i64)
        #expect(x.argmax(axis: 1).integers == [1, 2])
        #expect(x.argmax(axis: 0, keepDims: true).shape == [1, 3])
        let ties = Tensor(shape: [4], scalars: [2, 7, 7, 1])
        #expect(ties.argmax(axis: 0).integers == [1])
        let input = Tensor(shape: [4], scalars: [2, 7, 7, 1], requiresGrad: true)
        input.max(axis: 0).backward()
        #expect(input.grad?.scalars == [0, 1, 0, 0])
        let whole = Tensor(shape: [4], scalars: [2, 7, 7, 1], requiresGrad: true)
        whole.max().backward()
        #expect(whole.grad?.scalars == [0, 0.5, 0.5, 0])
    }

    @Test func varianceWithCorrection() {
        #expect(close(x.variance(axis: 1).scalars, [4, 4]))
        #expect(close(x.variance(axis: 1, correction: 0).scalars, [8.0 / 3, 8.0 / 3]))
        #expect(close([x.variance().item], [3.5]))
    }

    @Test func softmaxRowsSumToOne() {
        let logits = Tensor(shape: [2, 2], scalars: [0, 0, 1000, 0])
        #expect(close(logits.softmax(axis: 1).scalars, [0.5, 0.5, 1, 0]))
        #expect(close(logits.logSoftmax(axis: 1).scalars, [-0.693_147_2, -0.693_147_2, 0, -1000]))
        #expect(close(Tensor(shape: [2], scalars: [1, 2]).softmax(axis: 0).scalars, [0.268_941_42, 0.731_058_6]))
    }
}

@Suite struct LayoutForwardTests {
    let x = Tensor(shape: [2, 3], scalars: [0, 1, 2, 3, 4, 5])

    @Test func reshapeAndTranspose() {
        #expect(x.reshape([3, -1]).shape == [3, 2])
        #expect(x.transpose(0, 1).scalars == [0, 3, 1, 4, 2, 5])
        let cube = Tensor(shape: [2, 3, 4], scalars: (0..<24).map(Float.init))
        let permuted = cube.permute([2, 0, 1])
        #expect(permuted.shape == [4, 2, 3])
        #expect(permuted.scalars.prefix(6) == [0, 4, 8, 12, 16, 20])
        #expect(x.unsqueeze(axis: -1).shape == [2, 3, 1])
    }

    @Test func slicingLikePython() {
        #expect(x.slice(axis: 1, start: 1).scalars == [1, 2, 4, 5])
        #expect(x.slice(axis: 1, start: 0, end: 3, step: 2).scalars == [0, 2, 3, 5])
        #expect(x.slice(axis: -1, start: -1).scalars == [2, 5])
        #expect(x.slice(axis: 0, start: 5, end: 9).shape == [0, 3])
    }

    @Test func indexSelectGatherConcatStack() {
        #expect(x.indexSelect(axis: 1, indices: Tensor(indices: [2, 0])).scalars == [2, 0, 5, 3])
        #expect(x.indexSelect(axis: 0, indices: Tensor(indices: [1], dtype: .u8)).scalars == [3, 4, 5])
        let index = Tensor(indices: [2, 0, 1, 1], shape: [2, 2])
        #expect(x.gather(axis: 1, index: index).scalars == [2, 0, 4, 4])
        #expect(x.gather(axis: 0, index: Tensor(indices: [1, 0, 1], shape: [1, 3])).scalars == [3, 1, 5])
        let joined = Tensor.concat([x, Tensor(shape: [2, 1], scalars: [9, 9])], axis: 1)
        #expect(joined.shape == [2, 4])
        #expect(joined.scalars == [0, 1, 2, 9, 3, 4, 5, 9])
        #expect(Tensor.stack([x, x], axis: 0).shape == [2, 2, 3])
        #expect(Tensor.stack([x, x], axis: -1).scalars.prefix(4) == [0, 0, 1, 1])
    }
}

@Suite struct MatmulAndConvolutionForwardTests {
    @Test func matmulValues() {
        let a = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), b = Tensor(shape: [2, 2], scalars: [5, 6, 7, 8])
        #expect(a.matmul(b).scalars == [19, 22, 43, 50])
        let batch = Tensor.stack([a, b], axis: 0)
        #expect(batch.matmul(a).scalars == [7, 10, 15, 22, 23, 34, 31, 46])
        #expect(a.matmul(Tensor(shape: [2], scalars: [1, 1])).scalars == [3, 7])
        #expect(Tensor(shape: [2], scalars: [1, 1]).matmul(a).shape == [2])
        #expect(Tensor(shape: [2, 1, 2, 3], scalars: [Float](repeating: 1, count: 12))
            .matmul(Tensor.ones([3, 3, 2])).shape == [2, 3, 2, 2])
    }

    @Test func conv2dValues() {
        let input = Tensor(shape: [1, 1, 3, 3], scalars: (1...9).map(Float.init))
        let weight = Tensor(shape: [1, 1, 2, 2], scalars: [1, 0, 0, 1])
        #expect(input.conv2d(weight: weight).scalars == [6, 8, 12, 14])
        let padded = input.conv2d(weight: weight, bias: Tensor(shape: [1], scalars: [1]), stride: 2, padding: 1)
        #expect(padded.shape == [1, 1, 2, 2])
        #expect(padded.scalars == [2, 4, 8, 15])
    }

    @Test func poolingValues() {
        let input = Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map(Float.init))
        #expect(input.maxPool2d(kernel: 2).scalars == [5, 7, 13, 15])
        #expect(input.avgPool2d(kernel: 2).scalars == [2.5, 4.5, 10.5, 12.5])
        let ones = Tensor.ones([1, 1, 2, 2])
        #expect(ones.avgPool2d(kernel: 2, stride: 1, padding: 1).scalars == [0.25, 0.5, 0.25, 0.5, 1, 0.5, 0.25, 0.5, 0.25])
        #expect((-ones).maxPool2d(kernel: 2, stride: 1, padding: 1).scalars == [Float](repeating: -1, count: 9))
    }
}

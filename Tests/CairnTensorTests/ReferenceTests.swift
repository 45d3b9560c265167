import Testing
@testable import CairnTensor

/// Straightforward loop implementations compared with the optimised ops on random inputs.
@Suite struct ReferenceImplementationTests {
    @Test(arguments: [(1, 0), (2, 1), (3, 2), (1, 1)])
    func conv2dMatchesDirectLoops(stride: Int, padding: Int) {
        let input = sample([2, 3, 7, 6]), weight = sample([4, 3, 3, 2], seed: 2), bias = sample([4], seed: 3)
        let fast = input.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
        let outHeight = (7 + 2 * padding - 3) / stride + 1, outWidth = (6 + 2 * padding - 2) / stride + 1
        #expect(fast.shape == [2, 4, outHeight, outWidth])
        var expected: [Float] = []
        for n in 0..<2 { for o in 0..<4 { for y in 0..<outHeight { for x in 0..<outWidth {
            var total = bias.scalars[o]
            for c in 0..<3 { for ky in 0..<3 { for kx in 0..<2 {
                let row = y * stride - padding + ky, column = x * stride - padding + kx
                guard row >= 0, row < 7, column >= 0, column < 6 else { continue }
                total += input.scalars[((n * 3 + c) * 7 + row) * 6 + column] * weight.scalars[((o * 3 + c) * 3 + ky) * 2 + kx]
            } } }
            expected.append(total)
        } } } }
        #expect(close(fast.scalars, expected, tolerance: 1e-5))
    }

    @Test(arguments: [(2, nil, 0), (3, 2, 1), (3, 1, 1), (2, 3, 1)] as [(Int, Int?, Int)])
    func poolingMatchesDirectLoops(kernel: Int, stride: Int?, padding: Int) {
        let input = sample([2, 2, 6, 5])
        let step = stride ?? kernel
        let outHeight = (6 + 2 * padding - kernel) / step + 1, outWidth = (5 + 2 * padding - kernel) / step + 1
        var maxima: [Float] = [], means: [Float] = []
        for plane in 0..<4 { for y in 0..<outHeight { for x in 0..<outWidth {
            var best = -Float.infinity, total: Float = 0
            for ky in 0..<kernel { for kx in 0..<kernel {
                let row = y * step - padding + ky, column = x * step - padding + kx
                guard row >= 0, row < 6, column >= 0, column < 5 else { continue }
                let value = input.scalars[(plane * 6 + row) * 5 + column]
                best = Swift.max(best, value)
                total += value
            } }
            maxima.append(best)
            means.append(total / Float(kernel * kernel))
        } } }
        #expect(input.maxPool2d(kernel: kernel, stride: stride, padding: padding).scalars == maxima)
        #expect(close(input.avgPool2d(kernel: kernel, stride: stride, padding: padding).scalars, means))
    }

    @Test func batchedMatmulMatchesDirectLoops() {
        let a = sample([3, 1, 2, 4]), b = sample([2, 4, 5], seed: 2)
        let product = a.matmul(b)
        #expect(product.shape == [3, 2, 2, 5])
        var expected: [Float] = []
        for i in 0..<3 { for j in 0..<2 { for row in 0..<2 { for column in 0..<5 {
            var total: Float = 0
            for k in 0..<4 { total += a.scalars[(i * 2 + row) * 4 + k] * b.scalars[(j * 4 + k) * 5 + column] }
            expected.append(total)
        } } } }
        #expect(close(product.scalars, expected))
    }

    @Test func generalBroadcastMatchesIndexArithmetic() {
        let a = sample([2, 1, 4]), b = sample([3, 1], seed: 2)
        let sum = a + b
        #expect(sum.shape == [2, 3, 4])
        var expected: [Float] = []
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 { expected.append(a.scalars[i * 4 + k] + b.scalars[j]) } } }
        #expect(sum.scalars == expected)
        let strided = sample([4, 1]).transpose(0, 1) * sample([3, 1, 4], seed: 3)
        #expect(strided.shape == [3, 1, 4])
    }
}

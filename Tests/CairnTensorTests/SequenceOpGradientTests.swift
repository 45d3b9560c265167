import CairnTensor
import Testing

/// Finite-difference checks of the ops sequence models use.
@Suite struct SequenceOpGradientTests {
    @Test func elementwise() {
        checkGradients([sample([6], low: 0.3, high: 3)]) { $0[0].rsqrt() }
        checkGradients([sample([6], low: -2, high: 2)]) { $0[0].erf() }
        checkGradients([sample([6], low: -4, high: 4)]) { $0[0].silu() }
    }

    @Test func productWithATransposedWeight() {
        checkGradients([sample([2, 3, 4]), sample([5, 4], seed: 2)]) { $0[0].matmulTransposed($0[1]) * sample([2, 3, 5], seed: 3) }
        let x = sample([2, 3, 4]), w = sample([5, 4], seed: 2)
        #expect(x.matmulTransposed(w).scalars == x.matmul(w.transpose(0, 1)).scalars)
    }

    /// The fused attention kernel against the same attention built from separate ops.
    @Test func fusedMultiHeadAttention() {
        let causal = Tensor(shape: [4, 4], scalars: (0..<16).map { $0 % 4 > $0 / 4 ? 1 : 0 })
        let upstream = sample([2, 4, 6], seed: 8)
        checkGradients([sample([2, 4, 6]), sample([2, 4, 6], seed: 2), sample([2, 4, 6], seed: 3)]) {
            Tensor.multiHeadAttention(query: $0[0], key: $0[1], value: $0[2], heads: 2, mask: causal) * upstream
        }
        let q = sample([2, 4, 6]), k = sample([2, 4, 6], seed: 2), v = sample([2, 4, 6], seed: 3)
        func heads(_ x: Tensor) -> Tensor { x.reshape([2, 4, 2, 3]).permute([0, 2, 1, 3]) }
        let composed = heads(q).matmul(heads(k).mT).softmax(axis: -1, masking: causal).matmul(heads(v)).permute([0, 2, 1, 3]).reshape([2, 4, 6])
        let fused = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: 2, mask: causal)
        #expect(zip(fused.scalars, composed.scalars).allSatisfy { Swift.abs($0 - $1) < 1e-6 })
    }

    @Test func fusedLayerNorm() {
        checkGradients([sample([3, 2, 5]), sample([5], seed: 2), sample([5], seed: 3)]) {
            $0[0].layerNorm(weight: $0[1], bias: $0[2], eps: 1e-5) * sample([3, 2, 5], seed: 4)
        }
        let x = sample([4, 6]), w = sample([6], seed: 5), b = sample([6], seed: 6)
        let composed = (x - x.mean(axis: 1, keepDims: true)) / (x.variance(axis: 1, correction: 0, keepDims: true) + 1e-5).sqrt() * w + b
        #expect(zip(x.layerNorm(weight: w, bias: b, eps: 1e-5).scalars, composed.scalars).allSatisfy { Swift.abs($0 - $1) < 1e-5 })
    }

    @Test func maskedFillAndMaskedSoftmax() {
        let mask = Tensor(shape: [1, 4], scalars: [0, 1, 0, 1])
        checkGradients([sample([3, 4])]) { $0[0].maskedFill(mask, with: 0.5) * $0[0] }
        let causal = Tensor(shape: [4, 4], scalars: (0..<16).map { $0 % 4 > $0 / 4 ? 1 : 0 })
        checkGradients([sample([2, 4, 4], low: -2, high: 2)]) { $0[0].softmax(axis: -1, masking: causal) * sample([2, 4, 4], seed: 9) }
    }

    @Test func splitChunkAndBatchedTransposes() {
        checkGradients([sample([2, 9])]) { x in
            let pieces = x[0].split([3, 2, 4], axis: 1)
            return pieces[0].sum(axis: 1) * pieces[1].sum(axis: 1) + pieces[2].exp().sum(axis: 1)
        }
        checkGradients([sample([2, 6, 3])]) { x in
            let (q, k) = (x[0].chunk(2, axis: 1)[0], x[0].chunk(2, axis: 1)[1])
            return q.matmul(k.mT).softmax(axis: -1) * sample([2, 3, 3], seed: 4)
        }
    }

    /// Masks as attention uses them: a causal mask never lets a later place weigh in, and a
    /// lane keeps its probabilities summing to one over the open places.
    @Test func causalMaskReadsNoLaterPlace() {
        let scores = sample([1, 4, 4], low: -3, high: 3)
        let causal = Tensor(shape: [4, 4], scalars: (0..<16).map { $0 % 4 > $0 / 4 ? 1 : 0 })
        let weights = scores.softmax(axis: -1, masking: causal).scalars
        for row in 0..<4 {
            let lane = Array(weights[(row * 4)..<(row * 4 + 4)])
            #expect(lane[(row + 1)...].allSatisfy { $0 == 0 })
            #expect(Swift.abs(lane.reduce(0, +) - 1) < 1e-6)
        }
    }
}

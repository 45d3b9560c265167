import CairnNN
import CairnTensor
import Testing

/// Masks do what they promise: a causal layer never reads a later position, and padded keys
/// are never read at all.
@Suite struct AttentionMaskTests {
    /// `x` with the rows from `position` on (axis 1) replaced by other values.
    static func changed(_ x: Tensor, from position: Int) -> Tensor {
        var rng = RandomGenerator(seed: 123)
        let other = Tensor.randn(x.shape, rng: &rng)
        let length = x.shape[1], width = x.shape[2]
        let values = (0..<x.count).map { index in (index / width) % length >= position ? other.scalars[index] : x.scalars[index] }
        return Tensor(shape: x.shape, scalars: values)
    }

    /// Rows `0..<count` of axis 1 of a `[B, T, E]` tensor.
    static func leading(_ x: Tensor, _ count: Int) -> [Float] { x.slice(axis: 1, start: 0, end: count).scalars }

    @Test func causalAttentionNeverReadsALaterPosition() {
        var rng = RandomGenerator(seed: 5)
        let attention = MultiheadAttention(embedDim: 8, numHeads: 2, batchFirst: true, rng: &rng)
        let encoder = TransformerEncoderLayer(dModel: 8, nhead: 2, dimFeedforward: 16, dropout: 0, batchFirst: true, rng: &rng)
        let x = Tensor.randn([2, 6, 8], rng: &rng)
        let mask = MultiheadAttention.causalMask(6)
        for position in 1..<6 {
            let later = Self.changed(x, from: position)
            let before = attention.attend(query: x, key: x, value: x, attentionMask: mask).output
            let after = attention.attend(query: later, key: later, value: later, attentionMask: mask).output
            #expect(Self.leading(before, position) == Self.leading(after, position), "attention, change from \(position)")
            #expect(before.slice(axis: 1, start: position, end: position + 1).scalars != after.slice(axis: 1, start: position, end: position + 1).scalars)
            #expect(Self.leading(encoder.encode(x, attentionMask: mask), position) == Self.leading(encoder.encode(later, attentionMask: mask), position),
                    "encoder, change from \(position)")
        }
        // Without the mask the first position does read the later ones.
        let unmasked = attention.attend(query: x, key: x, value: x).output
        let unmaskedLater = attention.attend(query: Self.changed(x, from: 3), key: Self.changed(x, from: 3), value: Self.changed(x, from: 3)).output
        #expect(Self.leading(unmasked, 1) != Self.leading(unmaskedLater, 1))
    }

    @Test func paddedKeysAreNeverRead() {
        var rng = RandomGenerator(seed: 6)
        let attention = MultiheadAttention(embedDim: 8, numHeads: 4, batchFirst: true, rng: &rng)
        let x = Tensor.randn([1, 5, 8], rng: &rng)
        let padding = Tensor(shape: [1, 5], scalars: [0, 0, 0, 1, 1]).to(.bool)
        let keys = Self.changed(x, from: 3)
        let (output, weights) = attention.attend(query: x, key: x, value: x, keyPaddingMask: padding, needWeights: true)
        let other = attention.attend(query: x, key: keys, value: keys, keyPaddingMask: padding).output
        #expect(output.scalars == other.scalars)
        let perKey = weights?.scalars ?? []
        #expect(perKey.count == 25 && (0..<25).filter { $0 % 5 >= 3 }.allSatisfy { perKey[$0] == 0 })
    }
}

@Suite struct SequenceLayerNameTests {
    /// A transformer layer's state_dict keys are exactly torch's (`nn.TransformerEncoderLayer().state_dict().keys()`).
    @Test func encoderLayerNamesAreTorchs() {
        var rng = RandomGenerator(seed: 1)
        let layer = TransformerEncoderLayer(dModel: 8, nhead: 2, dimFeedforward: 16, rng: &rng)
        #expect(Array(layer.stateDict().keys) == [
            "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
            "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias",
            "norm1.weight", "norm1.bias", "norm2.weight", "norm2.bias",
        ])
        #expect(layer.stateDict()["self_attn.in_proj_weight"]?.shape == [24, 8])
    }

    @Test func positionalEmbeddingAddsOneRowPerPosition() {
        var rng = RandomGenerator(seed: 2)
        let positions = PositionalEmbedding(maxLength: 4, dimension: 2, rng: &rng)
        let x = Tensor.zeros([2, 3, 2])
        let table = positions.weight.value.scalars
        #expect(positions(x).scalars == Array(table[0..<6]) + Array(table[0..<6]))
        #expect(Array(positions.stateDict().keys) == ["weight"])
        #expect(SiLU()(Tensor(shape: [2], scalars: [0, 1])).scalars[1] == Tensor(shape: [1], scalars: [1]).silu().scalars[0])
    }
}

@Suite struct RecurrentLayerNameTests {
    @Test func lstmAndGRUNamesAndShapesAreTorchs() {
        var rng = RandomGenerator(seed: 3)
        let lstm = LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, rng: &rng)
        #expect(Array(lstm.stateDict().keys) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                                 "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"])
        #expect(lstm.stateDict()["weight_ih_l0"]?.shape == [20, 3] && lstm.stateDict()["weight_ih_l1"]?.shape == [20, 5])
        let gru = GRU(inputSize: 3, hiddenSize: 5, bias: false, rng: &rng)
        #expect(Array(gru.stateDict().keys) == ["weight_ih_l0", "weight_hh_l0"] && gru.stateDict()["weight_hh_l0"]?.shape == [15, 5])
        let result = gru.run(Tensor.zeros([4, 2, 3]))
        #expect(result.output.shape == [4, 2, 5] && result.h.shape == [1, 2, 5] && result.c == nil)
    }
}

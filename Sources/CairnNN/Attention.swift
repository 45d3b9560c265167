import CairnTensor

/// Multi-head attention with PyTorch's parameters and names (`nn.MultiheadAttention`):
/// `in_proj_weight` [3E, E] and `in_proj_bias` [3E] hold the query, key and value projections
/// stacked, `out_proj` is a Linear(E, E). Inputs are `[T, B, E]`, or `[B, T, E]` with
/// `batchFirst`, as torch.
public final class MultiheadAttention: Module, @unchecked Sendable {
    /// Stacked query, key and value projection weights, [3E, E].
    public let inProjWeight: Parameter
    /// Stacked projection biases, [3E], if any.
    public let inProjBias: Parameter?
    /// The output projection.
    public let outProj: Linear
    /// Dropout on the attention weights (training only).
    public let attentionDropout: Dropout
    public let embedDim: Int
    public let numHeads: Int
    /// Whether inputs and outputs are `[B, T, E]` rather than torch's default `[T, B, E]`.
    public let batchFirst: Bool

    /// Initialised as torch: Xavier-uniform projections, zero biases.
    public init(embedDim: Int, numHeads: Int, dropout: Float = 0, bias: Bool = true, batchFirst: Bool = false,
                rng: inout RandomGenerator) {
        precondition(embedDim > 0 && numHeads > 0 && embedDim % numHeads == 0,
                     "MultiheadAttention: embedDim \(embedDim) must be a positive multiple of numHeads \(numHeads)")
        let bound = (6 / Float(embedDim + 3 * embedDim)).squareRoot()
        inProjWeight = Parameter(Tensor.uniform([3 * embedDim, embedDim], low: -bound, high: bound, rng: &rng))
        inProjBias = bias ? Parameter(.zeros([3 * embedDim])) : nil
        outProj = Linear(embedDim, embedDim, bias: bias, rng: &rng)
        outProj.bias?.value.withUnsafeMutableScalars { scalars in scalars.update(repeating: 0) }
        attentionDropout = Dropout(p: dropout, seed: rng.next())
        self.embedDim = embedDim
        self.numHeads = numHeads
        self.batchFirst = batchFirst
        super.init()
    }

    // The dropout holds no state; torch has no `attention_dropout` entry.
    override public var members: [(name: String, member: Member)] {
        var found: [(name: String, member: Member)] = [("in_proj_weight", .parameter(inProjWeight))]
        if let inProjBias { found.append(("in_proj_bias", .parameter(inProjBias))) }
        found.append(("out_proj", .module(outProj)))
        return found
    }

    /// Self-attention without masks.
    override public func forward(_ input: Tensor) -> Tensor {
        attend(query: input, key: input, value: input).output
    }

    /// Attention of `query` over `key` and `value`. `keyPaddingMask` `[B, S]` is true (nonzero)
    /// at keys to ignore; `attentionMask` `[T, S]` or `[B·H, T, S]` is true where a query may not
    /// look (`causalMask(_:)` makes the usual one). Returns the output and, with
    /// `needWeights`, the weights averaged over heads `[B, T, S]`, as torch.
    public func attend(query: Tensor, key: Tensor, value: Tensor, keyPaddingMask: Tensor? = nil,
                       attentionMask: Tensor? = nil, needWeights: Bool = false) -> (output: Tensor, weights: Tensor?) {
        // Work in [B, T, E].
        let (q0, k0, v0) = batchFirst ? (query, key, value) : (query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1))
        precondition(q0.rank == 3 && q0.shape[2] == embedDim, "MultiheadAttention: query shape \(query.shape) does not end in \(embedDim)")
        let batch = q0.shape[0], targets = q0.shape[1], sources = k0.shape[1], headDim = embedDim / numHeads
        let weights = inProjWeight.value.chunk(3, axis: 0)
        let biases = inProjBias?.value.chunk(3, axis: 0)
        /// Projection `index` (0 query, 1 key, 2 value) of `x`, `[B, L, E]`.
        func linear(_ x: Tensor, _ index: Int) -> Tensor {
            let y = x.matmulTransposed(weights[index])
            return biases.map { y + $0[index] } ?? y
        }
        // The scale goes on q rather than on the larger scores, as torch does.
        let q = linear(q0, 0) * (1 / Float(headDim).squareRoot()), k = linear(k0, 1), v = linear(v0, 2)
        let placeMask = attentionMask.map { $0.rank == 3 ? $0.reshape([batch, numHeads, targets, sources]) : $0 }
        let paddingMask = keyPaddingMask?.reshape([batch, 1, 1, sources])
        let attended: Tensor  // [B, T, E]
        var averagedWeights: Tensor?
        if !needWeights, attentionMask?.dtype ?? .bool == .bool, keyPaddingMask?.dtype ?? .bool == .bool, placeMask == nil || paddingMask == nil,
           attentionDropout.p == 0 || !isTraining {
            // One boolean mask, no dropout in play and no weights wanted: the fused kernel, which
            // reads every head in place from the projections.
            attended = Tensor.multiHeadAttention(query: q, key: k, value: v, heads: numHeads, mask: placeMask ?? paddingMask)
        } else {
            func heads(_ x: Tensor, length: Int) -> Tensor {
                x.reshape([batch, length, numHeads, headDim]).permute([0, 2, 1, 3])  // [B, H, L, D]
            }
            var scores = heads(q, length: targets).matmul(heads(k, length: sources).mT)  // [B, H, T, S]
            // Boolean masks close places; one mask goes straight into the softmax, a second is merged first.
            var closed: Tensor?
            if let placeMask {
                if placeMask.dtype == .bool { closed = placeMask } else { scores = scores + placeMask }
            }
            if let paddingMask {
                if let earlier = closed { scores = scores.maskedFill(earlier, with: -.infinity) }
                closed = paddingMask
            }
            let probabilities = closed.map { scores.softmax(axis: -1, masking: $0) } ?? scores.softmax(axis: -1)
            attended = attentionDropout(probabilities).matmul(heads(v, length: sources)).permute([0, 2, 1, 3]).reshape([batch, targets, embedDim])
            if needWeights { averagedWeights = probabilities.mean(axis: 1) }
        }
        let output = outProj(attended)
        return (batchFirst ? output : output.transpose(0, 1), averagedWeights)
    }

    /// The `[T, T]` mask that hides later positions (true above the diagonal), as
    /// `nn.Transformer.generate_square_subsequent_mask` but boolean.
    public static func causalMask(_ length: Int) -> Tensor {
        Tensor(shape: [length, length], scalars: (0..<(length * length)).map { $0 % length > $0 / length ? 1 : 0 }).to(.bool)
    }
}

/// The activation between a transformer layer's two linear maps.
public enum TransformerActivation: String, Sendable {
    case relu, gelu
}

/// One Transformer encoder layer as `nn.TransformerEncoderLayer`: self-attention and a
/// feed-forward block, each with dropout, a residual and LayerNorm, post-norm by default or
/// pre-norm with `normFirst`. State-dict names are torch's (`self_attn.in_proj_weight`,
/// `linear1.weight`, `norm1.weight`, …).
public final class TransformerEncoderLayer: Module, @unchecked Sendable {
    public let selfAttn: MultiheadAttention
    public let linear1: Linear
    public let dropout: Dropout
    public let linear2: Linear
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    public let dropout1: Dropout
    public let dropout2: Dropout
    public let activation: TransformerActivation
    public let normFirst: Bool

    public init(dModel: Int, nhead: Int, dimFeedforward: Int = 2048, dropout: Float = 0.1,
                activation: TransformerActivation = .relu, layerNormEps: Float = 1e-5, batchFirst: Bool = false,
                normFirst: Bool = false, bias: Bool = true, rng: inout RandomGenerator) {
        selfAttn = MultiheadAttention(embedDim: dModel, numHeads: nhead, dropout: dropout, bias: bias, batchFirst: batchFirst, rng: &rng)
        (linear1, self.dropout, linear2) = feedForwardLayers(dModel, dimFeedforward, dropout: dropout, bias: bias, rng: &rng)
        norm1 = LayerNorm([dModel], eps: layerNormEps)
        norm2 = LayerNorm([dModel], eps: layerNormEps)
        dropout1 = Dropout(p: dropout, seed: rng.next())
        dropout2 = Dropout(p: dropout, seed: rng.next())
        self.activation = activation
        self.normFirst = normFirst
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor {
        encode(input)
    }

    /// The layer on `source`, with torch's `src_mask` (`attentionMask`) and `src_key_padding_mask`.
    public func encode(_ source: Tensor, attentionMask: Tensor? = nil, keyPaddingMask: Tensor? = nil) -> Tensor {
        func attention(_ x: Tensor) -> Tensor {
            dropout1(selfAttn.attend(query: x, key: x, value: x, keyPaddingMask: keyPaddingMask, attentionMask: attentionMask).output)
        }
        func feedForward(_ x: Tensor) -> Tensor {
            dropout2(feedForwardBlock(x, linear1, dropout, linear2, activation))
        }
        if normFirst {
            let x = source + attention(norm1(source))
            return x + feedForward(norm2(x))
        }
        let x = norm1(source + attention(source))
        return norm2(x + feedForward(x))
    }
}

/// One Transformer decoder layer as `nn.TransformerDecoderLayer`: masked self-attention,
/// attention over the encoder's output (`memory`) and a feed-forward block, each with dropout,
/// a residual and LayerNorm, post-norm by default or pre-norm with `normFirst`. State-dict names
/// are torch's (`self_attn.…`, `multihead_attn.…`, `linear1`, `norm1`…`norm3`).
public final class TransformerDecoderLayer: Module, @unchecked Sendable {
    public let selfAttn: MultiheadAttention
    public let multiheadAttn: MultiheadAttention
    public let linear1: Linear
    public let dropout: Dropout
    public let linear2: Linear
    public let norm1: LayerNorm
    public let norm2: LayerNorm
    public let norm3: LayerNorm
    public let dropout1: Dropout
    public let dropout2: Dropout
    public let dropout3: Dropout
    public let activation: TransformerActivation
    public let normFirst: Bool

    public init(dModel: Int, nhead: Int, dimFeedforward: Int = 2048, dropout: Float = 0.1,
                activation: TransformerActivation = .relu, layerNormEps: Float = 1e-5, batchFirst: Bool = false,
                normFirst: Bool = false, bias: Bool = true, rng: inout RandomGenerator) {
        selfAttn = MultiheadAttention(embedDim: dModel, numHeads: nhead, dropout: dropout, bias: bias, batchFirst: batchFirst, rng: &rng)
        multiheadAttn = MultiheadAttention(embedDim: dModel, numHeads: nhead, dropout: dropout, bias: bias, batchFirst: batchFirst, rng: &rng)
        (linear1, self.dropout, linear2) = feedForwardLayers(dModel, dimFeedforward, dropout: dropout, bias: bias, rng: &rng)
        norm1 = LayerNorm([dModel], eps: layerNormEps)
        norm2 = LayerNorm([dModel], eps: layerNormEps)
        norm3 = LayerNorm([dModel], eps: layerNormEps)
        dropout1 = Dropout(p: dropout, seed: rng.next())
        dropout2 = Dropout(p: dropout, seed: rng.next())
        dropout3 = Dropout(p: dropout, seed: rng.next())
        self.activation = activation
        self.normFirst = normFirst
        super.init()
    }

    /// Self-attention only makes no sense without memory: attends over the input itself.
    override public func forward(_ input: Tensor) -> Tensor {
        decode(input, memory: input)
    }

    /// The layer on `target` over `memory`, with torch's `tgt_mask`, `memory_mask` and key-padding masks.
    public func decode(_ target: Tensor, memory: Tensor, targetMask: Tensor? = nil, memoryMask: Tensor? = nil,
                       targetKeyPaddingMask: Tensor? = nil, memoryKeyPaddingMask: Tensor? = nil) -> Tensor {
        func selfAttention(_ x: Tensor) -> Tensor {
            dropout1(selfAttn.attend(query: x, key: x, value: x, keyPaddingMask: targetKeyPaddingMask, attentionMask: targetMask).output)
        }
        func crossAttention(_ x: Tensor) -> Tensor {
            dropout2(multiheadAttn.attend(query: x, key: memory, value: memory, keyPaddingMask: memoryKeyPaddingMask,
                                          attentionMask: memoryMask).output)
        }
        func feedForward(_ x: Tensor) -> Tensor {
            dropout3(feedForwardBlock(x, linear1, dropout, linear2, activation))
        }
        if normFirst {
            var x = target + selfAttention(norm1(target))
            x = x + crossAttention(norm2(x))
            return x + feedForward(norm3(x))
        }
        var x = norm1(target + selfAttention(target))
        x = norm2(x + crossAttention(x))
        return norm3(x + feedForward(x))
    }
}

/// A transformer layer's `linear1`, inner dropout and `linear2`, drawn in torch's order.
func feedForwardLayers(_ dModel: Int, _ dimFeedforward: Int, dropout: Float, bias: Bool,
                       rng: inout RandomGenerator) -> (Linear, Dropout, Linear) {
    let first = Linear(dModel, dimFeedforward, bias: bias, rng: &rng)
    let inner = Dropout(p: dropout, seed: rng.next())
    return (first, inner, Linear(dimFeedforward, dModel, bias: bias, rng: &rng))
}

/// `linear2(dropout(activation(linear1(x))))`, the feed-forward block of both layer kinds.
func feedForwardBlock(_ x: Tensor, _ linear1: Linear, _ dropout: Dropout, _ linear2: Linear,
                      _ activation: TransformerActivation) -> Tensor {
    let hidden = linear1(x)
    return linear2(dropout(activation == .relu ? hidden.relu() : hidden.gelu()))
}

/// Learned positional embeddings added to `[B, T, E]` inputs: row `t` of `weight` [maxLength, E] at position `t`.
public final class PositionalEmbedding: Module, @unchecked Sendable {
    public let weight: Parameter

    /// Drawn N(0, 1) as torch's Embedding.
    public init(maxLength: Int, dimension: Int, rng: inout RandomGenerator) {
        precondition(maxLength > 0 && dimension > 0, "PositionalEmbedding: size \(maxLength)×\(dimension) must be positive")
        weight = Parameter(Tensor.randn([maxLength, dimension], rng: &rng))
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor {
        let length = input.shape[input.rank - 2]
        precondition(length <= weight.value.shape[0], "PositionalEmbedding: \(length) positions, at most \(weight.value.shape[0])")
        return input + weight.value.slice(axis: 0, start: 0, end: length)
    }
}

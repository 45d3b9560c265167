import CairnTensor

/// PyTorch's default init for Linear and Conv2d: kaiming-uniform with a = √5, which
/// reduces to U(-1/√fan_in, 1/√fan_in) for weights and the same bound for biases.
func defaultInitUniform(_ shape: [Int], fanIn: Int, rng: inout RandomGenerator) -> Tensor {
    let bound = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
    return Tensor.uniform(shape, low: -bound, high: bound, rng: &rng)
}

/// A fully connected layer `y = x·Wᵀ + b` over the last axis, with `weight` of shape [out, in].
public final class Linear: Module, @unchecked Sendable {
    /// Weight of shape [outFeatures, inFeatures].
    public let weight: Parameter
    /// Bias of shape [outFeatures], if any.
    public let bias: Parameter?

    /// A layer initialised as PyTorch's, drawing from `rng`.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout RandomGenerator) {
        precondition(inFeatures > 0 && outFeatures > 0, "Linear: features \(inFeatures)→\(outFeatures) must be positive")
        weight = Parameter(defaultInitUniform([outFeatures, inFeatures], fanIn: inFeatures, rng: &rng))
        self.bias = bias ? Parameter(defaultInitUniform([outFeatures], fanIn: inFeatures, rng: &rng)) : nil
        super.init()
    }

    /// A layer whose weight is `weight` itself, shared with another module (weight tying, as a
    /// language model's output layer reuses its embedding): one tensor, trained once, saved under
    /// both names as torch does. The bias, if any, starts at zero.
    public init(tying weight: Parameter, bias: Bool = false) {
        precondition(weight.value.rank == 2, "Linear(tying:): weight shape \(weight.value.shape) is not [out, in]")
        self.weight = weight
        self.bias = bias ? Parameter(.zeros([weight.value.shape[0]])) : nil
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor {
        let inFeatures = weight.value.shape[1]
        precondition(input.rank >= 1 && input.shape[input.rank - 1] == inFeatures,
                     "Linear: input shape \(input.shape) does not end in \(inFeatures) features (weight \(weight.value.shape))")
        let product = input.matmulTransposed(weight.value)
        return bias.map { product + $0.value } ?? product
    }
}

/// A 2-D convolution over [N, C, H, W] inputs with square kernels.
public final class Conv2d: Module, @unchecked Sendable {
    /// Weight of shape [outChannels, inChannels, kernel, kernel].
    public let weight: Parameter
    /// Bias of shape [outChannels], if any.
    public let bias: Parameter?
    /// Step between kernel positions.
    public let stride: Int
    /// Zero padding on every side.
    public let padding: Int

    /// A layer initialised as PyTorch's, drawing from `rng`.
    public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, rng: inout RandomGenerator) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0,
                     "Conv2d: channels \(inChannels)→\(outChannels) and kernel \(kernelSize) must be positive")
        let fanIn = inChannels * kernelSize * kernelSize
        weight = Parameter(defaultInitUniform([outChannels, inChannels, kernelSize, kernelSize], fanIn: fanIn, rng: &rng))
        self.bias = bias ? Parameter(defaultInitUniform([outChannels], fanIn: fanIn, rng: &rng)) : nil
        self.stride = stride
        self.padding = padding
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor {
        input.conv2d(weight: weight.value, bias: bias?.value, stride: stride, padding: padding)
    }
}

/// A lookup table mapping integer indices to rows of `weight`, initialised N(0, 1) as torch.
public final class Embedding: Module, @unchecked Sendable {
    /// Table of shape [count, dimension].
    public let weight: Parameter

    /// A table of `count` vectors of `dimension` values drawn from `rng`.
    public init(_ count: Int, _ dimension: Int, rng: inout RandomGenerator) {
        precondition(count > 0 && dimension > 0, "Embedding: size \(count)×\(dimension) must be positive")
        weight = Parameter(Tensor.randn([count, dimension], rng: &rng))
        super.init()
    }

    /// Looks up each token id of an integer tensor; a float tensor stops the program, as in
    /// torch, rather than truncating 2.7 to token 2 without a word.
    override public func forward(_ input: Tensor) -> Tensor {
        precondition(input.dtype.isIntegral,
                     "Embedding: token ids must be an integer tensor (I64, I32, …), got \(input.dtype.rawValue) of shape \(input.shape); "
                     + "build them with Tensor(indices:)")
        let dimension = weight.value.shape[1]
        let flat = Tensor(indices: input.integers.map { Int($0) })
        return weight.value.indexSelect(axis: 0, indices: flat).reshape(input.shape + [dimension])
    }
}

/// Randomly zeroes elements with probability `p` in training (scaling the rest by 1/(1-p)); identity in eval.
public final class Dropout: Module, @unchecked Sendable {
    /// Drop probability.
    public let p: Float
    /// The generator drawing the masks; part of the run, not of the model state.
    public var rng: RandomGenerator

    /// Dropout with its own generator seeded by `seed`.
    public init(p: Float = 0.5, seed: UInt64 = 0) {
        precondition(p >= 0 && p <= 1, "Dropout: p \(p) must be in [0, 1]")
        self.p = p
        rng = RandomGenerator(seed: seed)
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor {
        isTraining ? input.dropout(p: p, rng: &rng) : input
    }
}

/// Flattens every axis from `startAxis` on into one.
public final class Flatten: Module, @unchecked Sendable {
    /// First axis folded into the result's last axis.
    public let startAxis: Int

    /// Flattens axes `startAxis...` (1 keeps the batch axis).
    public init(startAxis: Int = 1) {
        self.startAxis = startAxis
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor {
        precondition(startAxis >= 0 && startAxis <= input.rank, "Flatten: start axis \(startAxis) out of range for shape \(input.shape)")
        let kept = Array(input.shape.prefix(startAxis))
        return input.reshape(kept + [input.shape.dropFirst(startAxis).reduce(1, *)])
    }
}

/// Applies its children in order; they are named `0`, `1`, … as in torch.nn.Sequential.
public final class Sequential: Module, @unchecked Sendable {
    /// The layers, applied first to last.
    public let layers: [Module]

    /// A chain of `layers`.
    public init(_ layers: [Module]) {
        self.layers = layers
        super.init()
    }

    override public var members: [(name: String, member: Member)] {
        layers.enumerated().map { (String($0.offset), .module($0.element)) }
    }

    override public func forward(_ input: Tensor) -> Tensor {
        layers.reduce(input) { $1($0) }
    }
}

/// `x + body(x)`, optionally followed by a ReLU: a minimal residual block.
public final class Residual: Module, @unchecked Sendable {
    /// The branch whose output is added to the input; must preserve the shape.
    public let body: Module
    /// Whether a ReLU follows the sum.
    public let activateAfterSum: Bool

    /// A skip connection around `body`.
    public init(_ body: Module, activateAfterSum: Bool = true) {
        self.body = body
        self.activateAfterSum = activateAfterSum
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor {
        let branch = body(input)
        precondition(branch.shape == input.shape, "Residual: body maps shape \(input.shape) to \(branch.shape)")
        let sum = input + branch
        return activateAfterSum ? sum.relu() : sum
    }
}

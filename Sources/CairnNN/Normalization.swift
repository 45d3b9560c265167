import CairnTensor

/// Batch normalisation over every axis but the channel axis 1, as torch's BatchNorm:
/// training normalises with the biased batch variance and updates running statistics
/// with the unbiased one; evaluation uses the running statistics.
open class BatchNorm: Module, @unchecked Sendable {
    /// Per-channel scale (γ), if affine.
    public let weight: Parameter?
    /// Per-channel shift (β), if affine.
    public let bias: Parameter?
    /// Running mean of each channel.
    public let runningMean: Buffer
    /// Running (unbiased) variance of each channel.
    public let runningVar: Buffer
    /// Number of training batches seen (I64 scalar).
    public let numBatchesTracked: Buffer
    /// Added to the variance before the square root.
    public let eps: Float
    /// Weight of the newest batch in the running statistics.
    public let momentum: Float
    /// Use a cumulative (equal-weight) average of every batch since the last
    /// ``resetRunningStatistics()`` instead of `momentum` (torch's `momentum=None`), as
    /// weight averaging does to recompute the statistics of averaged weights.
    public var usesCumulativeAverage = false
    let expectedRanks: [Int]

    init(numFeatures: Int, eps: Float, momentum: Float, affine: Bool, expectedRanks: [Int]) {
        precondition(numFeatures > 0, "\(Self.self): numFeatures \(numFeatures) must be positive")
        weight = affine ? Parameter(.ones([numFeatures])) : nil
        bias = affine ? Parameter(.zeros([numFeatures])) : nil
        runningMean = Buffer(.zeros([numFeatures]))
        runningVar = Buffer(.ones([numFeatures]))
        numBatchesTracked = Buffer(Tensor(indices: [0], shape: []))
        self.eps = eps
        self.momentum = momentum
        self.expectedRanks = expectedRanks
        super.init()
    }

    override open func forward(_ input: Tensor) -> Tensor {
        let channels = runningMean.value.count
        precondition(expectedRanks.contains(input.rank) && input.shape[1] == channels,
                     "\(type(of: self)): input shape \(input.shape) needs rank \(expectedRanks) with \(channels) channels on axis 1")
        let axes = [0] + Array(2..<input.rank)
        // Per-channel tensors broadcast against [N, C, ...] once shaped [C, 1, ...].
        let channelShape = [channels] + [Int](repeating: 1, count: input.rank - 2)
        let normalized: Tensor
        if isTraining {
            let reduced = input.count / channels
            precondition(reduced > 1, "\(type(of: self)): training needs more than one value per channel, got shape \(input.shape)")
            let mean = input.mean(axes: axes, keepDims: true)
            let variance = input.variance(axes: axes, correction: 0, keepDims: true)
            normalized = (input - mean) / (variance + eps).sqrt()
            withNoGrad { updateRunningStatistics(mean: mean, biasedVariance: variance, reduced: reduced) }
        } else {
            let mean = runningMean.value.reshape(channelShape)
            let variance = runningVar.value.reshape(channelShape)
            normalized = (input - mean) / (variance + eps).sqrt()
        }
        guard let weight, let bias else { return normalized }
        return normalized * weight.value.reshape(channelShape) + bias.value.reshape(channelShape)
    }

    /// Zero means, unit variances and no batches tracked (torch's `reset_running_stats`).
    public func resetRunningStatistics() {
        runningMean.value = .zeros(runningMean.value.shape)
        runningVar.value = .ones(runningVar.value.shape)
        numBatchesTracked.value = Tensor(indices: [0], shape: [])
    }

    private func updateRunningStatistics(mean: Tensor, biasedVariance: Tensor, reduced: Int) {
        // The counter may come from a file, so it saturates instead of trapping on overflow.
        let tracked = Int(clamping: numBatchesTracked.value.integers[0])
        let counted = tracked == .max ? tracked : tracked + 1
        numBatchesTracked.value = Tensor(indices: [counted], shape: [])
        let unbiasedScale = Float(reduced) / Float(reduced - 1)
        let factor = usesCumulativeAverage ? 1 / Float(counted) : momentum
        let keep = 1 - factor
        let newMean = zip(runningMean.value.scalars, mean.scalars).map { keep * $0 + factor * $1 }
        let newVar = zip(runningVar.value.scalars, biasedVariance.scalars).map { keep * $0 + factor * ($1 * unbiasedScale) }
        runningMean.value = Tensor(shape: runningMean.value.shape, scalars: newMean)
        runningVar.value = Tensor(shape: runningVar.value.shape, scalars: newVar)
    }
}

/// Batch normalisation of [N, C] or [N, C, L] inputs.
public final class BatchNorm1d: BatchNorm, @unchecked Sendable {
    /// Torch defaults: eps 1e-5, momentum 0.1, affine.
    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) {
        super.init(numFeatures: numFeatures, eps: eps, momentum: momentum, affine: affine, expectedRanks: [2, 3])
    }
}

/// Batch normalisation of [N, C, H, W] inputs.
public final class BatchNorm2d: BatchNorm, @unchecked Sendable {
    /// Torch defaults: eps 1e-5, momentum 0.1, affine.
    public init(_ numFeatures: Int, eps: Float = 1e-5, momentum: Float = 0.1, affine: Bool = true) {
        super.init(numFeatures: numFeatures, eps: eps, momentum: momentum, affine: affine, expectedRanks: [4])
    }
}

/// Normalises over the trailing `normalizedShape` axes with the biased variance, then scales and shifts.
public final class LayerNorm: Module, @unchecked Sendable {
    /// Elementwise scale over the normalised axes.
    public let weight: Parameter
    /// Elementwise shift over the normalised axes.
    public let bias: Parameter
    /// Added to the variance before the square root.
    public let eps: Float

    /// Torch defaults: eps 1e-5, weight ones, bias zeros.
    public init(_ normalizedShape: [Int], eps: Float = 1e-5) {
        precondition(!normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 > 0 },
                     "LayerNorm: normalized shape \(normalizedShape) must be non-empty and positive")
        weight = Parameter(.ones(normalizedShape))
        bias = Parameter(.zeros(normalizedShape))
        self.eps = eps
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor {
        _ = normalizedAxes(of: input, trailing: weight.value.shape, layer: "LayerNorm")
        return input.layerNorm(weight: weight.value, bias: bias.value, eps: eps)
    }
}

/// Root-mean-square normalisation over the trailing axes, as `nn.RMSNorm`: `x / √(mean(x²) + eps) · weight`.
public final class RMSNorm: Module, @unchecked Sendable {
    public let weight: Parameter
    /// Added to the mean square; nil uses Float32's machine epsilon, as torch.
    public let eps: Float?

    public init(_ normalizedShape: [Int], eps: Float? = nil) {
        precondition(!normalizedShape.isEmpty && normalizedShape.allSatisfy { $0 > 0 },
                     "RMSNorm: normalized shape \(normalizedShape) must be non-empty and positive")
        weight = Parameter(.ones(normalizedShape))
        self.eps = eps
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor {
        let axes = normalizedAxes(of: input, trailing: weight.value.shape, layer: "RMSNorm")
        return input * ((input * input).mean(axes: axes, keepDims: true) + (eps ?? .ulpOfOne)).rsqrt() * weight.value
    }
}

/// The trailing axes of `input` that a norm over `trailing` covers; stops on a shape mismatch.
func normalizedAxes(of input: Tensor, trailing: [Int], layer: String) -> [Int] {
    precondition(input.rank >= trailing.count && Array(input.shape.suffix(trailing.count)) == trailing,
                 "\(layer): input shape \(input.shape) does not end in \(trailing)")
    return Array((input.rank - trailing.count)..<input.rank)
}

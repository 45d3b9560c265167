import CairnTensor

/// How per-element losses are combined, as torch's `reduction` argument.
public enum LossReduction: Sendable {
    case mean, sum, none
}

/// Loss functions with PyTorch's semantics; all are differentiable in their first argument.
public enum Loss {
    /// Cross-entropy of `logits` [N, C] against class indices `targets` [N], as
    /// `F.cross_entropy`: optional per-class `weights` (the mean divides by the summed
    /// weights of the targets), `labelSmoothing` mixing in a uniform target, and samples
    /// whose target equals `ignoreIndex` contributing nothing (torch's `ignore_index`).
    ///
    /// Logits of higher rank follow torch's layout `[N, C, d1, …]` with targets `[N, d1, …]`;
    /// for sequence logits with the classes last (`[B, T, V]`) use ``sequenceCrossEntropy(_:_:labelSmoothing:ignoreIndex:reduction:)``.
    public static func crossEntropy(_ logits: Tensor, _ targets: Tensor, weights: [Float]? = nil,
                                    labelSmoothing: Float = 0, ignoreIndex: Int64? = nil,
                                    reduction: LossReduction = .mean) -> Tensor {
        precondition(logits.rank >= 2, "crossEntropy: logits shape \(logits.shape) must be [N, C] or [N, C, d1, …]")
        if logits.rank > 2 {
            let classesLast = logits.permute([0] + Array(2..<logits.rank) + [1])
            let flat = classesLast.reshape([-1, logits.shape[1]])
            precondition(targets.shape == [logits.shape[0]] + Array(logits.shape.dropFirst(2)),
                         "crossEntropy: targets shape \(targets.shape) must be logits' \(logits.shape) without axis 1")
            let perPosition = crossEntropy(flat, flatIndices(targets), weights: weights, labelSmoothing: labelSmoothing,
                                           ignoreIndex: ignoreIndex, reduction: reduction)
            return reduction == .none ? perPosition.reshape(targets.shape) : perPosition
        }
        precondition(labelSmoothing >= 0 && labelSmoothing <= 1, "crossEntropy: label smoothing \(labelSmoothing) must be in [0, 1]")
        let logProbabilities = logits.logSoftmax(axis: 1)
        let nll = negativeLogLikelihood(logProbabilities, targets, weights: weights, ignoreIndex: ignoreIndex,
                                        reduction: reduction)
        guard labelSmoothing > 0 else { return nll }
        let classes = logits.shape[1]
        let classWeights = Tensor(shape: [1, classes], scalars: weights ?? [Float](repeating: 1, count: classes))
        let kept = Tensor(shape: [targets.count], scalars: targets.integers.map { $0 == ignoreIndex ? 0 : 1 })
        let smooth = -(logProbabilities * classWeights).sum(axis: 1) * kept
        let weightSum = targetWeights(targets, weights: weights, classes: classes, ignoreIndex: ignoreIndex).sum()
        let smoothReduced = reduce(smooth, reduction: reduction, weightSum: weightSum)
        return (1 - labelSmoothing) * nll + (labelSmoothing / Float(classes)) * smoothReduced
    }

    /// Cross-entropy of sequence logits with the classes last, `[B, T, V]` (any leading axes),
    /// against class indices `[B, T]`: `F.cross_entropy(logits.view(-1, V), targets.view(-1), …)`,
    /// the way language models are trained; with `.none` the losses keep the targets' shape.
    public static func sequenceCrossEntropy(_ logits: Tensor, _ targets: Tensor, labelSmoothing: Float = 0,
                                            ignoreIndex: Int64? = nil, reduction: LossReduction = .mean) -> Tensor {
        precondition(logits.rank >= 2 && Array(logits.shape.dropLast()) == targets.shape,
                     "sequenceCrossEntropy: logits \(logits.shape) must be targets' shape \(targets.shape) plus the classes")
        let classes = logits.shape[logits.rank - 1]
        let losses = crossEntropy(logits.reshape([-1, classes]), flatIndices(targets), labelSmoothing: labelSmoothing,
                                  ignoreIndex: ignoreIndex, reduction: reduction)
        return reduction == .none ? losses.reshape(targets.shape) : losses
    }

    /// `targets` as a flat I64 tensor (reshape would make it Float32).
    static func flatIndices(_ targets: Tensor) -> Tensor {
        Tensor(int64s: targets.integers)
    }

    /// Negative log-likelihood of `logProbabilities` [N, C] at `targets` [N], as `F.nll_loss`;
    /// the mean divides by the summed weights of the targets that are not ignored.
    public static func negativeLogLikelihood(_ logProbabilities: Tensor, _ targets: Tensor, weights: [Float]? = nil,
                                             ignoreIndex: Int64? = nil, reduction: LossReduction = .mean) -> Tensor {
        precondition(logProbabilities.rank == 2 && targets.rank == 1 && targets.shape[0] == logProbabilities.shape[0],
                     "nll: inputs shape \(logProbabilities.shape) and targets shape \(targets.shape) must be [N, C] and [N]")
        let classes = logProbabilities.shape[1]
        precondition(weights.map { $0.count == classes } ?? true, "nll: \(weights?.count ?? 0) class weights for \(classes) classes")
        // Built afresh because reshape yields Float32 and gather needs integer indices.
        // Ignored samples read class 0 and are then weighted 0.
        let index = Tensor(indices: targets.integers.map { $0 == ignoreIndex ? 0 : Int($0) }, shape: [targets.count, 1])
        let picked = logProbabilities.gather(axis: 1, index: index).reshape([targets.count])
        let sampleWeights = targetWeights(targets, weights: weights, classes: classes, ignoreIndex: ignoreIndex)
        let losses = weights == nil && ignoreIndex == nil ? -picked : -(picked * sampleWeights)
        return reduce(losses, reduction: reduction, weightSum: sampleWeights.sum())
    }

    /// Mean squared error, as `F.mse_loss`.
    public static func meanSquaredError(_ prediction: Tensor, _ target: Tensor, reduction: LossReduction = .mean) -> Tensor {
        precondition(prediction.shape == target.shape, "mse: prediction shape \(prediction.shape) differs from target shape \(target.shape)")
        let difference = prediction - target
        return reduce(difference * difference, reduction: reduction)
    }

    /// Mean absolute error, as `F.l1_loss`.
    public static func l1(_ prediction: Tensor, _ target: Tensor, reduction: LossReduction = .mean) -> Tensor {
        precondition(prediction.shape == target.shape, "l1: prediction shape \(prediction.shape) differs from target shape \(target.shape)")
        return reduce((prediction - target).abs(), reduction: reduction)
    }

    /// Binary cross-entropy on logits, computed stably as torch:
    /// `max(x, 0) - x·y + log(1 + exp(-|x|))`.
    public static func binaryCrossEntropyWithLogits(_ logits: Tensor, _ target: Tensor,
                                                    reduction: LossReduction = .mean) -> Tensor {
        precondition(logits.shape == target.shape, "bceWithLogits: logits shape \(logits.shape) differs from target shape \(target.shape)")
        let losses = logits.relu() - logits * target + ((-logits.abs()).exp() + 1).log()
        return reduce(losses, reduction: reduction)
    }

    /// The class weight of each target (1 without class weights, 0 when ignored). A target
    /// outside `0..<classes` means the model and labels disagree: a programming error.
    static func targetWeights(_ targets: Tensor, weights: [Float]?, classes: Int, ignoreIndex: Int64?) -> Tensor {
        let labels = targets.integers
        let perSample = labels.map { label -> Float in
            if label == ignoreIndex { return 0 }
            precondition(label >= 0 && label < classes, "loss: target \(label) out of range for \(classes) classes")
            return weights?[Int(label)] ?? 1
        }
        return Tensor(shape: [labels.count], scalars: perSample)
    }

    static func reduce(_ losses: Tensor, reduction: LossReduction, weightSum: Tensor? = nil) -> Tensor {
        switch reduction {
        case .none: losses
        case .sum: losses.sum()
        case .mean: weightSum.map { losses.sum() / $0 } ?? losses.mean()
        }
    }
}

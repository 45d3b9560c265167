import CairnNN
import CairnTensor

/// Gradient clipping as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
public enum GradientClipping {
    /// Scales all gradients by `maxNorm / (total + 1e-6)` when the global 2-norm exceeds
    /// `maxNorm`; returns the norm measured before clipping.
    @discardableResult
    public static func clipByGlobalNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
        let gradients = parameters.compactMap(\.grad)
        let squaredSum = gradients.reduce(0.0) { total, gradient in
            total + gradient.scalars.reduce(0.0) { $0 + Double($1) * Double($1) }
        }
        let totalNorm = Float(squaredSum.squareRoot())
        let coefficient = Swift.min(maxNorm / (totalNorm + 1e-6), 1)
        for parameter in parameters {
            guard let gradient = parameter.grad else { continue }
            parameter.grad = Tensor(shape: gradient.shape, scalars: gradient.scalars.map { $0 * coefficient })
        }
        return totalNorm
    }

    /// Clamps every gradient element into `[-limit, limit]`.
    public static func clipByValue(_ parameters: [Parameter], limit: Float) {
        precondition(limit >= 0, "clipByValue: limit \(limit) must be non-negative")
        for parameter in parameters {
            guard let gradient = parameter.grad else { continue }
            parameter.grad = Tensor(shape: gradient.shape, scalars: gradient.scalars.map { Swift.min(Swift.max($0, -limit), limit) })
        }
    }
}

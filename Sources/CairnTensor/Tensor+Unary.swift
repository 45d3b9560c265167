#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Elementwise functions of one tensor. Each saves its input and output values
// (not tensors, so the graph holds no cycles) for the gradient.

extension Tensor {
    /// Elementwise negation.
    public func neg() -> Tensor {
        .result(shape: shape, scalars: mapScalars { -$0 }, inputs: [self]) { [$0.neg()] }
    }

    /// Elementwise e^x.
    public func exp() -> Tensor {
        let x = scalars, y = mapScalars { expf($0) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, _, y in g * y }]
        }
    }

    /// Elementwise natural logarithm.
    public func log() -> Tensor {
        let x = scalars, y = mapScalars { logf($0) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, x, _ in g / x }]
        }
    }

    /// Elementwise square root.
    public func sqrt() -> Tensor {
        let x = scalars, y = mapScalars { sqrtf($0) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, _, y in g / (2 * y) }]
        }
    }

    /// Elementwise absolute value (gradient 0 at 0, as torch).
    public func abs() -> Tensor {
        let x = scalars, y = mapScalars { Swift.abs($0) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, x, _ in x > 0 ? g : (x < 0 ? -g : 0) }]
        }
    }

    /// Elementwise clamp into `[min, max]`; either bound may be omitted. The
    /// gradient passes where the input lies within the bounds (inclusive), as torch.
    public func clamp(min lower: Float? = nil, max upper: Float? = nil) -> Tensor {
        let low = lower ?? -.infinity, high = upper ?? .infinity
        let x = scalars, y = mapScalars { Swift.min(Swift.max($0, low), high) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, x, _ in x >= low && x <= high ? g : 0 }]
        }
    }

    /// Elementwise max(x, 0).
    public func relu() -> Tensor {
        let x = scalars, y = mapScalars { $0 > 0 || $0.isNaN ? $0 : 0 }  // NaN propagates, as torch
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, x, _ in x > 0 ? g : 0 }]
        }
    }

    /// Gaussian error linear unit: exact `x·Φ(x)` by default, or torch's tanh approximation.
    public func gelu(approximateTanh: Bool = false) -> Tensor {
        let x = scalars
        if approximateTanh {
            let k: Float = 0.797_884_56, c: Float = 0.044_715
            let y = mapScalars { 0.5 * $0 * (1 + tanhf(k * ($0 + c * $0 * $0 * $0))) }
            return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
                [Tensor.gradientMap(gradient, x, y) { g, x, _ in
                    let t = tanhf(k * (x + c * x * x * x))
                    return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * c * x * x))
                }]
            }
        }
        // Φ(x) is kept for the backward pass, which would otherwise evaluate erf again.
        let cdf = mapScalars { 0.5 * (1 + erff($0 * 0.707_106_78)) }
        var y = cdf
        for index in y.indices { y[index] *= x[index] }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, cdf) { g, x, cdf in g * (cdf + x * expf(-0.5 * x * x) * 0.398_942_28) }]
        }
    }

    /// Elementwise hyperbolic tangent.
    public func tanh() -> Tensor {
        let x = scalars, y = mapScalars { tanhf($0) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, _, y in g * (1 - y * y) }]
        }
    }

    /// Elementwise logistic sigmoid.
    public func sigmoid() -> Tensor {
        let x = scalars
        let y = mapScalars { $0 >= 0 ? 1 / (1 + expf(-$0)) : expf($0) / (1 + expf($0)) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, _, y in g * y * (1 - y) }]
        }
    }
}

import CairnTensor

/// `max(x, 0)` as a module.
public final class ReLU: Module, @unchecked Sendable {
    override public func forward(_ input: Tensor) -> Tensor { input.relu() }
}

/// The Gaussian error linear unit (exact erf form by default, or torch's tanh approximation).
public final class GELU: Module, @unchecked Sendable {
    /// Whether to use the tanh approximation.
    public let approximateTanh: Bool

    /// A GELU; `approximateTanh` matches torch's `approximate="tanh"`.
    public init(approximateTanh: Bool = false) {
        self.approximateTanh = approximateTanh
        super.init()
    }

    override public func forward(_ input: Tensor) -> Tensor { input.gelu(approximateTanh: approximateTanh) }
}

/// Hyperbolic tangent as a module.
public final class Tanh: Module, @unchecked Sendable {
    override public func forward(_ input: Tensor) -> Tensor { input.tanh() }
}

/// Logistic sigmoid as a module.
public final class Sigmoid: Module, @unchecked Sendable {
    override public func forward(_ input: Tensor) -> Tensor { input.sigmoid() }
}

/// `x·σ(x)` (torch's SiLU) as a module.
public final class SiLU: Module, @unchecked Sendable {
    override public func forward(_ input: Tensor) -> Tensor { input.silu() }
}

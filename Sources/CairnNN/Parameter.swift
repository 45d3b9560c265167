import CairnTensor

/// A trainable tensor held by reference, so optimizers update it in place by path.
public final class Parameter: @unchecked Sendable {
    private var leaf: Tensor

    /// The current value: a leaf tensor that requires a gradient unless frozen. Assigning
    /// stores a detached copy, so the caller's tensor never collects this parameter's gradients.
    public var value: Tensor {
        get { leaf }
        set {
            leaf = newValue.detach()
            leaf.requiresGrad = !isFrozen
        }
    }

    /// A frozen parameter takes no gradient and optimizers skip it.
    public var isFrozen: Bool {
        didSet { leaf.requiresGrad = !isFrozen }
    }

    /// The gradient accumulated by the last `backward()` calls.
    public var grad: Tensor? {
        get { value.grad }
        set { value.grad = newValue }
    }

    /// Wraps `value` (detached from any graph) as a trainable leaf.
    public init(_ value: Tensor, frozen: Bool = false) {
        isFrozen = frozen
        leaf = value.detach()
        leaf.requiresGrad = !frozen
    }

    /// Replaces the values while keeping the accumulated gradient, as an in-place update would.
    public func update(scalars: [Float]) {
        let previousGrad = leaf.grad
        leaf = Tensor(shape: leaf.shape, scalars: scalars, requiresGrad: !isFrozen)
        leaf.grad = previousGrad
    }
}

/// A non-trainable tensor that belongs to the model state (running statistics, counters).
public final class Buffer: @unchecked Sendable {
    /// The current value; any dtype (e.g. I64 for `num_batches_tracked`).
    public var value: Tensor

    /// Wraps `value`, detached from any graph.
    public init(_ value: Tensor) { self.value = value.detach() }
}

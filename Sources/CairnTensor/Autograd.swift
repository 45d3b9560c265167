// Reverse-mode autograd: every op result keeps its inputs and a closure that
// maps the result's gradient to theirs; `backward()` walks that graph once in
// reverse topological order. See the Autograd article for the design.

/// Whether ops record a graph; switched off inside `withNoGrad`.
enum GradMode {
    @TaskLocal static var isEnabled = true
}

/// Runs `body` without recording a graph (for evaluation and parameter updates).
public func withNoGrad<Result>(_ body: () throws -> Result) rethrows -> Result {
    try GradMode.$isEnabled.withValue(false, operation: body)
}

/// Whether ops currently record a graph.
public var isGradEnabled: Bool { GradMode.isEnabled }

extension Tensor {
    /// Builds an op result: it joins the graph only when recording is on and
    /// some input requires a gradient, so no-grad code keeps no closures alive.
    static func result(shape: [Int], scalars: [Float], inputs: [Tensor],
                       gradient: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        let tracked = GradMode.isEnabled && inputs.contains { $0.requiresGrad }
        return Tensor(shape: shape, dtype: .f32, scalars: scalars, exactBytes: nil, name: nil,
                      requiresGrad: tracked, parents: tracked ? inputs : [],
                      gradientFunction: tracked ? gradient : nil)
    }

    /// A result that never carries a gradient (comparisons, argmax).
    static func constant(shape: [Int], dtype: DType, integers: [Int64]) -> Tensor {
        let bytes = dtype.encode(integers: integers)
        return Tensor(shape: shape, dtype: dtype, scalars: integers.map { Float($0) },
                      exactBytes: dtype == .f32 ? nil : bytes, name: nil,
                      requiresGrad: false, parents: [], gradientFunction: nil)
    }

    /// The same values cut off from the graph.
    public func detach() -> Tensor {
        Tensor(shape: shape, dtype: dtype, scalars: scalars, exactBytes: exactBytes, name: name,
               requiresGrad: false, parents: [], gradientFunction: nil)
    }

    /// Back-propagates from this scalar, accumulating into the `grad` of every leaf that requires it.
    public func backward() {
        precondition(count == 1, "backward: needs a scalar, got shape \(shape); pass backward(gradient:)")
        backward(gradient: Tensor.ones(shape))
    }

    /// Back-propagates `gradient` (same shape as this tensor) through the graph.
    public func backward(gradient: Tensor) {
        precondition(gradient.shape == shape, "backward: gradient shape \(gradient.shape) differs from tensor shape \(shape)")
        precondition(requiresGrad, "backward: tensor of shape \(shape) does not require grad")
        let order = topologicalOrder()
        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): gradient.detach()]
        withNoGrad {
            for node in order.reversed() {
                guard let outgoing = pending.removeValue(forKey: ObjectIdentifier(node)) else { continue }
                guard let gradientFunction = node.gradientFunction else {
                    node.grad = node.grad.map { $0 + outgoing } ?? outgoing
                    continue
                }
                for (parent, parentGradient) in zip(node.parents, gradientFunction(outgoing)) {
                    guard parent.requiresGrad, let parentGradient else { continue }
                    precondition(parentGradient.shape == parent.shape,
                                 "backward: gradient \(parentGradient.shape) for input \(parent.shape)")
                    let key = ObjectIdentifier(parent)
                    pending[key] = pending[key].map { $0 + parentGradient } ?? parentGradient
                }
            }
        }
    }

    /// Nodes that require grad, each after all its parents; depends only on the
    /// graph's structure (parents in argument order), so it is deterministic.
    /// Iterative so that long chains cannot overflow the stack.
    func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited: Set<ObjectIdentifier> = [ObjectIdentifier(self)]
        var stack: [(node: Tensor, nextParent: Int)] = [(self, 0)]
        while let (node, nextParent) = stack.last {
            if nextParent < node.parents.count {
                stack[stack.count - 1].nextParent += 1
                let parent = node.parents[nextParent]
                if parent.requiresGrad, visited.insert(ObjectIdentifier(parent)).inserted {
                    stack.append((parent, 0))
                }
            } else {
                order.append(node)
                stack.removeLast()
            }
        }
        return order
    }
}

// Element-level selection: gather, where, and the comparisons that build masks.

extension Tensor {
    /// Picks elements along `axis` by an integer tensor of the same rank, as
    /// torch.gather: `out[i][j][k] = self[i][index[i][j][k]][k]` for axis 1.
    public func gather(axis: Int, index: Tensor) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "gather")
        precondition(index.rank == rank, "gather: index shape \(index.shape) and input shape \(shape) differ in rank")
        for dimension in 0..<rank where dimension != axis {
            precondition(index.shape[dimension] <= shape[dimension],
                         "gather: index shape \(index.shape) exceeds input shape \(shape) on axis \(dimension)")
        }
        let picked = positions(from: index, length: shape[axis], op: "gather")
        let offsets = Tensor.gatherOffsets(indexShape: index.shape, inputShape: shape, axis: axis, positions: picked)
        let values = scalars.withUnsafeBufferPointer { input in offsets.map { input[$0] } }
        return .result(shape: index.shape, scalars: values, inputs: [self]) { [shape] gradient in
            var result = [Float](repeating: 0, count: Shape.count(shape))
            let outgoing = gradient.scalars
            for (slot, offset) in offsets.enumerated() { result[offset] += outgoing[slot] }
            return [Tensor(shape: shape, scalars: result)]
        }
    }

    /// The input offset read by each element of a gather.
    static func gatherOffsets(indexShape: [Int], inputShape: [Int], axis: Int, positions: [Int]) -> [Int] {
        if positions.isEmpty { return [] }
        let inputStrides = Shape.strides(inputShape)
        if indexShape.isEmpty { return [positions[0]] }
        var walkStrides = inputStrides
        walkStrides[axis] = 0
        let inner = indexShape[indexShape.count - 1], step = walkStrides[walkStrides.count - 1]
        let axisStride = inputStrides[axis]
        var rows = BroadcastRows(shape: indexShape, operandStrides: [walkStrides])
        var offsets = [Int](repeating: 0, count: positions.count)
        for rowStart in stride(from: 0, to: positions.count, by: inner) {
            for column in 0..<inner {
                offsets[rowStart + column] = rows.offsets[0] + column * step + positions[rowStart + column] * axisStride
            }
            rows.advance()
        }
        return offsets
    }

    /// Elements of `a` where `condition` is non-zero, else of `b`; all three broadcast.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = Shape.broadcast(Shape.broadcast(condition.shape, a.shape, op: "where"), b.shape, op: "where")
        let mask = condition.detach().broadcast(to: shape).scalars
        let left = a.broadcast(to: shape), right = b.broadcast(to: shape)
        let chosen = left.scalars, otherwise = right.scalars
        let values = (0..<mask.count).map { mask[$0] != 0 ? chosen[$0] : otherwise[$0] }
        return .result(shape: shape, scalars: values, inputs: [left, right]) { gradient in
            let g = gradient.scalars
            return [Tensor(shape: shape, scalars: (0..<g.count).map { mask[$0] != 0 ? g[$0] : 0 }),
                    Tensor(shape: shape, scalars: (0..<g.count).map { mask[$0] != 0 ? 0 : g[$0] })]
        }
    }

    /// A BOOL tensor from an elementwise broadcasting predicate (no gradient).
    @inline(__always)
    private func compare(_ other: Tensor, op: String, _ predicate: (Float, Float) -> Bool) -> Tensor {
        let (shape, values) = Tensor.broadcastMap(self, other, op: op) { predicate($0, $1) ? 1 : 0 }
        return .constant(shape: shape, dtype: .bool, integers: values.map { $0 != 0 ? 1 : 0 })
    }

    /// Elementwise `==` as BOOL.
    public func eq(_ other: Tensor) -> Tensor { compare(other, op: "eq") { $0 == $1 } }
    /// Elementwise `!=` as BOOL.
    public func ne(_ other: Tensor) -> Tensor { compare(other, op: "ne") { $0 != $1 } }
    /// Elementwise `<` as BOOL.
    public func lt(_ other: Tensor) -> Tensor { compare(other, op: "lt") { $0 < $1 } }
    /// Elementwise `<=` as BOOL.
    public func le(_ other: Tensor) -> Tensor { compare(other, op: "le") { $0 <= $1 } }
    /// Elementwise `>` as BOOL.
    public func gt(_ other: Tensor) -> Tensor { compare(other, op: "gt") { $0 > $1 } }
    /// Elementwise `>=` as BOOL.
    public func ge(_ other: Tensor) -> Tensor { compare(other, op: "ge") { $0 >= $1 } }
    /// Elementwise `== value` as BOOL.
    public func eq(_ value: Float) -> Tensor { eq(Tensor(value)) }
    /// Elementwise `!= value` as BOOL.
    public func ne(_ value: Float) -> Tensor { ne(Tensor(value)) }
    /// Elementwise `< value` as BOOL.
    public func lt(_ value: Float) -> Tensor { lt(Tensor(value)) }
    /// Elementwise `<= value` as BOOL.
    public func le(_ value: Float) -> Tensor { le(Tensor(value)) }
    /// Elementwise `> value` as BOOL.
    public func gt(_ value: Float) -> Tensor { gt(Tensor(value)) }
    /// Elementwise `>= value` as BOOL.
    public func ge(_ value: Float) -> Tensor { ge(Tensor(value)) }
}

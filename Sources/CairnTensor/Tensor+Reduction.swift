// Reductions over axes. A "lane" is the line of elements along one axis: `length` values `stride` apart from `base`.

extension Tensor {
    /// Calls `body(lane, base, stride)` for every lane along `axis` of `shape`;
    /// lanes are numbered in the row-major order of the reduced (keepDims) shape.
    @inline(__always)
    static func forEachLane(_ shape: [Int], axis: Int, _ body: (_ lane: Int, _ base: Int, _ stride: Int) -> Void) {
        let (outer, length, inner) = Shape.split(shape, at: axis)
        for outerIndex in 0..<outer {
            for innerIndex in 0..<inner {
                body(outerIndex * inner + innerIndex, outerIndex * length * inner + innerIndex, inner)
            }
        }
    }

    /// Sums `values` (of `shape`) along `axis`, keeping the axis with size 1.
    /// Each output is accumulated in order along the axis, so results never
    /// depend on the loop structure chosen.
    static func sumAlong(_ values: [Float], shape: [Int], axis: Int) -> [Float] {
        let (outer, length, inner) = Shape.split(shape, at: axis)
        return values.withUnsafeBufferPointer { input in
            [Float](unsafeUninitializedCapacity: outer * inner) { output, initialized in
                initialized = outer * inner
                guard let source = input.baseAddress, let target = output.baseAddress else { return }
                if inner == 1 {
                    for lane in 0..<outer {
                        let row = source + lane * length
                        var total: Float = 0
                        for step in 0..<length { total += row[step] }
                        target[lane] = total
                    }
                    return
                }
                target.initialize(repeating: 0, count: outer * inner)
                for outerIndex in 0..<outer {
                    let destination = target + outerIndex * inner
                    for step in 0..<length {
                        let row = source + (outerIndex * length + step) * inner
                        for innerIndex in 0..<inner { destination[innerIndex] += row[innerIndex] }
                    }
                }
            }
        }
    }

    /// The shape after reducing `axes` (sorted, normalised).
    static func reducedShape(_ shape: [Int], axes: [Int], keepDims: Bool) -> [Int] {
        keepDims ? shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
                 : shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }

    /// Sum over `axes` (all axes when nil).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axes = Shape.axes(axes, rank: rank, op: "sum")
        var values = scalars, current = shape
        for axis in axes {
            values = Tensor.sumAlong(values, shape: current, axis: axis)
            current[axis] = 1
        }
        let kept = current
        return .result(shape: Tensor.reducedShape(shape, axes: axes, keepDims: keepDims), scalars: values,
                       inputs: [self]) { [shape] gradient in
            [gradient.reshape(kept).broadcast(to: shape)]
        }
    }

    /// Sum over one axis.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor { sum(axes: [axis], keepDims: keepDims) }

    /// Mean over `axes` (all axes when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let axes = Shape.axes(axes, rank: rank, op: "mean")
        let n = axes.reduce(1) { $0 * shape[$1] }
        return sum(axes: axes, keepDims: keepDims) / Float(n)
    }

    /// Mean over one axis.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor { mean(axes: [axis], keepDims: keepDims) }

    /// Variance over `axes` (all when nil), dividing by `n - correction` (1: unbiased, as torch's default).
    public func variance(axes: [Int]? = nil, correction: Int = 1, keepDims: Bool = false) -> Tensor {
        let axes = Shape.axes(axes, rank: rank, op: "var")
        let n = axes.reduce(1) { $0 * shape[$1] }
        let centered = self - mean(axes: axes, keepDims: true)
        return (centered * centered).sum(axes: axes, keepDims: keepDims) / Float(Swift.max(n - correction, 0))
    }

    /// Variance over one axis.
    public func variance(axis: Int, correction: Int = 1, keepDims: Bool = false) -> Tensor {
        variance(axes: [axis], correction: correction, keepDims: keepDims)
    }

    /// Value and position of the extreme element of every lane along `axis` (first one on ties; NaN wins).
    func laneExtremes(axis: Int, largest: Bool) -> (values: [Float], positions: [Int]) {
        let lanes = count / Swift.max(shape[axis], 1)
        var values = [Float](repeating: 0, count: lanes), positions = [Int](repeating: 0, count: lanes)
        let length = shape[axis]
        precondition(length > 0, "\(largest ? "max" : "min"): axis \(axis) of shape \(shape) is empty")
        scalars.withUnsafeBufferPointer { input in
            Tensor.forEachLane(shape, axis: axis) { lane, base, stride in
                var best = input[base], bestPosition = 0
                for step in 1..<Swift.max(length, 1) {
                    let value = input[base + step * stride]
                    if best.isNaN { break }
                    if value.isNaN || (largest ? value > best : value < best) { best = value; bestPosition = step }
                }
                values[lane] = best
                positions[lane] = bestPosition
            }
        }
        return (values, positions)
    }

    private func extreme(axes: [Int]?, keepDims: Bool, largest: Bool, toChosenElement: Bool) -> Tensor {
        let op = largest ? "max" : "min"
        let axes = Shape.axes(axes, rank: rank, op: op)
        let outShape = Tensor.reducedShape(shape, axes: axes, keepDims: keepDims)
        if toChosenElement {
            // torch.max(dim): the whole gradient goes to the chosen element.
            let axis = axes[0]
            let (values, positions) = laneExtremes(axis: axis, largest: largest)
            return .result(shape: outShape, scalars: values, inputs: [self]) { [shape] gradient in
                var result = [Float](repeating: 0, count: Shape.count(shape))
                gradient.scalars.withUnsafeBufferPointer { outgoing in
                    Tensor.forEachLane(shape, axis: axis) { lane, base, stride in
                        result[base + positions[lane] * stride] += outgoing[lane]
                    }
                }
                return [Tensor(shape: shape, scalars: result)]
            }
        }
        var values = scalars, current = shape
        for axis in axes {
            values = Tensor(shape: current, scalars: values).laneExtremes(axis: axis, largest: largest).values
            current[axis] = 1
        }
        let kept = current
        return .result(shape: outShape, scalars: values, inputs: [self]) { [self] gradient in
            // Several axes: ties share the gradient evenly, as torch's amax/amin.
            let winners = self.eq(Tensor(shape: kept, scalars: values)).to(.f32)
            let share = winners.sum(axes: axes, keepDims: true)
            return [winners * gradient.reshape(kept) / share]
        }
    }

    /// Maximum over one axis; the gradient goes to the first maximal element (torch.max(dim)).
    public func max(axis: Int, keepDims: Bool = false) -> Tensor {
        extreme(axes: [axis], keepDims: keepDims, largest: true, toChosenElement: true)
    }
    /// Maximum over `axes` (all when nil); ties share the gradient (torch.amax, torch.max()).
    public func max(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extreme(axes: axes, keepDims: keepDims, largest: true, toChosenElement: false)
    }
    /// Minimum over one axis; the gradient goes to the first minimal element (torch.min(dim)).
    public func min(axis: Int, keepDims: Bool = false) -> Tensor {
        extreme(axes: [axis], keepDims: keepDims, largest: false, toChosenElement: true)
    }
    /// Minimum over `axes` (all when nil); ties share the gradient (torch.amin, torch.min()).
    public func min(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        extreme(axes: axes, keepDims: keepDims, largest: false, toChosenElement: false)
    }

    /// Position of the largest element along `axis` (first on ties), as I64.
    public func argmax(axis: Int, keepDims: Bool = false) -> Tensor { extremePosition(axis: axis, keepDims: keepDims, largest: true) }

    /// Position of the smallest element along `axis` (first on ties), as I64.
    public func argmin(axis: Int, keepDims: Bool = false) -> Tensor { extremePosition(axis: axis, keepDims: keepDims, largest: false) }

    private func extremePosition(axis: Int, keepDims: Bool, largest: Bool) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: largest ? "argmax" : "argmin")
        let positions = laneExtremes(axis: axis, largest: largest).positions
        return .constant(shape: Tensor.reducedShape(shape, axes: [axis], keepDims: keepDims), dtype: .i64,
                         integers: positions.map { Int64($0) })
    }
}

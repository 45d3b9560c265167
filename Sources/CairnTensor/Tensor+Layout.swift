// Ops that move elements around without changing them: reshape, broadcast,
// permute, slicing, index selection, concatenation.

extension Tensor {
    /// Copies elements read through `strides` (0 on broadcast axes) into a contiguous `shape`.
    static func stridedCopy(_ values: [Float], shape: [Int], strides: [Int]) -> [Float] {
        let n = Shape.count(shape)
        if n == 0 { return [] }
        if shape.isEmpty { return [values[0]] }
        let inner = shape[shape.count - 1], step = strides[strides.count - 1]
        var rows = BroadcastRows(shape: shape, operandStrides: [strides])
        return values.withUnsafeBufferPointer { input in
            [Float](unsafeUninitializedCapacity: n) { output, initialized in
                for rowStart in stride(from: 0, to: n, by: inner) {
                    let offset = rows.offsets[0]
                    for column in 0..<inner { output[rowStart + column] = input[offset + column * step] }
                    rows.advance()
                }
                initialized = n
            }
        }
    }

    /// The same elements in a new shape; one dimension may be -1 (inferred).
    public func reshape(_ newShape: [Int]) -> Tensor {
        var target = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot reshape \(shape) into \(newShape)")
            target[unknown] = count / known
        }
        precondition(target.allSatisfy { $0 >= 0 } && Shape.count(target) == count,
                     "reshape: cannot reshape \(shape) into \(newShape)")
        if dtype != .f32 {  // storage dtypes (indices, masks) keep their exact bytes and take no gradient
            return Tensor(shape: target, dtype: dtype, scalars: scalars, exactBytes: exactBytes, name: nil,
                          requiresGrad: false, parents: [], gradientFunction: nil)
        }
        return .result(shape: target, scalars: scalars, inputs: [self]) { [shape] gradient in
            [gradient.reshape(shape)]
        }
    }

    /// Inserts an axis of size 1 at `axis`.
    public func unsqueeze(axis: Int) -> Tensor {
        let axis = Shape.axis(axis, rank: rank + 1, op: "unsqueeze")
        var target = shape
        target.insert(1, at: axis)
        return reshape(target)
    }

    /// Removes the axis `axis`, which must have size 1.
    public func squeeze(axis: Int) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "squeeze")
        precondition(shape[axis] == 1, "squeeze: axis \(axis) of shape \(shape) is not 1")
        var target = shape
        target.remove(at: axis)
        return reshape(target)
    }

    /// The elements repeated along broadcast axes to fill `target` (NumPy rules).
    public func broadcast(to target: [Int]) -> Tensor {
        if target == shape { return self }
        precondition(Shape.broadcast(shape, target, op: "broadcast") == target,
                     "broadcast: shape \(shape) does not broadcast to \(target)")
        let values = Tensor.stridedCopy(scalars, shape: target, strides: Shape.broadcastStrides(shape, to: target))
        return .result(shape: target, scalars: values, inputs: [self]) { [shape] gradient in
            [gradient.sumToShape(shape)]
        }
    }

    /// The axes reordered: axis `i` of the result is axis `axes[i]` of this tensor.
    public func permute(_ axes: [Int]) -> Tensor {
        let order = axes.map { Shape.axis($0, rank: rank, op: "permute") }
        precondition(order.count == rank && Set(order).count == rank,
                     "permute: \(axes) is not a permutation of the axes of shape \(shape)")
        let own = Shape.strides(shape)
        let values = Tensor.stridedCopy(scalars, shape: order.map { shape[$0] }, strides: order.map { own[$0] })
        var inverse = [Int](repeating: 0, count: rank)
        for (position, axis) in order.enumerated() { inverse[axis] = position }
        return .result(shape: order.map { shape[$0] }, scalars: values, inputs: [self]) { gradient in
            [gradient.permute(inverse)]
        }
    }

    /// Swaps two axes.
    public func transpose(_ first: Int, _ second: Int) -> Tensor {
        var order = Array(0..<rank)
        order.swapAt(Shape.axis(first, rank: rank, op: "transpose"), Shape.axis(second, rank: rank, op: "transpose"))
        return permute(order)
    }

    /// Moves whole slices along `axis` of `shape` (whose axis has `length` slices)
    /// to or from a tensor holding `positions.count` of them. Gathering copies
    /// slice `positions[slot]` into `slot`; scattering (for gradients) adds slot
    /// `slot` back onto `positions[slot]`, so repeated positions accumulate.
    static func moveSlices(_ values: [Float], shape: [Int], axis: Int, positions: [Int], scatter: Bool) -> [Float] {
        let (outer, length, inner) = Shape.split(shape, at: axis)
        let picked = positions.count
        var result = [Float](repeating: 0, count: outer * (scatter ? length : picked) * inner)
        values.withUnsafeBufferPointer { input in
            result.withUnsafeMutableBufferPointer { output in
                guard let source = input.baseAddress, let target = output.baseAddress else { return }
                for outerIndex in 0..<outer {
                    for (slot, position) in positions.enumerated() {
                        let full = (outerIndex * length + position) * inner, compact = (outerIndex * picked + slot) * inner
                        if scatter {
                            for innerIndex in 0..<inner { target[full + innerIndex] += source[compact + innerIndex] }
                        } else {
                            (target + compact).update(from: source + full, count: inner)
                        }
                    }
                }
            }
        }
        return result
    }

    /// A differentiable selection of whole slices along `axis` (positions already validated).
    func select(axis: Int, positions: [Int]) -> Tensor {
        var target = shape
        target[axis] = positions.count
        let values = Tensor.moveSlices(scalars, shape: shape, axis: axis, positions: positions, scatter: false)
        return .result(shape: target, scalars: values, inputs: [self]) { [shape] gradient in
            [Tensor(shape: shape, scalars: Tensor.moveSlices(gradient.scalars, shape: shape, axis: axis, positions: positions, scatter: true))]
        }
    }

    /// Elements `start..<end` by `step` along `axis`, with Python/torch clamping and negative bounds.
    public func slice(axis: Int, start: Int? = nil, end: Int? = nil, step: Int = 1) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "slice")
        precondition(step > 0, "slice: step \(step) must be positive (shape \(shape))")
        let length = shape[axis]
        func clamp(_ bound: Int?, _ fallback: Int) -> Int {
            guard let bound else { return fallback }
            return Swift.min(Swift.max(bound < 0 ? bound + length : bound, 0), length)
        }
        let from = clamp(start, 0), to = clamp(end, length)
        return select(axis: axis, positions: Array(stride(from: from, to: Swift.max(from, to), by: step)))
    }

    /// Elements in `range` by `step` along `axis`.
    public func slice(axis: Int, _ range: Range<Int>, step: Int = 1) -> Tensor {
        slice(axis: axis, start: range.lowerBound, end: range.upperBound, step: step)
    }

    /// Integer positions from an index tensor, checked against `length`.
    func positions(from indices: Tensor, length: Int, op: String) -> [Int] {
        precondition(indices.dtype.isIntegral, "\(op): indices must be an integer tensor, got \(indices.dtype.rawValue)")
        return indices.integers.map { value in
            precondition(value >= -Int64(length) && value < Int64(length),
                         "\(op): index \(value) is out of range for size \(length) (shape \(shape))")
            return Int(value < 0 ? value + Int64(length) : value)
        }
    }

    /// Slices along `axis` picked by a 1-D integer tensor, as torch.index_select.
    public func indexSelect(axis: Int, indices: Tensor) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "indexSelect")
        precondition(indices.rank <= 1, "indexSelect: indices must be 1-D, got shape \(indices.shape) (input \(shape))")
        return select(axis: axis, positions: positions(from: indices, length: shape[axis], op: "indexSelect"))
    }

    /// Joins tensors along `axis`; all other axes must agree.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat: needs at least one tensor")
        let first = tensors[0].shape
        let axis = Shape.axis(axis, rank: first.count, op: "concat")
        for tensor in tensors {
            var a = tensor.shape, b = first
            precondition(a.count == b.count, "concat: shapes \(first) and \(tensor.shape) differ in rank")
            a[axis] = 0; b[axis] = 0
            precondition(a == b, "concat: shapes \(first) and \(tensor.shape) differ off axis \(axis)")
        }
        let (outer, _, inner) = Shape.split(first, at: axis)
        var target = first
        target[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
        var values: [Float] = []
        values.reserveCapacity(Shape.count(target))
        let sources = tensors.map(\.scalars), blocks = tensors.map { $0.shape[axis] * inner }
        for outerIndex in 0..<outer {
            for (source, block) in zip(sources, blocks) {
                values.append(contentsOf: source[(outerIndex * block)..<((outerIndex + 1) * block)])
            }
        }
        let sizes = tensors.map { $0.shape[axis] }
        return .result(shape: target, scalars: values, inputs: tensors) { gradient in
            var start = 0
            return sizes.map { size in
                defer { start += size }
                return gradient.slice(axis: axis, start: start, end: start + size)
            }
        }
    }

    /// Stacks equal-shaped tensors along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "stack: needs at least one tensor")
        let axis = Shape.axis(axis, rank: tensors[0].rank + 1, op: "stack")
        for tensor in tensors {
            precondition(tensor.shape == tensors[0].shape, "stack: shapes \(tensors[0].shape) and \(tensor.shape) differ")
        }
        return concat(tensors.map { $0.unsqueeze(axis: axis) }, axis: axis)
    }
}

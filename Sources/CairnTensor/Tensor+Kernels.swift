// The loops every elementwise op is built on. They are `@inline(__always)` so
// each op gets its own specialised loop with the closure inlined (release builds).

extension Tensor {
    /// Applies `body` to every element.
    @inline(__always)
    func mapScalars(_ body: (Float) -> Float) -> [Float] {
        let n = count
        return scalars.withUnsafeBufferPointer { input in
            [Float](unsafeUninitializedCapacity: n) { output, initialized in
                for index in 0..<n { output[index] = body(input[index]) }
                initialized = n
            }
        }
    }

    /// Combines two tensors elementwise with NumPy broadcasting. Equal shapes and
    /// scalar operands take flat loops; otherwise rows are walked with precomputed strides.
    @inline(__always)
    static func broadcastMap(_ a: Tensor, _ b: Tensor, op: String,
                             _ body: (Float, Float) -> Float) -> (shape: [Int], scalars: [Float]) {
        let shape = a.shape == b.shape ? a.shape : Shape.broadcast(a.shape, b.shape, op: op)
        let n = Shape.count(shape)
        let values = a.scalars.withUnsafeBufferPointer { pa in
            b.scalars.withUnsafeBufferPointer { pb in
                [Float](unsafeUninitializedCapacity: n) { output, initialized in
                    initialized = n
                    if n == 0 { return }
                    if a.count == n && b.count == n {
                        for index in 0..<n { output[index] = body(pa[index], pb[index]) }
                    } else if b.count == 1 && a.count == n {
                        let right = pb[0]
                        for index in 0..<n { output[index] = body(pa[index], right) }
                    } else if a.count == 1 && b.count == n {
                        let left = pa[0]
                        for index in 0..<n { output[index] = body(left, pb[index]) }
                    } else {
                        let stridesA = Shape.broadcastStrides(a.shape, to: shape)
                        let stridesB = Shape.broadcastStrides(b.shape, to: shape)
                        let inner = shape[shape.count - 1]
                        let stepA = stridesA[shape.count - 1], stepB = stridesB[shape.count - 1]
                        var rows = BroadcastRows(shape: shape, operandStrides: [stridesA, stridesB])
                        for rowStart in stride(from: 0, to: n, by: inner) {
                            // n > 0 here, so neither operand is empty and every base address exists.
                            let rowA = pa.baseAddress! + rows.offsets[0], rowB = pb.baseAddress! + rows.offsets[1]
                            let row = output.baseAddress! + rowStart
                            // Contiguous and constant rows get their own loops so they vectorise.
                            switch (stepA, stepB) {
                            case (1, 1): for column in 0..<inner { row[column] = body(rowA[column], rowB[column]) }
                            case (1, 0): let right = rowB[0]; for column in 0..<inner { row[column] = body(rowA[column], right) }
                            case (0, 1): let left = rowA[0]; for column in 0..<inner { row[column] = body(left, rowB[column]) }
                            default:
                                for column in 0..<inner { row[column] = body(rowA[column * stepA], rowB[column * stepB]) }
                            }
                            rows.advance()
                        }
                    }
                }
            }
        }
        return (shape, values)
    }

    /// Builds a gradient tensor of `gradient`'s shape from the outgoing gradient
    /// and the op's saved input and output values, element by element.
    @inline(__always)
    static func gradientMap(_ gradient: Tensor, _ input: [Float], _ output: [Float],
                            _ body: (_ gradient: Float, _ input: Float, _ output: Float) -> Float) -> Tensor {
        let n = gradient.count
        let values = gradient.scalars.withUnsafeBufferPointer { pg in
            input.withUnsafeBufferPointer { px in
                output.withUnsafeBufferPointer { py in
                    [Float](unsafeUninitializedCapacity: n) { result, initialized in
                        for index in 0..<n { result[index] = body(pg[index], px[index], py[index]) }
                        initialized = n
                    }
                }
            }
        }
        return Tensor(shape: gradient.shape, scalars: values)
    }

    /// Sums a broadcast gradient back down to `target` (the shape of an input).
    func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let leading = rank - target.count
        var axes = Array(0..<leading)
        for (index, size) in target.enumerated() where size == 1 && shape[leading + index] != 1 {
            axes.append(leading + index)
        }
        return sum(axes: axes, keepDims: true).reshape(target)
    }
}

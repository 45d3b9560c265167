#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The ops sequence models need beyond the classifier's: rsqrt and erf for normalisation and
// exact GELU, SiLU, masked fill and masked softmax for attention, splitting for fused projections.

extension Tensor {
    /// Elementwise 1/√x (torch.rsqrt).
    public func rsqrt() -> Tensor {
        let x = scalars, y = mapScalars { 1 / sqrtf($0) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, _, y in -0.5 * g * y * y * y }]
        }
    }

    /// Elementwise error function (torch.erf).
    public func erf() -> Tensor {
        let x = scalars, y = mapScalars { erff($0) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, x, _ in g * 1.128_379_2 * expf(-x * x) }]
        }
    }

    /// Elementwise x·σ(x) (torch's SiLU, also called swish).
    public func silu() -> Tensor {
        let x = scalars
        let y = mapScalars { $0 >= 0 ? $0 / (1 + expf(-$0)) : $0 * expf($0) / (1 + expf($0)) }
        return .result(shape: shape, scalars: y, inputs: [self]) { gradient in
            [Tensor.gradientMap(gradient, x, y) { g, x, _ in
                let s = x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x))
                return g * s * (1 + x * (1 - s))
            }]
        }
    }

    /// `value` where `mask` (any dtype, nonzero is true, broadcast to this shape) holds, this
    /// tensor elsewhere (torch's `masked_fill`); no gradient flows to the filled places.
    public func maskedFill(_ mask: Tensor, with value: Float) -> Tensor {
        let keep = mask.broadcast(to: shape).scalars.map { $0 == 0 }
        var y = scalars
        for index in y.indices where !keep[index] { y[index] = value }
        return .result(shape: shape, scalars: y, inputs: [self]) { [shape] gradient in
            var passed = gradient.scalars
            for index in passed.indices where !keep[index] { passed[index] = 0 }
            return [Tensor(shape: shape, scalars: passed)]
        }
    }

    /// Softmax along `axis` over the places `mask` leaves open: where `mask` (broadcast to this
    /// shape) is nonzero the probability is 0, as `softmax(x.masked_fill(mask, -inf))`. A lane
    /// masked everywhere gives NaN, as in torch.
    public func softmax(axis: Int, masking mask: Tensor) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "softmax")
        guard axis == rank - 1, rank >= 1 else { return maskedFill(mask, with: -.infinity).softmax(axis: axis) }
        return lastAxisSoftmax(masking: mask)
    }

    /// Softmax over the last axis that reads the mask in place through its broadcast strides
    /// (attention's case): no filled copy of the scores and no full-size copy of the mask.
    func lastAxisSoftmax(masking mask: Tensor) -> Tensor {
        precondition(Shape.broadcast(mask.shape, shape, op: "softmax(masking:)") == shape,
                     "softmax(masking:): mask shape \(mask.shape) does not broadcast to \(shape)")
        let length = shape[rank - 1], rows = length == 0 ? 0 : count / length
        let maskStrides = Shape.broadcastStrides(mask.shape, to: shape)
        let leading = Array(shape.dropLast())
        var y = [Float](repeating: 0, count: count)
        scalars.withUnsafeBufferPointer { input in
            mask.scalars.withUnsafeBufferPointer { closed in
                y.withUnsafeMutableBufferPointer { output in
                    var index = [Int](repeating: 0, count: leading.count)
                    for row in 0..<rows {
                        var maskBase = 0
                        for axis in leading.indices { maskBase += index[axis] * maskStrides[axis] }
                        let stride = maskStrides[rank - 1], base = row * length
                        var peak = -Float.infinity
                        for step in 0..<length where closed[maskBase + step * stride] == 0 { peak = Swift.max(peak, input[base + step]) }
                        var total: Float = 0
                        for step in 0..<length where closed[maskBase + step * stride] == 0 {
                            let exponential = expf(input[base + step] - peak)
                            output[base + step] = exponential
                            total += exponential
                        }
                        if peak == -.infinity {
                            for step in 0..<length { output[base + step] = .nan }  // nothing open, as torch
                        } else {
                            for step in 0..<length { output[base + step] /= total }
                        }
                        var axis = leading.count - 1
                        while axis >= 0 {
                            index[axis] += 1
                            if index[axis] < leading[axis] { break }
                            index[axis] = 0
                            axis -= 1
                        }
                    }
                }
            }
        }
        return .result(shape: shape, scalars: y, inputs: [self]) { [shape] gradient in
            var result = gradient.scalars
            y.withUnsafeBufferPointer { output in
                result.withUnsafeMutableBufferPointer { lane in
                    for row in 0..<rows {
                        let base = row * length
                        var dot: Float = 0
                        for step in 0..<length where output[base + step] != 0 { dot += lane[base + step] * output[base + step] }
                        for step in 0..<length { lane[base + step] = output[base + step] * (lane[base + step] - dot) }
                    }
                }
            }
            return [Tensor(shape: shape, scalars: result)]
        }
    }

    /// Pieces of `sizes` along `axis`, which must add up to its length (torch.split with a list).
    public func split(_ sizes: [Int], axis: Int) -> [Tensor] {
        let axis = Shape.axis(axis, rank: rank, op: "split")
        precondition(sizes.allSatisfy { $0 >= 0 } && sizes.reduce(0, +) == shape[axis],
                     "split: sizes \(sizes) do not add up to \(shape[axis]), axis \(axis) of \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return slice(axis: axis, start: start, end: start + size)
        }
    }

    /// `count` equal pieces along `axis`, whose length `count` must divide.
    public func chunk(_ count: Int, axis: Int) -> [Tensor] {
        let axis = Shape.axis(axis, rank: rank, op: "chunk")
        precondition(count > 0 && shape[axis] % count == 0, "chunk: \(count) pieces do not divide \(shape[axis]), axis \(axis) of \(shape)")
        return split([Int](repeating: shape[axis] / count, count: count), axis: axis)
    }

    /// The last two axes swapped (torch's `.mT`), for batched matrix products.
    public var mT: Tensor {
        precondition(rank >= 2, "mT: shape \(shape) has fewer than two axes")
        return transpose(-2, -1)
    }
}

extension Tensor {
    /// Layer normalisation over the trailing `weight.count` elements of each row, as
    /// `F.layer_norm` (biased variance, `eps` inside the square root), in one pass forward and
    /// one backward rather than a chain of reductions and broadcasts.
    public func layerNorm(weight: Tensor, bias: Tensor, eps: Float) -> Tensor {
        let width = weight.count
        precondition(width > 0 && bias.count == width && count % width == 0,
                     "layerNorm: shape \(shape) does not end in the \(width) normalised elements")
        let rows = count / width
        var y = [Float](repeating: 0, count: count)
        var normalized = [Float](repeating: 0, count: count)
        var inverseDeviation = [Float](repeating: 0, count: rows)
        scalars.withUnsafeBufferPointer { x in
            for row in 0..<rows {
                let base = row * width
                var mean: Float = 0
                for index in 0..<width { mean += x[base + index] }
                mean /= Float(width)
                var variance: Float = 0
                for index in 0..<width {
                    let centered = x[base + index] - mean
                    variance += centered * centered
                }
                variance /= Float(width)
                let inverse = 1 / (variance + eps).squareRoot()
                inverseDeviation[row] = inverse
                for index in 0..<width {
                    let value = (x[base + index] - mean) * inverse
                    normalized[base + index] = value
                    y[base + index] = value * weight.scalars[index] + bias.scalars[index]
                }
            }
        }
        return .result(shape: shape, scalars: y, inputs: [self, weight, bias]) { [shape, weightShape = weight.shape] gradient in
            var gradX = [Float](repeating: 0, count: rows * width)
            var gradWeight = [Float](repeating: 0, count: width), gradBias = [Float](repeating: 0, count: width)
            gradient.scalars.withUnsafeBufferPointer { g in
                for row in 0..<rows {
                    let base = row * width
                    var meanScaled: Float = 0, meanScaledTimesNormalized: Float = 0
                    for index in 0..<width {
                        let scaled = g[base + index] * weight.scalars[index]
                        meanScaled += scaled
                        meanScaledTimesNormalized += scaled * normalized[base + index]
                        gradWeight[index] += g[base + index] * normalized[base + index]
                        gradBias[index] += g[base + index]
                    }
                    meanScaled /= Float(width)
                    meanScaledTimesNormalized /= Float(width)
                    for index in 0..<width {
                        let scaled = g[base + index] * weight.scalars[index]
                        gradX[base + index] = inverseDeviation[row] * (scaled - meanScaled - normalized[base + index] * meanScaledTimesNormalized)
                    }
                }
            }
            return [Tensor(shape: shape, scalars: gradX), Tensor(shape: weightShape, scalars: gradWeight), Tensor(shape: weightShape, scalars: gradBias)]
        }
    }
}

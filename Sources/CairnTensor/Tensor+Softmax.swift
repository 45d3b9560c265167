#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Softmax and log-softmax along one axis, both shifted by the lane maximum so
// that large logits cannot overflow.

extension Tensor {
    /// Copies `values` and calls `body(lane, stride)` on every lane along `axis`
    /// of the copy, where `lane` points at the lane's first element.
    @inline(__always)
    static func transformLanes(_ values: [Float], shape: [Int], axis: Int,
                               _ body: (_ lane: UnsafeMutablePointer<Float>, _ base: Int, _ stride: Int) -> Void) -> [Float] {
        var result = values
        result.withUnsafeMutableBufferPointer { buffer in
            guard let start = buffer.baseAddress else { return }
            forEachLane(shape, axis: axis) { _, base, stride in body(start + base, base, stride) }
        }
        return result
    }

    /// The lane maximum and the sum of `exp(x - maximum)`; stores each exponential in place when asked.
    @inline(__always)
    static func shiftedExponentials(_ lane: UnsafeMutablePointer<Float>, stride: Int, length: Int,
                                    storeInPlace: Bool) -> (peak: Float, total: Float) {
        var peak = -Float.infinity
        for step in 0..<length { peak = Swift.max(peak, lane[step * stride]) }
        var total: Float = 0
        for step in 0..<length {
            let exponential = expf(lane[step * stride] - peak)
            if storeInPlace { lane[step * stride] = exponential }
            total += exponential
        }
        return (peak, total)
    }

    /// Softmax along `axis`.
    public func softmax(axis: Int) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "softmax")
        let length = shape[axis]
        let y = Tensor.transformLanes(scalars, shape: shape, axis: axis) { lane, _, stride in
            let total = Tensor.shiftedExponentials(lane, stride: stride, length: length, storeInPlace: true).total
            for step in 0..<length { lane[step * stride] /= total }
        }
        return .result(shape: shape, scalars: y, inputs: [self]) { [shape] gradient in
            let result = y.withUnsafeBufferPointer { output in
                Tensor.transformLanes(gradient.scalars, shape: shape, axis: axis) { lane, base, stride in
                    var dot: Float = 0
                    for step in 0..<length { dot += lane[step * stride] * output[base + step * stride] }
                    for step in 0..<length { lane[step * stride] = output[base + step * stride] * (lane[step * stride] - dot) }
                }
            }
            return [Tensor(shape: shape, scalars: result)]
        }
    }

    /// Log of the softmax along `axis`, computed without forming the softmax.
    public func logSoftmax(axis: Int) -> Tensor {
        let axis = Shape.axis(axis, rank: rank, op: "logSoftmax")
        let length = shape[axis]
        let y = Tensor.transformLanes(scalars, shape: shape, axis: axis) { lane, _, stride in
            let (peak, total) = Tensor.shiftedExponentials(lane, stride: stride, length: length, storeInPlace: false)
            let shift = peak + logf(total)
            for step in 0..<length { lane[step * stride] -= shift }
        }
        return .result(shape: shape, scalars: y, inputs: [self]) { [shape] gradient in
            let result = y.withUnsafeBufferPointer { output in
                Tensor.transformLanes(gradient.scalars, shape: shape, axis: axis) { lane, base, stride in
                    var total: Float = 0
                    for step in 0..<length { total += lane[step * stride] }
                    for step in 0..<length { lane[step * stride] -= expf(output[base + step * stride]) * total }
                }
            }
            return [Tensor(shape: shape, scalars: result)]
        }
    }
}

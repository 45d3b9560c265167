// 2-D convolution (im2col + `cairn_sgemm`) and pooling, on NCHW tensors.

/// The geometry of a sliding 2-D window over an NCHW input.
struct Window2D {
    let height: Int, width: Int, kernelHeight: Int, kernelWidth: Int
    let strideHeight: Int, strideWidth: Int, paddingHeight: Int, paddingWidth: Int

    var outputHeight: Int { (height + 2 * paddingHeight - kernelHeight) / strideHeight + 1 }
    var outputWidth: Int { (width + 2 * paddingWidth - kernelWidth) / strideWidth + 1 }

    /// Calls `body(outputIndex, kernelIndex, inputIndex)` for every in-bounds
    /// tap of every window; indices are within one channel plane.
    @inline(__always)
    func forEachTap(_ body: (_ output: Int, _ kernel: Int, _ input: Int) -> Void) {
        for outRow in 0..<outputHeight {
            for outColumn in 0..<outputWidth {
                for kernelRow in 0..<kernelHeight {
                    let row = outRow * strideHeight - paddingHeight + kernelRow
                    if row < 0 || row >= height { continue }
                    for kernelColumn in 0..<kernelWidth {
                        let column = outColumn * strideWidth - paddingWidth + kernelColumn
                        if column < 0 || column >= width { continue }
                        body(outRow * outputWidth + outColumn, kernelRow * kernelWidth + kernelColumn, row * width + column)
                    }
                }
            }
        }
    }
}

extension Tensor {
    /// 2-D cross-correlation as torch.conv2d: input NCHW, weight OIHW, optional bias [O].
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) -> Tensor {
        conv2d(weight: weight, bias: bias, stride: (stride, stride), padding: (padding, padding))
    }

    /// 2-D cross-correlation with separate (height, width) stride and padding.
    public func conv2d(weight: Tensor, bias: Tensor? = nil, stride: (Int, Int), padding: (Int, Int)) -> Tensor {
        precondition(rank == 4 && weight.rank == 4 && weight.shape[1] == shape[1],
                     "conv2d: input \(shape) and weight \(weight.shape) do not match (NCHW, OIHW)")
        precondition(stride.0 > 0 && stride.1 > 0 && padding.0 >= 0 && padding.1 >= 0,
                     "conv2d: stride \(stride) / padding \(padding) invalid")
        // Non-empty weights and images keep every buffer below non-empty (a zero batch runs no loop).
        precondition(weight.count > 0 && shape[1] > 0 && shape[2] > 0 && shape[3] > 0,
                     "conv2d: input \(shape) and weight \(weight.shape) must not have empty axes besides the batch")
        if let bias { precondition(bias.shape == [weight.shape[0]], "conv2d: bias \(bias.shape) for weight \(weight.shape)") }
        let (batch, channels, outChannels) = (shape[0], shape[1], weight.shape[0])
        let window = Window2D(height: shape[2], width: shape[3], kernelHeight: weight.shape[2],
                              kernelWidth: weight.shape[3], strideHeight: stride.0, strideWidth: stride.1,
                              paddingHeight: padding.0, paddingWidth: padding.1)
        precondition(window.outputHeight > 0 && window.outputWidth > 0,
                     "conv2d: kernel \(weight.shape) larger than padded input \(shape)")
        let plane = shape[2] * shape[3], outPlane = window.outputHeight * window.outputWidth
        let taps = channels * window.kernelHeight * window.kernelWidth
        var values = [Float](repeating: 0, count: batch * outChannels * outPlane)
        for image in 0..<batch {
            let columns = Tensor.im2col(scalars, offset: image * channels * plane, channels: channels, window: window)
            weight.scalars.withUnsafeBufferPointer { w in
                columns.withUnsafeBufferPointer { c in
                    values.withUnsafeMutableBufferPointer { out in
                        sgemm(transposeA: false, transposeB: false, m: outChannels, n: outPlane, k: taps,
                              w.baseAddress!, c.baseAddress!, out.baseAddress! + image * outChannels * outPlane,
                              accumulate: false)
                    }
                }
            }
            if let bias {
                let offsets = bias.scalars
                for channel in 0..<outChannels {
                    let base = (image * outChannels + channel) * outPlane, offset = offsets[channel]
                    for index in 0..<outPlane { values[base + index] += offset }
                }
            }
        }
        let inputs = [self, weight] + (bias.map { [$0] } ?? [])
        return .result(shape: [batch, outChannels, window.outputHeight, window.outputWidth], scalars: values,
                       inputs: inputs) { [self] gradient in
            var gradInput = [Float](repeating: 0, count: self.count)
            var gradWeight = [Float](repeating: 0, count: weight.count)
            var gradColumns = [Float](repeating: 0, count: taps * outPlane)
            for image in 0..<batch {
                let columns = Tensor.im2col(self.scalars, offset: image * channels * plane, channels: channels, window: window)
                gradient.scalars.withUnsafeBufferPointer { g in
                    let outgoing = g.baseAddress! + image * outChannels * outPlane
                    weight.scalars.withUnsafeBufferPointer { w in
                        columns.withUnsafeBufferPointer { c in
                            gradWeight.withUnsafeMutableBufferPointer { dw in  // dW += G · colsᵀ
                                sgemm(transposeA: false, transposeB: true, m: outChannels, n: taps, k: outPlane,
                                      outgoing, c.baseAddress!, dw.baseAddress!, accumulate: true)
                            }
                            gradColumns.withUnsafeMutableBufferPointer { dc in  // dcols = Wᵀ · G
                                sgemm(transposeA: true, transposeB: false, m: taps, n: outPlane, k: outChannels,
                                      w.baseAddress!, outgoing, dc.baseAddress!, accumulate: false)
                            }
                        }
                    }
                }
                Tensor.col2imAdd(gradColumns, into: &gradInput, offset: image * channels * plane,
                                 channels: channels, window: window)
            }
            var result: [Tensor?] = [Tensor(shape: self.shape, scalars: gradInput),
                                     Tensor(shape: weight.shape, scalars: gradWeight)]
            if bias != nil { result.append(gradient.sum(axes: [0, 2, 3])) }
            return result
        }
    }

    /// Unfolds one image into a [C·KH·KW, OH·OW] matrix of window taps (0 in the padding).
    static func im2col(_ input: [Float], offset: Int, channels: Int, window: Window2D) -> [Float] {
        let kernelArea = window.kernelHeight * window.kernelWidth
        let outPlane = window.outputHeight * window.outputWidth, plane = window.height * window.width
        var columns = [Float](repeating: 0, count: channels * kernelArea * outPlane)
        input.withUnsafeBufferPointer { source in
            columns.withUnsafeMutableBufferPointer { target in
                for channel in 0..<channels {
                    let from = offset + channel * plane, rowBase = channel * kernelArea
                    window.forEachTap { output, kernel, input in
                        target[(rowBase + kernel) * outPlane + output] = source[from + input]
                    }
                }
            }
        }
        return columns
    }

    /// Folds a column matrix back onto one image, adding overlapping taps.
    static func col2imAdd(_ columns: [Float], into image: inout [Float], offset: Int, channels: Int, window: Window2D) {
        let kernelArea = window.kernelHeight * window.kernelWidth
        let outPlane = window.outputHeight * window.outputWidth, plane = window.height * window.width
        columns.withUnsafeBufferPointer { source in
            image.withUnsafeMutableBufferPointer { target in
                for channel in 0..<channels {
                    let to = offset + channel * plane, rowBase = channel * kernelArea
                    window.forEachTap { output, kernel, input in
                        target[to + input] += source[(rowBase + kernel) * outPlane + output]
                    }
                }
            }
        }
    }

    private func poolingWindow(kernel: (Int, Int), stride: (Int, Int)?, padding: (Int, Int), op: String) -> Window2D {
        precondition(rank == 4, "\(op): input must be NCHW, got shape \(shape)")
        let stride = stride ?? kernel
        precondition(kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0
                        && padding.0 >= 0 && padding.0 <= kernel.0 / 2 && padding.1 >= 0 && padding.1 <= kernel.1 / 2,
                     "\(op): kernel \(kernel), stride \(stride), padding \(padding) invalid for shape \(shape)")
        let window = Window2D(height: shape[2], width: shape[3], kernelHeight: kernel.0, kernelWidth: kernel.1,
                              strideHeight: stride.0, strideWidth: stride.1,
                              paddingHeight: padding.0, paddingWidth: padding.1)
        precondition(window.outputHeight > 0 && window.outputWidth > 0, "\(op): kernel \(kernel) too large for shape \(shape)")
        return window
    }

    /// Max over square windows (stride defaults to the kernel size; padding never wins).
    public func maxPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        maxPool2d(kernel: (kernel, kernel), stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }

    /// Max over (height, width) windows (stride defaults to the kernel size; padding never wins).
    public func maxPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let window = poolingWindow(kernel: kernel, stride: stride, padding: padding, op: "maxPool2d")
        let planes = shape[0] * shape[1], plane = shape[2] * shape[3]
        let outPlane = window.outputHeight * window.outputWidth
        var values = [Float](repeating: -.infinity, count: planes * outPlane)
        var winners = [Int](repeating: -1, count: planes * outPlane)
        scalars.withUnsafeBufferPointer { input in
            for planeIndex in 0..<planes {
                let from = planeIndex * plane, to = planeIndex * outPlane
                window.forEachTap { output, _, tap in
                    let value = input[from + tap]
                    if winners[to + output] < 0 || value > values[to + output] || value.isNaN {
                        values[to + output] = value
                        winners[to + output] = from + tap
                    }
                }
            }
        }
        return .result(shape: [shape[0], shape[1], window.outputHeight, window.outputWidth], scalars: values,
                       inputs: [self]) { [shape] gradient in
            var result = [Float](repeating: 0, count: Shape.count(shape))
            let outgoing = gradient.scalars
            for (slot, winner) in winners.enumerated() { result[winner] += outgoing[slot] }
            return [Tensor(shape: shape, scalars: result)]
        }
    }

    /// Mean over square windows, padding counted as zeros (torch's count_include_pad=True).
    public func avgPool2d(kernel: Int, stride: Int? = nil, padding: Int = 0) -> Tensor {
        avgPool2d(kernel: (kernel, kernel), stride: stride.map { ($0, $0) }, padding: (padding, padding))
    }

    /// Mean over (height, width) windows, padding counted as zeros (torch's count_include_pad=True).
    public func avgPool2d(kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let window = poolingWindow(kernel: kernel, stride: stride, padding: padding, op: "avgPool2d")
        let planes = shape[0] * shape[1], plane = shape[2] * shape[3]
        let outPlane = window.outputHeight * window.outputWidth
        let divisor = Float(kernel.0 * kernel.1)
        var values = [Float](repeating: 0, count: planes * outPlane)
        scalars.withUnsafeBufferPointer { input in
            for planeIndex in 0..<planes {
                let from = planeIndex * plane, to = planeIndex * outPlane
                window.forEachTap { output, _, tap in values[to + output] += input[from + tap] }
            }
        }
        for index in values.indices { values[index] /= divisor }
        return .result(shape: [shape[0], shape[1], window.outputHeight, window.outputWidth], scalars: values,
                       inputs: [self]) { [shape] gradient in
            var result = [Float](repeating: 0, count: Shape.count(shape))
            let outgoing = gradient.scalars
            for planeIndex in 0..<planes {
                let from = planeIndex * plane, to = planeIndex * outPlane
                window.forEachTap { output, _, tap in result[from + tap] += outgoing[to + output] / divisor }
            }
            return [Tensor(shape: shape, scalars: result)]
        }
    }
}

/// Rows along axis 0 that keep their dtype exactly: what datasets cut examples out of and what
/// a collate stacks them back into. Results are leaves (no gradient flows through data).
extension Tensor {
    /// Rows `range` of axis 0, same dtype and exact bytes.
    public func rows(_ range: Range<Int>) -> Tensor {
        precondition(rank >= 1, "rows: a tensor of shape \(shape) has no axis 0")
        precondition(range.lowerBound >= 0 && range.upperBound <= shape[0], "rows: \(range) is outside 0..<\(shape[0])")
        let rowCount = shape.dropFirst().reduce(1, *)
        var rowShape = shape
        rowShape[0] = range.count
        let elements = (range.lowerBound * rowCount)..<(range.upperBound * rowCount)
        guard let exactBytes else {
            return Tensor(shape: rowShape, dtype: dtype, scalars: Array(scalars[elements]), exactBytes: nil, name: nil,
                          requiresGrad: false, parents: [], gradientFunction: nil)
        }
        let width = dtype.byteSize
        return Tensor(shape: rowShape, dtype: dtype, scalars: Array(scalars[elements]),
                      exactBytes: Array(exactBytes[(elements.lowerBound * width)..<(elements.upperBound * width)]), name: nil,
                      requiresGrad: false, parents: [], gradientFunction: nil)
    }

    /// The single row `index` of axis 0, without that axis (shape `shape.dropFirst()`).
    public func row(_ index: Int) -> Tensor {
        let picked = rows(index..<(index + 1))
        return Tensor(shape: Array(shape.dropFirst()), dtype: dtype, scalars: picked.scalars, exactBytes: picked.exactBytes,
                      name: nil, requiresGrad: false, parents: [], gradientFunction: nil)
    }

    /// Tensors of one shape and dtype stacked on a new axis 0, same dtype and exact bytes.
    public static func stackRows(_ tensors: [Tensor]) -> Tensor {
        precondition(!tensors.isEmpty, "stackRows: needs at least one tensor")
        let first = tensors[0]
        precondition(tensors.allSatisfy { $0.shape == first.shape && $0.dtype == first.dtype },
                     "stackRows: tensors differ in shape or dtype")
        var scalars: [Float] = []
        scalars.reserveCapacity(tensors.count * first.count)
        for tensor in tensors { scalars += tensor.scalars }
        var exactBytes: [UInt8]?
        if first.exactBytes != nil {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(tensors.count * first.count * first.dtype.byteSize)
            for tensor in tensors { bytes += tensor.exactBytes ?? [] }
            exactBytes = bytes
        }
        return Tensor(shape: [tensors.count] + first.shape, dtype: first.dtype, scalars: scalars, exactBytes: exactBytes,
                      name: nil, requiresGrad: false, parents: [], gradientFunction: nil)
    }
}

extension Tensor {
    /// A `[count]` I64 tensor of `values` (tokens, class indices), exact whatever their size.
    public convenience init<Values: Collection<Int64>>(int64s values: Values) {
        let bytes = DType.i64.encode(integers: Array(values))
        self.init(shape: [values.count], dtype: .i64, scalars: values.map { Float($0) }, exactBytes: bytes, name: nil,
                  requiresGrad: false, parents: [], gradientFunction: nil)
    }
}

/// A dense, contiguous, row-major tensor that records the ops producing it so
/// that gradients can flow back to the leaves that require them.
///
/// Op results never change. Leaves (parameters, buffers) can be overwritten in
/// place with `assign(_:)` or `withUnsafeMutableScalars(_:)`, for optimizer
/// steps and checkpoint loading. Mutation, `backward()` and gradient updates on
/// one graph must not run concurrently, hence `@unchecked Sendable`.
public final class Tensor: @unchecked Sendable {
    /// The size of each axis; `[]` for a scalar.
    public let shape: [Int]
    /// The storage type; every op computes in Float32.
    public let dtype: DType
    /// The element values as Float32, in row-major order (converted for non-F32 dtypes).
    public private(set) var scalars: [Float]
    /// An optional name used in error messages and checkpoints.
    public let name: String?
    /// Whether gradients are accumulated for this tensor (and flow through it).
    public var requiresGrad: Bool
    /// The accumulated gradient of the last `backward()` calls; set to `nil` to zero it.
    public var grad: Tensor?

    /// The exact little-endian bytes of a non-F32 tensor (F32 tensors rebuild them from `scalars`).
    private(set) var exactBytes: [UInt8]?
    /// The inputs this tensor was computed from, when it is part of a graph.
    let parents: [Tensor]
    /// Maps the gradient of this tensor to the gradients of `parents` (nil where none flows).
    let gradientFunction: ((Tensor) -> [Tensor?])?

    init(shape: [Int], dtype: DType, scalars: [Float], exactBytes: [UInt8]?, name: String?,
         requiresGrad: Bool, parents: [Tensor], gradientFunction: ((Tensor) -> [Tensor?])?) {
        self.shape = shape
        self.dtype = dtype
        self.scalars = scalars
        self.exactBytes = exactBytes
        self.name = name
        self.requiresGrad = requiresGrad
        self.parents = parents
        self.gradientFunction = gradientFunction
    }

    /// A Float32 tensor from row-major values.
    public convenience init(shape: [Int], scalars: [Float], requiresGrad: Bool = false, name: String? = nil) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: shape \(shape) has a negative dimension")
        precondition(Shape.count(shape) == scalars.count,
                     "Tensor: shape \(shape) needs \(Shape.count(shape)) values, got \(scalars.count)")
        self.init(shape: shape, dtype: .f32, scalars: scalars, exactBytes: nil, name: name,
                  requiresGrad: requiresGrad, parents: [], gradientFunction: nil)
    }

    /// A Float32 scalar (shape `[]`).
    public convenience init(_ value: Float, requiresGrad: Bool = false) {
        self.init(shape: [], scalars: [value], requiresGrad: requiresGrad)
    }

    /// An integer tensor (I64 by default) holding `indices`, for index ops and labels.
    public convenience init(indices: [Int], shape: [Int]? = nil, dtype: DType = .i64) {
        let shape = shape ?? [indices.count]
        precondition(Shape.count(shape) == indices.count,
                     "Tensor(indices:): shape \(shape) needs \(Shape.count(shape)) values, got \(indices.count)")
        precondition(dtype.isIntegral, "Tensor(indices:): dtype \(dtype.rawValue) is not an integer type")
        let values = indices.map { Int64($0) }
        let bytes = dtype.encode(integers: values)
        self.init(shape: shape, dtype: dtype, scalars: dtype.decodeFloats(bytes, count: values.count),
                  exactBytes: bytes, name: nil, requiresGrad: false, parents: [], gradientFunction: nil)
    }

    /// A tensor of any dtype from little-endian bytes; throws if the byte count
    /// disagrees with the shape and dtype, or if the shape overflows.
    public convenience init(dtype: DType, shape: [Int], bytes: [UInt8], name: String? = nil) throws {
        let label = name ?? "<unnamed>"
        let count = try Shape.checkedCount(shape, tensor: label)
        let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw TensorError.shapeOverflow(tensor: label, shape: shape) }
        guard expected == bytes.count else {
            throw TensorError.byteCountMismatch(tensor: label, dtype: dtype, shape: shape,
                                                expected: expected, actual: bytes.count)
        }
        self.init(shape: shape, dtype: dtype, scalars: dtype.decodeFloats(bytes, count: count),
                  exactBytes: dtype == .f32 ? nil : bytes, name: name,
                  requiresGrad: false, parents: [], gradientFunction: nil)
    }

    /// Number of elements.
    public var count: Int { scalars.count }
    /// Number of axes.
    public var rank: Int { shape.count }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "item: tensor of shape \(shape) has \(count) elements")
        return scalars[0]
    }

    /// The elements as integers (exact for integer dtypes; floats truncate toward zero).
    public var integers: [Int64] {
        if let exactBytes { return dtype.decodeIntegers(exactBytes, count: count) }
        return DType.f32.decodeIntegers(rawBytes, count: count)
    }

    /// The elements as little-endian bytes of `dtype`.
    public var rawBytes: [UInt8] {
        if let exactBytes { return exactBytes }
        return scalars.withUnsafeBytes { raw in
            var bytes = [UInt8](raw)
            // Stored natively; only big-endian hosts need their words swapped.
            if 1.littleEndian != 1 {
                for index in stride(from: 0, to: bytes.count, by: 4) { bytes[index..<index + 4].reverse() }
            }
            return bytes
        }
    }

    /// Calls `body` with the little-endian bytes of the elements.
    public func withUnsafeRawBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try rawBytes.withUnsafeBytes(body)
    }

    /// This tensor stored as `dtype` (floats to integers truncate toward zero and
    /// saturate; any non-zero value becomes true). Only conversion to F32 carries
    /// a gradient, since every op computes in F32.
    public func to(_ target: DType) -> Tensor {
        if target == dtype { return self }
        let bytes = dtype.isIntegral
            ? target.encode(integers: integers)
            : target.encode(doubles: exactBytes.map { dtype.decodeDoubles($0, count: count) } ?? scalars.map { Double($0) })
        let values = target.decodeFloats(bytes, count: count)
        guard target == .f32 else {
            return Tensor(shape: shape, dtype: target, scalars: values, exactBytes: bytes, name: name,
                          requiresGrad: false, parents: [], gradientFunction: nil)
        }
        return Tensor.result(shape: shape, scalars: values, inputs: [self]) { [dtype] gradient in
            [dtype.isFloatingPoint ? gradient : nil]
        }
    }

    /// Overwrites the values of this leaf with `source` (same shape, converted to
    /// this tensor's dtype), as torch's `copy_` under no_grad. A graph recorded
    /// before the update still reads the new values, so update only between steps.
    public func assign(_ source: Tensor) {
        precondition(source.shape == shape, "assign: shapes \(shape) and \(source.shape) differ")
        precondition(gradientFunction == nil, "assign: tensor of shape \(shape) is an op result, not a leaf")
        let converted = source.to(dtype)
        scalars = converted.scalars
        exactBytes = converted.exactBytes
    }

    /// Lets `body` rewrite the values of this F32 leaf in place (e.g. a fused optimizer update).
    public func withUnsafeMutableScalars<Result>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> Result
    ) rethrows -> Result {
        precondition(dtype == .f32, "withUnsafeMutableScalars: tensor is \(dtype.rawValue), not F32")
        precondition(gradientFunction == nil, "withUnsafeMutableScalars: tensor of shape \(shape) is an op result")
        return try scalars.withUnsafeMutableBufferPointer(body)
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, value: 0, requiresGrad: requiresGrad)
    }

    /// A tensor of ones.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, value: 1, requiresGrad: requiresGrad)
    }

    /// A tensor with every element equal to `value`.
    public static func full(_ shape: [Int], value: Float, requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, scalars: [Float](repeating: value, count: Shape.count(shape)), requiresGrad: requiresGrad)
    }

    /// The values 0, 1, …, n-1 as Float32.
    public static func arange(_ n: Int) -> Tensor {
        Tensor(shape: [n], scalars: (0..<n).map { Float($0) })
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(\(dtype.rawValue) \(shape): [\(preview)\(count > 8 ? ", …" : "")])"
    }
}

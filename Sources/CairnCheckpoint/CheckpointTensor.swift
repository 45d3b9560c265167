/// Element types of stored tensors, spelled as safetensors spells them.
public enum CheckpointDType: String, Sendable, CaseIterable, Codable {
    case f32 = "F32", f64 = "F64", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

/// Memory owned elsewhere (a model's parameter, a staging buffer) that a
/// checkpoint can save without copying it into the tree first.
public protocol CheckpointTensorStorage: Sendable {
    /// Lends the bytes: little-endian, row-major, exactly the tensor's byte count.
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R
}

/// A tensor leaf of a checkpoint tree: dtype, shape and where its bytes live.
public struct CheckpointTensor: Sendable {
    /// Where a tensor's bytes live.
    public enum Storage: Sendable {
        /// Bytes owned by the tree.
        case bytes([UInt8])
        /// Bytes lent on demand, e.g. by a model or by an open checkpoint file.
        case external(any CheckpointTensorStorage)
    }

    public var dtype: CheckpointDType
    public var shape: [Int]
    public var storage: Storage
    /// Promise that the bytes stay unchanged until an async save of them ends,
    /// so the saver may skip copying them into its staging buffer.
    public var isImmutableUntilSaved: Bool

    /// A tensor owning `bytes`; their count must match shape and dtype.
    public init(dtype: CheckpointDType, shape: [Int], bytes: [UInt8]) {
        let expected = Self.byteCount(dtype: dtype, shape: shape)
        precondition(expected == bytes.count,
                     "CheckpointTensor(bytes:): \(bytes.count) bytes for \(dtype.rawValue) of shape \(shape), expected \(expected.map(String.init) ?? "overflow")")
        self.init(dtype: dtype, shape: shape, storage: .bytes(bytes))
    }

    /// A tensor whose bytes stay in `storage` until saved.
    public init(dtype: CheckpointDType, shape: [Int], storage: Storage, isImmutableUntilSaved: Bool = false) {
        precondition(shape.allSatisfy { $0 >= 0 }, "CheckpointTensor: negative dimension in shape \(shape)")
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
        self.isImmutableUntilSaved = isImmutableUntilSaved
    }

    /// A tensor of scalars copied from an array of a matching fixed-width type.
    public init<Element: FixedWidthInteger>(dtype: CheckpointDType, shape: [Int], elements: [Element]) {
        self.init(dtype: dtype, shape: shape, bytes: elements.withUnsafeBytes { Array($0) })
    }

    /// A `F32` tensor copied from `values`.
    public init(float32 values: [Float], shape: [Int]) {
        self.init(dtype: .f32, shape: shape, bytes: values.withUnsafeBytes { Array($0) })
    }

    /// Number of elements; 1 for a 0-d tensor.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Bytes the tensor occupies.
    public var byteCount: Int { elementCount * dtype.byteWidth }

    /// Shape and dtype's byte count, or `nil` if it overflows `Int`.
    static func byteCount(dtype: CheckpointDType, shape: [Int]) -> Int? {
        var total = dtype.byteWidth
        for dimension in shape {
            guard dimension >= 0 else { return nil }
            let (product, overflow) = total.multipliedReportingOverflow(by: dimension)
            if overflow { return nil }
            total = product
        }
        return total
    }

    /// Lends the bytes, reading them first if the tensor comes from a file.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        switch storage {
        case let .bytes(bytes): return try bytes.withUnsafeBytes(body)
        case let .external(provider): return try provider.withUnsafeBytes(body)
        }
    }

    /// A copy of the bytes.
    public func bytes() throws -> [UInt8] {
        try withUnsafeBytes { Array($0) }
    }

    /// The elements as `Float`s (for `F32` tensors).
    public func float32s() throws -> [Float] {
        precondition(dtype == .f32, "CheckpointTensor.float32s: dtype is \(dtype.rawValue), not F32")
        return try withUnsafeBytes { raw in
            (0..<raw.count / 4).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
    }
}

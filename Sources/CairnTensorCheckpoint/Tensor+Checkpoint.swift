import CairnCheckpoint
import CairnTensor

// The tensor engine and the checkpoint engine know nothing of each other;
// this is where a model's tensors meet the checkpoint tree.

extension Tensor: CheckpointTensorStorage {
    /// Lends the tensor's little-endian bytes to a checkpoint save without copying them.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try withUnsafeRawBytes(body)
    }
}

extension CheckpointTensor {
    /// A checkpoint leaf that reads `tensor`'s bytes only when it is saved.
    ///
    /// Tensor values never change once made, so an async save may skip copying them.
    public init(_ tensor: Tensor) {
        self.init(dtype: CheckpointDType(tensor.dtype), shape: tensor.shape,
                  storage: .external(tensor), isImmutableUntilSaved: true)
    }
}

extension CheckpointDType {
    /// The checkpoint spelling of a tensor dtype (both use safetensors' names).
    public init(_ dtype: DType) {
        // Both enums list the same ten safetensors names; a test keeps them in step.
        self = CheckpointDType(rawValue: dtype.rawValue) ?? .f32
    }
}

extension DType {
    /// The tensor dtype of a checkpoint dtype.
    public init(_ dtype: CheckpointDType) {
        self = DType(rawValue: dtype.rawValue) ?? .f32
    }
}

extension Tensor {
    /// A tensor holding a checkpoint leaf's bytes; `name` (its path) appears in errors.
    public convenience init(_ tensor: CheckpointTensor, name: String? = nil) throws {
        let bytes = try tensor.bytes()
        try self.init(dtype: DType(tensor.dtype), shape: tensor.shape, bytes: bytes, name: name)
    }
}

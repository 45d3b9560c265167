/// Errors raised when tensor data coming from outside the program (bytes, files,
/// saved generator state) does not describe a valid tensor.
public enum TensorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A dimension in a shape read from data is negative.
    case negativeDimension(tensor: String, shape: [Int])
    /// The element count (or byte count) of a shape does not fit in `Int`.
    case shapeOverflow(tensor: String, shape: [Int])
    /// The number of bytes supplied disagrees with the shape and dtype.
    case byteCountMismatch(tensor: String, dtype: DType, shape: [Int], expected: Int, actual: Int)
    /// A saved random-generator state has the wrong length or is all zeros.
    case invalidGeneratorState(words: Int)

    public var description: String {
        switch self {
        case let .negativeDimension(tensor, shape):
            "tensor \(tensor): shape \(shape) has a negative dimension"
        case let .shapeOverflow(tensor, shape):
            "tensor \(tensor): shape \(shape) has too many elements"
        case let .byteCountMismatch(tensor, dtype, shape, expected, actual):
            "tensor \(tensor): \(dtype.rawValue) \(shape) needs \(expected) bytes, got \(actual)"
        case let .invalidGeneratorState(words):
            "random generator state must be 4 words, not all zero (got \(words) words)"
        }
    }
}

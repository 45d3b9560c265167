/// The storage types a tensor can hold, named as safetensors names them.
///
/// Arithmetic runs in ``f32`` (and ``f64``); the other types exist so that state
/// such as an int64 `num_batches_tracked` or imported half-precision weights
/// round-trips through a checkpoint bit for bit.
public enum DType: String, CaseIterable, Sendable, Codable {
    case f32 = "F32"
    case f64 = "F64"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u8 = "U8"
    case bool = "BOOL"

    /// Bytes one element takes in memory and on disk.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: 8
        case .f32, .i32: 4
        case .f16, .bf16, .i16: 2
        case .i8, .u8, .bool: 1
        }
    }

    /// Whether values of this type are floating point.
    public var isFloatingPoint: Bool {
        switch self {
        case .f32, .f64, .f16, .bf16: true
        default: false
        }
    }
}

import CairnCheckpoint
import Foundation

/// The repository's `Fixtures/lightning/<name>`.
func lightningFixture(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures/lightning/\(name)").standardized
}

/// A tensor's elements widened to `Double`, for comparing against JSON dumps.
func doubles(_ tensor: CheckpointTensor) throws -> [Double] {
    let bytes = try tensor.bytes()
    let width = tensor.dtype.byteWidth
    return (0..<tensor.elementCount).map { index in
        bytes.withUnsafeBytes { raw -> Double in
            let offset = index * width
            switch tensor.dtype {
            case .f32: return Double(raw.loadUnaligned(fromByteOffset: offset, as: Float.self))
            case .f64: return raw.loadUnaligned(fromByteOffset: offset, as: Double.self)
            case .f16: return Double(halfToFloat(raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
            case .bf16: return Double(Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) << 16))
            case .i64: return Double(raw.loadUnaligned(fromByteOffset: offset, as: Int64.self))
            case .i32: return Double(raw.loadUnaligned(fromByteOffset: offset, as: Int32.self))
            case .i16: return Double(raw.loadUnaligned(fromByteOffset: offset, as: Int16.self))
            case .i8: return Double(raw.loadUnaligned(fromByteOffset: offset, as: Int8.self))
            case .u8, .bool: return Double(raw[offset])
            }
        }
    }
}

/// IEEE half to float, by hand so the tests do not rely on `Float16` availability.
func halfToFloat(_ bits: UInt16) -> Float {
    let sign: Float = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F), mantissa = Float(bits & 0x3FF)
    if exponent == 0 { return sign * mantissa * powf(2, -24) }
    if exponent == 31 { return mantissa == 0 ? sign * .infinity : .nan }
    return sign * (1 + mantissa / 1024) * powf(2, Float(exponent - 15))
}

import Crypto

/// Anything that hands out a tensor's elements as `Double`s, a block at a time.
public protocol TensorElementSource: AnyObject {
    /// Up to `limit` further elements; empty once the tensor is exhausted.
    func next(limit: Int) throws -> [Double]
}

/// Elements decoded from bytes lent in place (valid only while the lender's closure runs).
final class LentElementCursor: TensorElementSource {
    private let raw: UnsafeRawBufferPointer
    private let dtype: CheckpointDType
    private var offset = 0

    init(raw: UnsafeRawBufferPointer, dtype: CheckpointDType) {
        self.raw = raw
        self.dtype = dtype
    }

    func next(limit: Int) throws -> [Double] {
        let width = dtype.byteWidth
        let count = min(limit, (raw.count - offset) / width)
        guard count > 0 else { return [] }
        let start = offset
        offset += count * width
        return (0..<count).map { TensorElementDecoding.element(raw, at: start + $0 * width, dtype: dtype) }
    }
}

/// Reads a stored tensor's elements as `Double`s in blocks, one chunk in
/// memory at a time, whatever its dtype (F16 and BF16 included), and checks
/// the tensor's SHA-256 once its last chunk is read.
public final class TensorElementStream: TensorElementSource {
    public let info: CheckpointTensorInfo
    private let reader: CheckpointReader
    private var nextChunk = 0
    /// Bytes read but not yet decoded: a chunk may end inside an element.
    private var pending: [UInt8] = []
    private var pendingStart = 0
    private var hasher = SHA256()

    public init(reader: CheckpointReader, info: CheckpointTensorInfo) {
        self.reader = reader
        self.info = info
    }

    /// Up to `limit` further elements; empty once the tensor is exhausted.
    public func next(limit: Int) throws -> [Double] {
        precondition(limit > 0, "TensorElementStream.next: limit \(limit) must be positive")
        let width = info.dtype.byteWidth
        while (pending.count - pendingStart) / width < limit, nextChunk < reader.chunkCount(of: info) {
            let chunk = try reader.chunkBytes(of: info, at: nextChunk)
            nextChunk += 1
            hasher.update(data: chunk)
            if nextChunk == reader.chunkCount(of: info) {
                let actual = hexString(hasher.finalize())
                guard actual == info.sha256 else {
                    throw CheckpointError.checksumMismatch(file: reader.file, path: info.path.description, expected: info.sha256, actual: actual)
                }
            }
            pending = Array(pending[pendingStart...]) + chunk
            pendingStart = 0
        }
        let available = (pending.count - pendingStart) / width
        let count = min(limit, available)
        let start = pendingStart
        pendingStart += count * width
        return pending.withUnsafeBytes { raw in
            (0..<count).map { TensorElementDecoding.element(raw, at: start + $0 * width, dtype: info.dtype) }
        }
    }
}

/// One element as stored: integers exactly (an Int64 beyond 2⁵³ survives), floats as `Double`, booleans.
public enum TensorElementValue: Sendable, Equatable {
    case integer(Int64)
    case float(Double)
    case bool(Bool)
}

/// Turns little-endian element bytes into `Double`s.
public enum TensorElementDecoding {
    /// The element of `dtype` at `offset` in `raw`, integers exactly.
    public static func value(_ raw: UnsafeRawBufferPointer, at offset: Int, dtype: CheckpointDType) -> TensorElementValue {
        switch dtype {
        case .i64: return .integer(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
        case .i32: return .integer(Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int32.self))))
        case .i16: return .integer(Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int16.self))))
        case .i8: return .integer(Int64(raw.load(fromByteOffset: offset, as: Int8.self)))
        case .u8: return .integer(Int64(raw[offset]))
        case .bool: return .bool(raw[offset] != 0)
        case .f64, .f32, .f16, .bf16: return .float(element(raw, at: offset, dtype: dtype))
        }
    }

    /// The element of `dtype` stored at `offset` in `raw`.
    public static func element(_ raw: UnsafeRawBufferPointer, at offset: Int, dtype: CheckpointDType) -> Double {
        switch dtype {
        case .f64: return Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
        case .f32: return Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
        case .f16: return halfToDouble(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        case .bf16:
            // bfloat16 is the upper half of a float32.
            let bits = UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self))) << 16
            return Double(Float(bitPattern: bits))
        case .i64: return Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int64.self)))
        case .i32: return Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
        case .i16: return Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int16.self)))
        case .i8: return Double(raw.load(fromByteOffset: offset, as: Int8.self))
        case .u8: return Double(raw[offset])
        case .bool: return raw[offset] == 0 ? 0 : 1
        }
    }

    /// IEEE 754 binary16 by hand: `Float16` is not available on every platform Swift targets.
    static func halfToDouble(_ bits: UInt16) -> Double {
        let sign: Double = bits & 0x8000 == 0 ? 1 : -1
        let exponent = Int((bits >> 10) & 0x1F)
        let fraction = Double(bits & 0x3FF)
        switch exponent {
        case 0: return sign * fraction * 0x1p-24
        case 31: return fraction == 0 ? sign * .infinity : .nan
        default: return sign * (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }
}

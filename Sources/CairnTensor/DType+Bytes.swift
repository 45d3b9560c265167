// Little-endian encoding of every storage dtype, and the half-precision
// conversions (round to nearest, ties to even) written out bit by bit so they
// behave the same on every platform, with or without a native Float16.

/// Bit-level conversions between Float32 and the two 16-bit float formats.
public enum HalfPrecision {
    /// IEEE binary16 bits of `value`, rounded to nearest even; NaN stays NaN.
    public static func halfBits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF)
        let mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF {
            return sign | 0x7C00 | (mantissa == 0 ? 0 : 0x200 | UInt16(truncatingIfNeeded: mantissa >> 13))
        }
        let halfExponent = exponent - 112
        if halfExponent >= 0x1F { return sign | 0x7C00 }
        if halfExponent >= 1 {
            // The carry of the rounding may ripple into the exponent, up to infinity: that is correct.
            var result = UInt32(halfExponent) << 10 | mantissa >> 13
            let rest = mantissa & 0x1FFF
            if rest > 0x1000 || (rest == 0x1000 && result & 1 == 1) { result += 1 }
            return sign | UInt16(truncatingIfNeeded: result)
        }
        let shift = 126 - exponent
        if shift > 24 { return sign }
        let full = mantissa | 0x80_0000
        var result = full >> UInt32(shift)
        let rest = full & ((1 << UInt32(shift)) - 1)
        let halfway: UInt32 = 1 << UInt32(shift - 1)
        if rest > halfway || (rest == halfway && result & 1 == 1) { result += 1 }
        return sign | UInt16(truncatingIfNeeded: result)
    }

    /// The Float32 value of IEEE binary16 bits (exact).
    public static func float(halfBits bits: UInt16) -> Float {
        let sign: UInt32 = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24
            return sign == 0 ? magnitude : -magnitude
        }
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// bfloat16 bits of `value`, rounded to nearest even; NaN stays (quiet) NaN.
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        let rounded = bits &+ 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// The Float32 value of bfloat16 bits (exact).
    public static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }
}

extension DType {
    /// Whether values of this type are read as integers (indices, masks).
    public var isIntegral: Bool { !isFloatingPoint }

    /// Decodes little-endian elements into Float32 compute values.
    func decodeFloats(_ bytes: [UInt8], count: Int) -> [Float] {
        if isIntegral { return decodeIntegers(bytes, count: count).map { Float($0) } }
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { index in
                switch self {
                case .f32: Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
                case .f64: Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))))
                case .f16: HalfPrecision.float(halfBits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
                default: HalfPrecision.float(bfloat16Bits: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self)))
                }
            }
        }
    }

    /// Decodes little-endian elements exactly as Double (floating types only).
    func decodeDoubles(_ bytes: [UInt8], count: Int) -> [Double] {
        if self == .f64 {
            return bytes.withUnsafeBytes { raw in
                (0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
            }
        }
        return decodeFloats(bytes, count: count).map { Double($0) }
    }

    /// Decodes little-endian elements as Int64; floating values truncate toward zero.
    func decodeIntegers(_ bytes: [UInt8], count: Int) -> [Int64] {
        if isFloatingPoint { return decodeDoubles(bytes, count: count).map(Self.saturatingInteger) }
        return bytes.withUnsafeBytes { raw in
            (0..<count).map { index in
                switch self {
                case .i64: Int64(littleEndian: raw.loadUnaligned(fromByteOffset: index * 8, as: Int64.self))
                case .i32: Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: index * 4, as: Int32.self)))
                case .i16: Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: index * 2, as: Int16.self)))
                case .i8: Int64(raw.load(fromByteOffset: index, as: Int8.self))
                case .u8: Int64(raw[index])
                default: raw[index] == 0 ? 0 : 1
                }
            }
        }
    }

    /// Encodes Double values; integer types truncate toward zero and saturate (NaN gives 0);
    /// BOOL is true for any non-zero value, as a C++ cast.
    func encode(doubles values: [Double]) -> [UInt8] {
        if self == .bool { return values.map { $0 != 0 ? 1 : 0 } }
        if isIntegral { return encode(integers: values.map(Self.saturatingInteger)) }
        var bytes = [UInt8](repeating: 0, count: values.count * byteSize)
        bytes.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                switch self {
                case .f64: raw.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 8, as: UInt64.self)
                case .f32: raw.storeBytes(of: Float(value).bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
                case .f16: raw.storeBytes(of: HalfPrecision.halfBits(Self.roundedToOdd(value)).littleEndian, toByteOffset: index * 2, as: UInt16.self)
                default: raw.storeBytes(of: HalfPrecision.bfloat16Bits(Self.roundedToOdd(value)).littleEndian, toByteOffset: index * 2, as: UInt16.self)
                }
            }
        }
        return bytes
    }

    /// Encodes Int64 values; narrower integer types wrap like a C cast, BOOL keeps non-zero as 1.
    func encode(integers values: [Int64]) -> [UInt8] {
        if isFloatingPoint { return encode(doubles: values.map { Double($0) }) }
        var bytes = [UInt8](repeating: 0, count: values.count * byteSize)
        bytes.withUnsafeMutableBytes { raw in
            for (index, value) in values.enumerated() {
                switch self {
                case .i64: raw.storeBytes(of: value.littleEndian, toByteOffset: index * 8, as: Int64.self)
                case .i32: raw.storeBytes(of: Int32(truncatingIfNeeded: value).littleEndian, toByteOffset: index * 4, as: Int32.self)
                case .i16: raw.storeBytes(of: Int16(truncatingIfNeeded: value).littleEndian, toByteOffset: index * 2, as: Int16.self)
                case .i8, .u8: raw[index] = UInt8(truncatingIfNeeded: value)
                default: raw[index] = value == 0 ? 0 : 1
                }
            }
        }
        return bytes
    }

    /// `value` as Float rounded to odd: inexact results keep a set last bit, so
    /// rounding again to F16 or BF16 gives the correctly rounded result.
    private static func roundedToOdd(_ value: Double) -> Float {
        let nearest = Float(value)
        guard nearest.isFinite, Double(nearest) != value else { return nearest }
        let towardZero = Double(nearest).magnitude > value.magnitude
            ? Float(sign: nearest.sign, exponent: 0, significand: nearest.magnitude.nextDown)
            : nearest
        return Float(bitPattern: towardZero.bitPattern | 1)
    }

    private static func saturatingInteger(_ value: Double) -> Int64 {
        if value.isNaN { return 0 }
        if value >= 0x1p63 { return .max }
        if value < -0x1p63 { return .min }
        return Int64(value.rounded(.towardZero))
    }
}

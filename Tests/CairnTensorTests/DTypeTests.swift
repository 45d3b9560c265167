import Testing
@testable import CairnTensor

@Test func dtypeNamesFollowSafetensors() {
    #expect(DType(rawValue: "BF16") == .bf16)
    #expect(DType.i64.byteSize == 8)
    #expect(DType.allCases.count == 10)
}

@Suite struct DTypeBytesTests {
    /// Little-endian bytes of sample values for every dtype, written out by hand.
    static let samples: [(DType, [Int], [UInt8])] = [
        (.f32, [2], [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]),                   // 1, -2
        (.f64, [1], [0x9A, 0x99, 0x99, 0x99, 0x99, 0x99, 0xB9, 0x3F]),                   // 0.1
        (.f16, [2], [0x00, 0x3C, 0x55, 0x35]),                                           // 1, ≈1/3
        (.bf16, [2], [0x80, 0x3F, 0x49, 0x40]),                                          // 1, ≈3.14
        (.i64, [1], [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),                   // Int64.max
        (.i32, [2], [0xFE, 0xFF, 0xFF, 0xFF, 0x05, 0x00, 0x00, 0x00]),                   // -2, 5
        (.i16, [2], [0x00, 0x80, 0x01, 0x00]),                                           // -32768, 1
        (.i8, [3], [0x80, 0x7F, 0x00]),                                                  // -128, 127, 0
        (.u8, [2, 2], [0, 1, 200, 255]),
        (.bool, [3], [1, 0, 1]),
    ]

    @Test(arguments: samples.map { $0.0 })
    func bytesRoundTripExactly(dtype: DType) throws {
        let (_, shape, bytes) = Self.samples.first { $0.0 == dtype }!
        let tensor = try Tensor(dtype: dtype, shape: shape, bytes: bytes, name: "sample")
        #expect(tensor.dtype == dtype)
        #expect(tensor.shape == shape)
        #expect(tensor.rawBytes == bytes)
        tensor.withUnsafeRawBytes { #expect(Array($0) == bytes) }
        // Through F64 and back is exact for every type but I64 beyond 2^53.
        if dtype != .i64 { #expect(tensor.to(.f64).to(dtype).rawBytes == bytes) }
    }

    @Test func decodedValues() throws {
        #expect(try Tensor(dtype: .i32, shape: [2], bytes: [0xFE, 0xFF, 0xFF, 0xFF, 5, 0, 0, 0]).scalars == [-2, 5])
        #expect(try Tensor(dtype: .i64, shape: [1], bytes: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]).integers == [.max])
        #expect(try Tensor(dtype: .f16, shape: [2], bytes: [0x00, 0x3C, 0x55, 0x35]).scalars[0] == 1)
        #expect(try Tensor(dtype: .bf16, shape: [2], bytes: [0x80, 0x3F, 0x49, 0x40]).scalars[1] == 3.140_625)
    }

    @Test func conversions() {
        let x = Tensor(shape: [5], scalars: [-2.7, -0.5, 0, 1.9, 300])
        #expect(x.to(.i64).integers == [-2, 0, 0, 1, 300])
        #expect(x.to(.u8).integers == [254, 0, 0, 1, 44])           // wraps like a C cast after truncation
        #expect(x.to(.bool).rawBytes == [1, 1, 0, 1, 1])
        #expect(x.to(.i32).to(.i8).integers == [-2, 0, 0, 1, 44])
        #expect(Tensor(shape: [1], scalars: [.nan]).to(.i32).integers == [0])
        #expect(Tensor(indices: [1 << 40]).to(.i32).integers == [0])
        #expect(Tensor(indices: [(1 << 53) + 1]).to(.i64).integers == [(1 << 53) + 1])
    }

    @Test func halfPrecisionRoundsToNearestEven() {
        #expect(HalfPrecision.halfBits(1) == 0x3C00)
        #expect(HalfPrecision.halfBits(-2) == 0xC000)
        #expect(HalfPrecision.halfBits(65504) == 0x7BFF)
        #expect(HalfPrecision.halfBits(65519) == 0x7BFF)              // below the halfway point to 65536
        #expect(HalfPrecision.halfBits(65520) == 0x7C00)              // halfway rounds to even: infinity
        #expect(HalfPrecision.halfBits(1.0 / 3) == 0x3555)
        #expect(HalfPrecision.halfBits(1 + 0x1p-11) == 0x3C00)        // tie, even stays
        #expect(HalfPrecision.halfBits(1 + 3 * 0x1p-11) == 0x3C02)    // tie, odd rounds up
        #expect(HalfPrecision.halfBits(0x1p-24) == 0x0001)            // smallest subnormal
        #expect(HalfPrecision.halfBits(0x1p-25) == 0x0000)            // tie with zero goes to zero
        #expect(HalfPrecision.halfBits(0x1.8p-25) == 0x0001)
        #expect(HalfPrecision.halfBits(0x1.ffcp-15) == 0x0400)        // subnormal tie rounding up into the normals
        #expect(HalfPrecision.halfBits(.infinity) == 0x7C00)
        #expect(HalfPrecision.float(halfBits: HalfPrecision.halfBits(.nan)).isNaN)
        #expect(HalfPrecision.halfBits(0x1.ff8p-15) == 0x03FF)        // largest subnormal, exact
        #expect(HalfPrecision.float(halfBits: 0x0001) == 0x1p-24)
        #expect(HalfPrecision.float(halfBits: 0xFBFF) == -65504)
    }

    @Test func bfloat16RoundsToNearestEven() {
        #expect(HalfPrecision.bfloat16Bits(1) == 0x3F80)
        #expect(HalfPrecision.bfloat16Bits(1 + 0x1p-8) == 0x3F80)     // tie, even stays
        #expect(HalfPrecision.bfloat16Bits(1 + 3 * 0x1p-8) == 0x3F82) // tie, odd rounds up
        #expect(HalfPrecision.bfloat16Bits(1 + 0x1.2p-8) == 0x3F81)
        #expect(HalfPrecision.bfloat16Bits(-.infinity) == 0xFF80)
        #expect(HalfPrecision.float(bfloat16Bits: HalfPrecision.bfloat16Bits(.nan)).isNaN)
        #expect(HalfPrecision.float(bfloat16Bits: 0x4049) == 3.140_625)
    }

    #if !(os(macOS) && arch(x86_64))
    @Test func halfBitsAgreeWithNativeFloat16() {
        var rng = RandomGenerator(seed: 11)
        for _ in 0..<20_000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            let expected = Float16(value)
            if expected.isNaN { continue }
            #expect(HalfPrecision.halfBits(value) == expected.bitPattern, "value \(value)")
            #expect(HalfPrecision.float(halfBits: expected.bitPattern) == Float(expected))
        }
    }
    #endif
}

@Test func f64ToHalfRoundsOnceNotTwice() throws {
    // Just above the halfway point between two halves; a plain Float step would land on the tie.
    let value = 1 + 0x1p-11 + 0x1p-40
    let bytes = withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }
    let tensor = try Tensor(dtype: .f64, shape: [1], bytes: bytes)
    #expect(tensor.to(.f16).rawBytes == [0x01, 0x3C])
    let bfloatValue = 1 + 0x1p-8 + 0x1p-40
    let bfloatBytes = withUnsafeBytes(of: bfloatValue.bitPattern.littleEndian) { Array($0) }
    #expect(try Tensor(dtype: .f64, shape: [1], bytes: bfloatBytes).to(.bf16).rawBytes == [0x81, 0x3F])
    #expect(try Tensor(dtype: .f64, shape: [1], bytes: withUnsafeBytes(of: (-2.5).bitPattern.littleEndian) { Array($0) })
        .to(.f16).rawBytes == [0x00, 0xC1])
}

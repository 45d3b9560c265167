import CCairnKernels
import Testing

/// One matrix product to check: C[M×N] = A'·B' (+ C), with stored leading dimensions
/// that may exceed the logical row length.
struct SgemmCase: Sendable, CustomStringConvertible {
    var m: Int
    var n: Int
    var k: Int
    var transA = false
    var transB = false
    var accumulate = false
    /// Extra elements at the end of every stored row of A, B and C.
    var rowPadding = 0

    var description: String {
        "\(m)×\(k)·\(k)×\(n) tA=\(transA) tB=\(transB) acc=\(accumulate) pad=\(rowPadding)"
    }

    // Stored layouts: A is M×K (or K×M when transposed), B is K×N (or N×K).
    var aRows: Int { transA ? k : m }
    var aCols: Int { transA ? m : k }
    var bRows: Int { transB ? n : k }
    var bCols: Int { transB ? k : n }
    var lda: Int { aCols + rowPadding }
    var ldb: Int { bCols + rowPadding }
    var ldc: Int { n + rowPadding }
}

/// Deterministic pseudo-random floats in [-1, 1) so failures reproduce.
struct SplitMix64 {
    var state: UInt64

    mutating func nextFloat() -> Float {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D1_049B_B133_111B
        z ^= z >> 31
        return Float(z >> 40) / Float(1 << 23) - 1
    }

    mutating func matrix(rows: Int, stride: Int) -> [Float] {
        (0..<max(rows * stride, 1)).map { _ in nextFloat() }
    }
}

/// Inputs for one case, with C pre-filled so both accumulation and untouched padding can be checked.
struct SgemmOperands {
    let testCase: SgemmCase
    let a: [Float]
    let b: [Float]
    let initialC: [Float]

    init(testCase: SgemmCase, a: [Float], b: [Float], initialC: [Float]) {
        self.testCase = testCase
        self.a = a
        self.b = b
        self.initialC = initialC
    }

    init(_ testCase: SgemmCase, seed: UInt64 = 42) {
        var random = SplitMix64(state: seed)
        self.testCase = testCase
        a = random.matrix(rows: testCase.aRows, stride: testCase.lda)
        b = random.matrix(rows: testCase.bRows, stride: testCase.ldb)
        initialC = random.matrix(rows: testCase.m, stride: testCase.ldc)
    }

    /// Runs the product on `kernel` (nil: the dispatched one) and returns C.
    func run(kernel: Int32? = nil) -> [Float] {
        let t = testCase
        var c = initialC
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    let args = (Int32(t.transA ? 1 : 0), Int32(t.transB ? 1 : 0), Int64(t.m), Int64(t.n), Int64(t.k))
                    if let kernel {
                        let status = cairn_sgemm_using_kernel(
                            kernel, args.0, args.1, args.2, args.3, args.4,
                            a.baseAddress, Int64(t.lda), b.baseAddress, Int64(t.ldb),
                            c.baseAddress, Int64(t.ldc), t.accumulate ? 1 : 0)
                        precondition(status == 0, "kernel \(kernel) refused to run")
                    } else {
                        cairn_sgemm(
                            args.0, args.1, args.2, args.3, args.4,
                            a.baseAddress, Int64(t.lda), b.baseAddress, Int64(t.ldb),
                            c.baseAddress, Int64(t.ldc), t.accumulate ? 1 : 0)
                    }
                }
            }
        }
        return c
    }

    /// Checks `c` against a double-precision product: every element within the float32
    /// error bound for a K-term dot product, and padding columns left as they were.
    func expectMatchesReference(_ c: [Float], kernelName: String) {
        let t = testCase
        var failures = 0
        for i in 0..<t.m {
            for j in 0..<t.ldc {
                let index = i * t.ldc + j
                guard j < t.n else {
                    if c[index].bitPattern != initialC[index].bitPattern, failures < 5 {
                        failures += 1
                        Issue.record("\(kernelName) \(t): wrote padding C[\(i)][\(j)]")
                    }
                    continue
                }
                var exact = t.accumulate ? Double(initialC[index]) : 0
                var magnitude = t.accumulate ? abs(exact) : 0
                for p in 0..<t.k {
                    let aValue = Double(t.transA ? a[p * t.lda + i] : a[i * t.lda + p])
                    let bValue = Double(t.transB ? b[j * t.ldb + p] : b[p * t.ldb + j])
                    exact += aValue * bValue
                    magnitude += abs(aValue * bValue)
                }
                let tolerance = Double(Float.ulpOfOne) * Double(t.k + 2) * magnitude + 1e-30
                if abs(Double(c[index]) - exact) > tolerance, failures < 5 {
                    failures += 1
                    Issue.record("\(kernelName) \(t): C[\(i)][\(j)] = \(c[index]), expected \(exact) ± \(tolerance)")
                }
            }
        }
    }
}

/// Indices of the kernels this CPU can run (the portable one always among them).
func supportedKernels() -> [Int32] {
    (0..<cairn_sgemm_kernel_count()).filter { cairn_sgemm_kernel_is_supported($0) != 0 }
}

func kernelName(_ index: Int32) -> String {
    String(cString: cairn_sgemm_kernel_name_at(index))
}

let edgeCases: [SgemmCase] = [
    SgemmCase(m: 0, n: 5, k: 3),
    SgemmCase(m: 4, n: 0, k: 3),
    SgemmCase(m: 1, n: 1, k: 1),
    SgemmCase(m: 1, n: 1, k: 1, accumulate: true),
    SgemmCase(m: 1, n: 37, k: 5),
    SgemmCase(m: 29, n: 1, k: 7),
    SgemmCase(m: 3, n: 3, k: 1),
    SgemmCase(m: 12, n: 32, k: 16),
    SgemmCase(m: 6, n: 16, k: 9),
    SgemmCase(m: 13, n: 33, k: 17),
    SgemmCase(m: 25, n: 65, k: 3, rowPadding: 7),
    // Cross the kc block boundary (256 or 512 by kernel), so C is added to between blocks.
    SgemmCase(m: 14, n: 40, k: 300),
    SgemmCase(m: 14, n: 40, k: 530),
    SgemmCase(m: 14, n: 40, k: 530, accumulate: true),
    // Crosses the mc block boundary (at most 144 rows).
    SgemmCase(m: 151, n: 19, k: 11),
    // Crosses the nc (2048) block boundary.
    SgemmCase(m: 3, n: 2100, k: 5),
]

/// Every transpose and accumulate combination on awkward sizes and padded rows.
let transposeCases: [SgemmCase] = [(false, false), (true, false), (false, true), (true, true)].flatMap { transA, transB in
    [false, true].flatMap { accumulate in
        [
            SgemmCase(m: 23, n: 45, k: 31, transA: transA, transB: transB, accumulate: accumulate),
            SgemmCase(m: 7, n: 50, k: 520, transA: transA, transB: transB, accumulate: accumulate, rowPadding: 5),
        ]
    }
}

@Test(arguments: edgeCases + transposeCases)
func everyKernelMatchesDoublePrecisionProduct(_ testCase: SgemmCase) {
    let operands = SgemmOperands(testCase)
    for kernel in supportedKernels() {
        operands.expectMatchesReference(operands.run(kernel: kernel), kernelName: kernelName(kernel))
    }
    operands.expectMatchesReference(operands.run(), kernelName: "dispatched")
}

@Test func zeroDepthWritesZerosOrLeavesCWhenAccumulating() {
    for accumulate in [false, true] {
        let testCase = SgemmCase(m: 5, n: 6, k: 0, accumulate: accumulate, rowPadding: 2)
        let operands = SgemmOperands(testCase)
        for kernel in supportedKernels() {
            let c = operands.run(kernel: kernel)
            for i in 0..<testCase.m {
                for j in 0..<testCase.ldc {
                    let index = i * testCase.ldc + j
                    let expected = accumulate || j >= testCase.n ? operands.initialC[index] : 0
                    #expect(c[index].bitPattern == expected.bitPattern, "\(kernelName(kernel)) at [\(i)][\(j)]")
                }
            }
        }
    }
}

@Test func repeatedProductsAreBitIdentical() async {
    let operands = SgemmOperands(SgemmCase(m: 150, n: 70, k: 530, transB: true, accumulate: true))
    let first = operands.run().map(\.bitPattern)
    // Concurrent runs must not change the summation order either.
    let repeats = await withTaskGroup(of: [UInt32].self) { group in
        for _ in 0..<4 {
            group.addTask { operands.run().map(\.bitPattern) }
        }
        return await group.reduce(into: []) { $0.append($1) }
    }
    for result in repeats {
        #expect(result == first)
    }
}

@Test func dispatchedKernelIsNamedAndSupported() {
    let name = String(cString: cairn_sgemm_kernel_name())
    let supportedNames = supportedKernels().map(kernelName)
    #expect(supportedNames.contains(name))
    #expect(cairn_sgemm_kernel_is_supported(0) != 0)
    #expect(cairn_sgemm_kernel_name_at(cairn_sgemm_kernel_count()) == nil)
    #expect(cairn_sgemm_kernel_is_supported(-1) == 0)
    var c: [Float] = [7]
    let status = c.withUnsafeMutableBufferPointer { c in
        cairn_sgemm_using_kernel(cairn_sgemm_kernel_count(), 0, 0, 1, 1, 0, nil, 1, nil, 1, c.baseAddress, 1, 0)
    }
    #expect(status == -1)
    #expect(c == [7])
}

@Test func overwritingIgnoresWhateverCHeldBefore() {
    // Without accumulate, C is output only: NaN left in it must not leak into the result.
    let testCase = SgemmCase(m: 13, n: 35, k: 520)
    let clean = SgemmOperands(testCase)
    let poisoned = SgemmOperands(
        testCase: testCase, a: clean.a, b: clean.b,
        initialC: [Float](repeating: .nan, count: clean.initialC.count))
    for kernel in supportedKernels() {
        let expected = clean.run(kernel: kernel).map(\.bitPattern)
        #expect(poisoned.run(kernel: kernel).map(\.bitPattern) == expected, "\(kernelName(kernel))")
    }
}

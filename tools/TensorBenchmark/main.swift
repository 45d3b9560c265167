// Release-mode benchmark of CairnTensor ops. Each op is timed against a
// hand-written loop (or a direct `cairn_sgemm` call) doing the same work in the
// same run, and reported as a ratio, so the figures mean the same on any machine.
//
//     swift run -c release --scratch-path .build-release TensorBenchmark

import CCairnKernels
import CairnTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Best wall time in milliseconds over `repeats` runs of `body`.
func bestTime(repeats: Int = 7, _ body: () -> Void) -> Double {
    let clock = ContinuousClock()
    var best = Double.infinity
    for _ in 0..<repeats {
        let elapsed = clock.measure(body)
        best = Swift.min(best, Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1e3)
    }
    return best
}

/// Keeps results alive so the optimiser cannot drop the work.
var sink: Float = 0

func report(_ name: String, tensor: () -> Void, baseline: () -> Void) {
    let tensorTime = bestTime(tensor), baselineTime = bestTime(baseline)
    let ratio = tensorTime / baselineTime
    print("\(name.padding(toLength: 34, withPad: " ", startingAt: 0)) tensor \(String(format: "%8.3f", tensorTime)) ms"
          + "   baseline \(String(format: "%8.3f", baselineTime)) ms   ratio \(String(format: "%5.2f", ratio))")
}

/// A plain loop writing `body(i)` into a fresh array: the baseline for elementwise ops.
@inline(__always)
func baselineMap(_ count: Int, _ body: (Int) -> Float) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { output, initialized in
        for index in 0..<count { output[index] = body(index) }
        initialized = count
    }
}

var rng = RandomGenerator(seed: 1)
let n = 1 << 20
let a = Tensor.randn([1024, 1024], rng: &rng), b = Tensor.randn([1024, 1024], rng: &rng)
let bias = Tensor.randn([1024], rng: &rng)
let rawA = a.scalars, rawB = b.scalars, rawBias = bias.scalars

report("add [1024,1024] + [1024,1024]", tensor: { sink += (a + b).scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in rawB.withUnsafeBufferPointer { pb in sink += baselineMap(n) { pa[$0] + pb[$0] }[7] } }
})
report("add [1024,1024] + [1024] (bcast)", tensor: { sink += (a + bias).scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in rawBias.withUnsafeBufferPointer { pb in sink += baselineMap(n) { pa[$0] + pb[$0 & 1023] }[7] } }
})
report("mul by scalar", tensor: { sink += (a * 3).scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in sink += baselineMap(n) { pa[$0] * 3 }[7] }
})
report("relu", tensor: { sink += a.relu().scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in sink += baselineMap(n) { pa[$0] > 0 ? pa[$0] : 0 }[7] }
})
report("exp", tensor: { sink += a.exp().scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in sink += baselineMap(n) { expf(pa[$0]) }[7] }
})
report("sum(axis: 1)", tensor: { sink += a.sum(axis: 1).scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in
        sink += baselineMap(1024) { row in var total: Float = 0; for c in 0..<1024 { total += pa[row * 1024 + c] }; return total }[7]
    }
})
report("sum(axis: 0)", tensor: { sink += a.sum(axis: 0).scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in
        var totals = [Float](repeating: 0, count: 1024)
        for row in 0..<1024 { for c in 0..<1024 { totals[c] += pa[row * 1024 + c] } }
        sink += totals[7]
    }
})
report("max(axis: 1)", tensor: { sink += a.max(axis: 1).scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in
        sink += baselineMap(1024) { row in var best = -Float.infinity; for c in 0..<1024 { best = Swift.max(best, pa[row * 1024 + c]) }; return best }[7]
    }
})
report("softmax(axis: 1)", tensor: { sink += a.softmax(axis: 1).scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in
        var out = [Float](repeating: 0, count: n)
        for row in 0..<1024 {
            var peak = -Float.infinity
            for c in 0..<1024 { peak = Swift.max(peak, pa[row * 1024 + c]) }
            var total: Float = 0
            for c in 0..<1024 { let e = expf(pa[row * 1024 + c] - peak); out[row * 1024 + c] = e; total += e }
            for c in 0..<1024 { out[row * 1024 + c] /= total }
        }
        sink += out[7]
    }
})
report("transpose(0, 1)", tensor: { sink += a.transpose(0, 1).scalars[7] }, baseline: {
    rawA.withUnsafeBufferPointer { pa in sink += baselineMap(n) { pa[($0 & 1023) * 1024 + ($0 >> 10)] }[7] }
})

let m = Tensor.randn([256, 256], rng: &rng), m2 = Tensor.randn([256, 256], rng: &rng)
let rawM = m.scalars, rawM2 = m2.scalars
report("matmul [256,256]x[256,256]", tensor: { sink += m.matmul(m2).scalars[7] }, baseline: {
    var out = [Float](repeating: 0, count: 256 * 256)
    cairn_sgemm(0, 0, 256, 256, 256, rawM, 256, rawM2, 256, &out, 256, 0)
    sink += out[7]
})

let images = Tensor.randn([8, 16, 32, 32], rng: &rng), kernels = Tensor.randn([32, 16, 3, 3], rng: &rng)
let rawKernels = kernels.scalars, columns = [Float](repeating: 0.5, count: 144 * 1024)
report("conv2d [8,16,32,32] k3 p1 vs gemm", tensor: { sink += images.conv2d(weight: kernels, padding: 1).scalars[7] }, baseline: {
    var out = [Float](repeating: 0, count: 8 * 32 * 1024)
    out.withUnsafeMutableBufferPointer { o in
        for image in 0..<8 {
            cairn_sgemm(0, 0, 32, 1024, 144, rawKernels, 144, columns, 1024, o.baseAddress! + image * 32 * 1024, 1024, 0)
        }
    }
    sink += out[7]
})

// Whole training step of an MLP: forward + backward, against forward alone.
let x = Tensor.randn([128, 256], rng: &rng)
let w1 = Tensor.randn([256, 256], std: 0.05, rng: &rng, requiresGrad: true)
let w2 = Tensor.randn([256, 10], std: 0.05, rng: &rng, requiresGrad: true)
let labels = Tensor(indices: (0..<128).map { $0 % 10 }, shape: [128, 1])
func loss() -> Tensor { -x.matmul(w1).relu().matmul(w2).logSoftmax(axis: 1).gather(axis: 1, index: labels).mean() }
report("MLP step (fwd+bwd) vs fwd only", tensor: { w1.grad = nil; w2.grad = nil; loss().backward(); sink += w1.grad!.scalars[0] },
       baseline: { sink += withNoGrad { loss() }.item })
print("(sink \(sink))")

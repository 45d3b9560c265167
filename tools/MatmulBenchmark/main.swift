// Release-mode matmul benchmark: Cairn's SGEMM against numpy (OpenBLAS, one thread)
// on the same sizes, measured in the same invocation. Run with
// `swift run -c release MatmulBenchmark`.
import CCairnKernels
import Foundation

/// One product shape to time on both sides.
struct BenchmarkCase {
    var label: String
    var size: Int
    var transA = false
    var transB = false
}

let squareCases = [256, 512, 1024].map { BenchmarkCase(label: "\($0) A·B", size: $0) }
let transposedCases = [
    BenchmarkCase(label: "512 Aᵀ·B", size: 512, transA: true),
    BenchmarkCase(label: "512 A·Bᵀ", size: 512, transB: true),
]
let allCases = squareCases + transposedCases

/// Best-of timing: a couple of warm-up runs, then repeats until both a minimum count
/// and a minimum total time are reached, so small sizes get many samples.
func bestSeconds(minimumReps: Int = 5, minimumTotal: Double = 0.4, _ body: () -> Void) -> Double {
    body()
    body()
    var best = Double.infinity
    var total = 0.0
    var reps = 0
    while reps < minimumReps || total < minimumTotal {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        best = min(best, seconds)
        total += seconds
        reps += 1
    }
    return best
}

func gflops(size: Int, seconds: Double) -> Double {
    2 * pow(Double(size), 3) / seconds / 1e9
}

/// GFLOP/s of `cairn_sgemm` (or of kernel `kernel` when given) on one case.
func measureCairn(_ benchmark: BenchmarkCase, kernel: Int32? = nil) -> Double {
    let n = benchmark.size
    var generator = SystemRandomNumberGenerator()
    let a = (0..<n * n).map { _ in Float.random(in: -1...1, using: &generator) }
    let b = (0..<n * n).map { _ in Float.random(in: -1...1, using: &generator) }
    var c = [Float](repeating: 0, count: n * n)
    let transA: Int32 = benchmark.transA ? 1 : 0
    let transB: Int32 = benchmark.transB ? 1 : 0
    let seconds = a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
            c.withUnsafeMutableBufferPointer { c in
                bestSeconds {
                    let size = Int64(n)
                    if let kernel {
                        _ = cairn_sgemm_using_kernel(kernel, transA, transB, size, size, size,
                                                     a.baseAddress, size, b.baseAddress, size,
                                                     c.baseAddress, size, 0)
                    } else {
                        cairn_sgemm(transA, transB, size, size, size,
                                    a.baseAddress, size, b.baseAddress, size, c.baseAddress, size, 0)
                    }
                }
            }
        }
    }
    return gflops(size: n, seconds: seconds)
}

/// What the numpy side reported: GFLOP/s per case label plus its BLAS details.
struct NumpyReport: Decodable {
    var numpy: String
    var blas: String
    var corename: String?
    var threads: Int?
    var gflops: [String: Double]
}

// Same timing rules as `bestSeconds`; the transposes are numpy views, which
// numpy hands to BLAS as transpose flags rather than copying.
let numpyScript = """
import ctypes, json, os, sys, time
import numpy as np

def best_seconds(f, minimum_reps=5, minimum_total=0.4):
    f(); f()
    best, total, reps = float("inf"), 0.0, 0
    while reps < minimum_reps or total < minimum_total:
        start = time.perf_counter(); f(); t = time.perf_counter() - start
        best, total, reps = min(best, t), total + t, reps + 1
    return best

def blas_library():
    for line in open("/proc/self/maps"):
        path = line.split()[-1]
        if "openblas" in path.lower() and path.startswith("/"):
            return ctypes.CDLL(path)
    return None

def call_first(lib, names, restype):
    for name in names:
        f = getattr(lib, name, None) if lib else None
        if f is not None:
            f.restype = restype
            return f()
    return None

cases = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
results = {}
for label, n, ta, tb in cases:
    a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
    x = a.T if ta else a
    y = b.T if tb else b
    results[label] = 2 * n**3 / best_seconds(lambda: np.matmul(x, y)) / 1e9

lib = blas_library()
corename = call_first(lib, ["scipy_openblas_get_corename64_", "openblas_get_corename64_", "openblas_get_corename"], ctypes.c_char_p)
threads = call_first(lib, ["scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_", "openblas_get_num_threads"], ctypes.c_int)
config = call_first(lib, ["scipy_openblas_get_config64_", "openblas_get_config64_", "openblas_get_config"], ctypes.c_char_p)
print(json.dumps({
    "numpy": np.__version__,
    "blas": config.decode() if config else "unknown BLAS",
    "corename": corename.decode() if corename else None,
    "threads": threads,
    "gflops": results,
}))
"""

/// Runs the numpy side in a child `python3` limited to one OpenBLAS thread; nil
/// (with the reason on stderr) when python3 or numpy is unavailable.
/// `ownCoreDetection` drops OPENBLAS_CORETYPE so OpenBLAS picks its kernel by CPU.
func measureNumpy(_ cases: [BenchmarkCase], ownCoreDetection: Bool = false) -> NumpyReport? {
    let caseList = cases.map { "[\"\($0.label)\", \($0.size), \($0.transA ? "true" : "false"), \($0.transB ? "true" : "false")]" }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", numpyScript, "[\(caseList.joined(separator: ", "))]"]
    var environment = ProcessInfo.processInfo.environment
    environment["OPENBLAS_NUM_THREADS"] = "1"
    if ownCoreDetection {
        environment["OPENBLAS_CORETYPE"] = nil
    }
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    do {
        try process.run()
    } catch {
        FileHandle.standardError.write(Data("numpy side unavailable: cannot start python3 (\(error))\n".utf8))
        return nil
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        FileHandle.standardError.write(Data("numpy side unavailable: python3 exited with \(process.terminationStatus)\n".utf8))
        return nil
    }
    do {
        return try JSONDecoder().decode(NumpyReport.self, from: data)
    } catch {
        FileHandle.standardError.write(Data("numpy side unavailable: unreadable report (\(error))\n".utf8))
        return nil
    }
}

func column(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

func formatted(_ value: Double, digits: Int = 1) -> String {
    String(format: "%.\(digits)f", value)
}

let dispatched = String(cString: cairn_sgemm_kernel_name())
print("Cairn SGEMM benchmark: float32, best of ≥5 reps after 2 warm-ups")
print("cairn: kernel \(dispatched), 1 thread (cairn_sgemm is single-threaded)")

func describe(_ report: NumpyReport, environmentNote: String) -> String {
    let core = report.corename.map { "core \($0)" } ?? "core unknown"
    let threads = report.threads.map(String.init) ?? "?"
    return "numpy \(report.numpy): \(report.blas), \(core), \(threads) thread(s) (\(environmentNote))"
}

let ours = allCases.map { measureCairn($0) }
let coretype = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"]
let numpy = measureNumpy(allCases)
// When the environment pins OpenBLAS to an older core, also show what numpy
// reaches with its own CPU detection, as a second, stronger baseline.
let numpyOwnCore = coretype == nil ? nil : measureNumpy(allCases, ownCoreDetection: true)
if let numpy {
    print(describe(numpy, environmentNote: "OPENBLAS_NUM_THREADS=1" + (coretype.map { ", OPENBLAS_CORETYPE=\($0) from env" } ?? "")))
}
if let numpyOwnCore {
    print(describe(numpyOwnCore, environmentNote: "OPENBLAS_NUM_THREADS=1, OPENBLAS_CORETYPE unset") + " [second baseline]")
}
print("")
var header = "case      " + column("cairn GFLOP/s", 15) + column("numpy GFLOP/s", 15) + column("cairn/numpy", 13)
if numpyOwnCore != nil {
    header += column("numpy(own core)", 17) + column("cairn/that", 12)
}
print(header)
for (benchmark, cairnRate) in zip(allCases, ours) {
    var line = benchmark.label.padding(toLength: 10, withPad: " ", startingAt: 0) + column(formatted(cairnRate), 15)
    for (report, rateWidth, ratioWidth) in [(numpy, 15, 13), (numpyOwnCore, 17, 12)] {
        if let rate = report?.gflops[benchmark.label] {
            line += column(formatted(rate), rateWidth) + column(formatted(cairnRate / rate, digits: 2) + "×", ratioWidth)
        }
    }
    print(line)
}

// Every kernel this CPU runs, so the dispatch preference can be checked by measurement.
print("")
print("per-kernel at 512 A·B:")
for kernel in 0..<cairn_sgemm_kernel_count() where cairn_sgemm_kernel_is_supported(kernel) != 0 {
    let name = String(cString: cairn_sgemm_kernel_name_at(kernel))
    let rate = measureCairn(BenchmarkCase(label: "512", size: 512), kernel: kernel)
    print("  " + name.padding(toLength: 16, withPad: " ", startingAt: 0) + column(formatted(rate), 8) + " GFLOP/s")
}

// InteropBenchmark: how ckpt-inspect copes with foreign checkpoints of 1 and 8 GB, side by
// side with what PyTorch users compare it with, measured in the same run:
// `safetensors.safe_open(...).keys()` and `torch.load(mmap=True)`.
//
//   swift build -c release --product ckpt-inspect && swift run -c release InteropBenchmark [--sizes 1,8] [--torch-sizes 1] [--rounds 5]
//
// safetensors files are sparse (header written, data a hole), so they cost no disk; torch
// files are written by torch itself (real bytes). Each ckpt-inspect command runs as a child
// whose peak RSS comes from wait4; times are medians over the rounds.
import BenchmarkSupport
import Foundation

struct Options {
    var sizes = [1, 8]
    var torchSizes = [1]
    var rounds = 5
    var directory = FileManager.default.temporaryDirectory.appendingPathComponent("interop-benchmark-\(getpid())")

    init(_ arguments: [String]) throws {
        var index = 0
        func value() throws -> String {
            index += 1
            guard index < arguments.count else { throw BenchmarkError("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        func integers(_ text: String, flag: String) throws -> [Int] {
            let parsed = text.split(separator: ",").compactMap { Int($0) }
            guard !parsed.isEmpty, parsed.allSatisfy({ $0 >= 0 && $0 <= 64 }) else { throw BenchmarkError("\(flag): GiB sizes 0…64, comma-separated") }
            return parsed.filter { $0 > 0 }
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--sizes": sizes = try integers(try value(), flag: "--sizes")
            case "--torch-sizes": torchSizes = try integers(try value(), flag: "--torch-sizes")
            case "--rounds":
                guard let rounds = Int(try value()), rounds > 0, rounds <= 100 else { throw BenchmarkError("--rounds: 1…100") }
                self.rounds = rounds
            case "--dir": directory = URL(fileURLWithPath: try value())
            default: throw BenchmarkError("unknown argument \(arguments[index]); use --sizes, --torch-sizes, --rounds, --dir")
            }
            index += 1
        }
    }
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One child run: wall time and peak resident set size.
struct ChildRun {
    var seconds: Double
    var maxResidentMiB: Double
    var status: Int32
    var stdout: String
}

/// Runs `arguments[0]` with the rest, stdout to a file, and measures it with wait4.
func runChild(_ arguments: [String], scratch: URL) throws -> ChildRun {
    let outPath = scratch.appendingPathComponent("child-out").path
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let argv = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let start = ContinuousClock.now
    guard posix_spawn(&pid, arguments[0], &actions, nil, argv, environ) == 0 else { throw BenchmarkError("cannot start \(arguments[0])") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0, errno == EINTR {}
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return ChildRun(seconds: seconds, maxResidentMiB: Double(usage.ru_maxrss) / 1024, status: (status >> 8) & 0xFF,
                    stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "")
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// A safetensors file of `gib` F32 tensors of 1 GiB, the last split into sixteen 64 MiB ones.
func writeSparseSafetensors(_ url: URL, gib: Int) throws {
    var entries: [String] = []
    var offset = 0
    func add(_ name: String, rows: Int) {
        let bytes = rows * 1024 * 4
        entries.append(#""\#(name)":{"dtype":"F32","shape":[\#(rows),1024],"data_offsets":[\#(offset),\#(offset + bytes)]}"#)
        offset += bytes
    }
    for layer in 0..<(gib - 1) { add("layers.\(layer).weight", rows: 262_144) }
    for part in 0..<16 { add("head.\(part).weight", rows: 16_384) }
    let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
    var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
    bytes += header
    try Data(bytes).write(to: url)
    guard truncate(url.path, off_t(bytes.count + offset)) == 0 else { throw BenchmarkError("cannot size \(url.path)") }
}

/// Seconds Python takes, measured inside the interpreter (start-up excluded), median of `rounds`.
func pythonSeconds(_ python: String, _ body: String, file: String, rounds: Int) -> Double? {
    let script = """
        import sys, time
        path = sys.argv[1]
        times = []
        for _ in range(\(rounds)):
            start = time.perf_counter()
        \(body.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
            times.append(time.perf_counter() - start)
        times.sort()
        print(times[len(times) // 2])
        """
    guard let result = try? runCapturingOutput(python, ["-c", script, file]), result.status == 0 else { return nil }
    return Double(result.output.trimmingCharacters(in: .whitespacesAndNewlines))
}

func format(_ seconds: Double) -> String { String(format: "%8.1f ms", seconds * 1000) }

let options: Options
do { options = try Options(Array(CommandLine.arguments.dropFirst())) } catch {
    FileHandle.standardError.write(Data("InteropBenchmark: \(error)\n".utf8))
    exit(2)
}
let inspect = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    .appendingPathComponent("ckpt-inspect").path
guard FileManager.default.isExecutableFile(atPath: inspect) else {
    FileHandle.standardError.write(Data("InteropBenchmark: no ckpt-inspect beside this binary (\(inspect)); build it with -c release first\n".utf8))
    exit(2)
}
try FileManager.default.createDirectory(at: options.directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: options.directory) }
let python = torchPython()
print("InteropBenchmark: ckpt-inspect \(inspect)")
print("python baseline: \(python ?? "none found (no ensure-venv.sh venv); Python columns left out")")
if let load = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) { print("load average at start: \(load.split(separator: " ").prefix(3).joined(separator: " "))") }

func measure(_ label: String, file: URL, tensor: String, baseline: (name: String, body: String)?) throws {
    let size = (try? FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int) ?? 0
    print("\n\(label): \(file.lastPathComponent), \(String(format: "%.2f", Double(size) / Double(1 << 30))) GiB")
    for (name, arguments) in [("show", ["show", file.path]), ("tensors", ["tensors", file.path]),
                              ("get 64 MiB", ["get", file.path, tensor])] {
        var runs: [ChildRun] = []
        for _ in 0..<options.rounds { runs.append(try runChild([inspect] + arguments, scratch: options.directory)) }
        guard runs.allSatisfy({ $0.status == 0 }) else { print("  \(name): failed (status \(runs.map(\.status)))"); continue }
        let peak = runs.map(\.maxResidentMiB).max() ?? 0
        print("  ckpt-inspect \(name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(format(median(runs.map(\.seconds))))   peak RSS \(String(format: "%7.1f", peak)) MiB")
    }
    if let python, let baseline, let seconds = pythonSeconds(python, baseline.body, file: file.path, rounds: options.rounds) {
        print("  \(baseline.name.padding(toLength: 24, withPad: " ", startingAt: 0)) \(format(seconds))   (in-process, start-up excluded)")
    }
}

for gib in options.sizes {
    let file = options.directory.appendingPathComponent("model-\(gib)g.safetensors")
    try writeSparseSafetensors(file, gib: gib)
    try measure("safetensors \(gib) GiB", file: file, tensor: "/state_dict/head.0.weight",
                baseline: ("safe_open + keys()", "from safetensors import safe_open\nwith safe_open(path, 'np') as f: keys = list(f.keys())"))
    try? FileManager.default.removeItem(at: file)
}
for gib in options.torchSizes {
    guard let python else { print("\ntorch \(gib) GiB: skipped, no torch Python"); continue }
    let file = options.directory.appendingPathComponent("model-\(gib)g.pt")
    let writer = """
        import sys, torch
        n = int(sys.argv[2])
        state = {f"layers.{i}.weight": torch.zeros(262144, 1024) for i in range(n - 1)}
        state.update({f"head.{i}.weight": torch.zeros(16384, 1024) for i in range(16)})
        torch.save(state, sys.argv[1])
        """
    guard (try? runCapturingOutput(python, ["-c", writer, file.path, String(gib)]))?.status == 0 else {
        print("\ntorch \(gib) GiB: skipped, torch.save failed"); continue
    }
    try measure("torch \(gib) GiB", file: file, tensor: "/head.0.weight",
                baseline: ("torch.load(mmap=True)", "import torch\nstate = torch.load(path, mmap=True, weights_only=True)"))
    try? FileManager.default.removeItem(at: file)
}

// Release-mode benchmark of checkpoint save and load against raw file I/O of
// the same bytes, measured in the same run (disk speed drifts over minutes).
//
//   swift run -c release CheckpointBenchmark [--dir DIR] [--layers N] [--rounds N] [--chunk-mib N]
//
// Each phase runs in its own child process so that its peak memory (VmHWM)
// is its own.
import BenchmarkSupport
import CairnCheckpoint
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct Settings {
    var directory = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-ckpt-bench").path
    var layers = 21
    var rounds = 2
    var chunkMiB = 16
    var phase: String?

    init(arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            let value = iterator.next() ?? ""
            switch flag {
            case "--dir": directory = value
            case "--layers": layers = Int(value) ?? layers
            case "--rounds": rounds = Int(value) ?? rounds
            case "--chunk-mib": chunkMiB = Int(value) ?? chunkMiB
            case "--phase": phase = value
            default:
                FileHandle.standardError.write(Data("unknown option \(flag)\n".utf8))
                exit(2)
            }
        }
    }

    var forwarded: [String] { ["--dir", directory, "--layers", "\(layers)", "--chunk-mib", "\(chunkMiB)"] }
    var checkpointPath: String { directory + "/state.ckpt" }
    var rawPath: String { directory + "/state.raw" }
}

// MARK: The state: a transformer-like stack of float32 matrices and biases.

struct StateTensor {
    let name: String
    let shape: [Int]
    var byteCount: Int { shape.reduce(4, *) }
}

func stateLayout(layers: Int) -> [StateTensor] {
    var tensors: [StateTensor] = []
    for layer in 0..<layers {
        let prefix = "layers.\(layer)"
        for projection in ["q", "k", "v", "o"] {
            tensors.append(StateTensor(name: "\(prefix).attn.\(projection).weight", shape: [1024, 1024]))
            tensors.append(StateTensor(name: "\(prefix).attn.\(projection).bias", shape: [1024]))
        }
        tensors.append(StateTensor(name: "\(prefix).mlp.up.weight", shape: [4096, 1024]))
        tensors.append(StateTensor(name: "\(prefix).mlp.up.bias", shape: [4096]))
        tensors.append(StateTensor(name: "\(prefix).mlp.down.weight", shape: [1024, 4096]))
        tensors.append(StateTensor(name: "\(prefix).mlp.down.bias", shape: [1024]))
        tensors.append(StateTensor(name: "\(prefix).norm.weight", shape: [1024]))
        tensors.append(StateTensor(name: "\(prefix).norm.bias", shape: [1024]))
    }
    return tensors
}

/// Pseudo-random bytes (xorshift), different per tensor so nothing deduplicates.
func makeBytes(count: Int, seed: UInt64) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let words = count / 8
        let raw = UnsafeMutableRawPointer(buffer.baseAddress!)
        for index in 0..<words {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            raw.storeBytes(of: state, toByteOffset: index * 8, as: UInt64.self)
        }
        for index in (words * 8)..<count { buffer[index] = UInt8(truncatingIfNeeded: state >> (index % 8)) }
        initialized = count
    }
}

func makeState(_ layout: [StateTensor]) -> [[UInt8]] {
    layout.enumerated().map { makeBytes(count: $1.byteCount, seed: UInt64($0 + 1)) }
}

func makeTree(_ layout: [StateTensor], _ state: [[UInt8]]) -> CheckpointValue {
    var stateDict: [(CheckpointKey, CheckpointValue)] = []
    for (tensor, bytes) in zip(layout, state) {
        stateDict.append((.string(tensor.name), .tensor(CheckpointTensor(dtype: .f32, shape: tensor.shape, bytes: bytes))))
    }
    return .dictionary([
        "epoch": .int(3), "global_step": .int(12_000),
        "state_dict": .dictionary(.init(uniqueKeysWithValues: stateDict)),
        "hyper_parameters": .dictionary(["lr": .double(3e-4), "layers": .int(Int64(layout.count))]),
    ])
}

// MARK: Measurements

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
}

/// User plus system CPU seconds of every thread of this process so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) * 1e-6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// CPU seconds at the start of the phase's timed part: on a shared machine CPU
/// time moves less than wall time with other jobs' load.
nonisolated(unsafe) var cpuStart = 0.0

func peakResidentKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
    }
    return -1
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("CheckpointBenchmark: \(message)\n".utf8))
    exit(1)
}

func writeAll(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 { fail("write: \(String(cString: strerror(errno)))") }
        offset += written
    }
}

func readAll(_ descriptor: Int32, _ bytes: UnsafeMutableRawBufferPointer) {
    var offset = 0
    while offset < bytes.count {
        let count = read(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if count <= 0 { fail("read: short file") }
        offset += count
    }
}

/// Runs one phase in this process and prints `seconds peakKiB [extra seconds]`.
func runPhase(_ phase: String, _ settings: Settings) throws {
    let layout = stateLayout(layers: settings.layers)
    let options = CheckpointSaveOptions(chunkSize: settings.chunkMiB << 20)
    var extra = ""
    let seconds: Double
    switch phase {
    case "raw-write":
        let state = makeState(layout)
        unlink(settings.rawPath)
        let start = now()
        cpuStart = cpuSeconds()
        let descriptor = open(settings.rawPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if descriptor < 0 { fail("open \(settings.rawPath)") }
        for bytes in state { bytes.withUnsafeBytes { writeAll(descriptor, $0) } }
        if fsync(descriptor) != 0 { fail("fsync") }
        close(descriptor)
        seconds = now() - start
    case "save":
        let tree = makeTree(layout, makeState(layout))
        let start = now()
        cpuStart = cpuSeconds()
        try Checkpoint.save(tree, to: URL(fileURLWithPath: settings.checkpointPath), options: options)
        seconds = now() - start
    case "async-save":
        let tree = makeTree(layout, makeState(layout))
        let saver = AsyncCheckpointSaver(options: options)
        let url = URL(fileURLWithPath: settings.directory + "/async.ckpt")
        // The first save maps the staging arena; later saves reuse it, as in training.
        var blocked: [Double] = []
        var total = 0.0
        for _ in 0..<2 {
            let start = now()
            cpuStart = cpuSeconds()
            try saver.save(tree, to: url)
            blocked.append(now() - start)
            try saver.wait()
            total = now() - start
        }
        seconds = blocked[1]
        extra = " \(blocked[0]) \(total)"
    case "raw-read":
        let buffers = layout.map { UnsafeMutableRawBufferPointer.allocate(byteCount: $0.byteCount, alignment: 64) }
        let start = now()
        cpuStart = cpuSeconds()
        let descriptor = open(settings.rawPath, O_RDONLY)
        if descriptor < 0 { fail("open \(settings.rawPath)") }
        for buffer in buffers { readAll(descriptor, buffer) }
        close(descriptor)
        seconds = now() - start
    case "load", "load-unchecked":
        let start = now()
        cpuStart = cpuSeconds()
        let reader = try Checkpoint.open(
            URL(fileURLWithPath: settings.checkpointPath), options: CheckpointLoadOptions(verifyChecksums: phase == "load"))
        let opened = now()
        let tree = try reader.materializedTree()
        seconds = now() - start
        extra = " \(opened - start)"
        if tree.tensors().count != layout.count { fail("loaded \(tree.tensors().count) tensors, expected \(layout.count)") }
    default:
        fail("unknown phase \(phase)")
    }
    print("\(seconds) \(peakResidentKiB()) \(cpuSeconds() - cpuStart)\(extra)")
}

/// Runs a phase in a child process and parses its one-line result.
func runChild(_ phase: String, _ settings: Settings) -> [Double] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    process.arguments = settings.forwarded + ["--phase", phase]
    let output = Pipe()
    process.standardOutput = output
    do { try process.run() } catch { fail("cannot start phase \(phase): \(error)") }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { fail("phase \(phase) failed") }
    return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
}

/// Seconds of each durable `torch.save` of the same state by `tools/torch-save/torch_save_benchmark.py`,
/// or why it was skipped.
func torchSaveSeconds(_ settings: Settings, repeats: Int) -> Result<[Double], TorchSkipped> {
    guard let python = torchPython() else { return .failure(TorchSkipped(reason: "tools/python-interop/ensure-venv.sh found no python3 to make its venv; or set CAIRN_TORCH_PYTHON")) }
    // The script sits beside this file in the source tree.
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("torch-save/torch_save_benchmark.py").path
    guard FileManager.default.fileExists(atPath: script) else { return .failure(TorchSkipped(reason: "\(script) not found")) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: python)
    process.arguments = [script, settings.directory, "\(settings.layers)", "\(repeats)"]
    let output = Pipe()
    process.standardOutput = output
    guard (try? process.run()) != nil else { return .failure(TorchSkipped(reason: "cannot start \(python)")) }
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let seconds = text.split(whereSeparator: \.isWhitespace).compactMap { Double($0) }
    guard process.terminationStatus == 0, !seconds.isEmpty else {
        return .failure(TorchSkipped(reason: "\(python) \(script) exited with status \(process.terminationStatus)"))
    }
    return .success(seconds)
}

struct TorchSkipped: Error {
    let reason: String
}

let settings = Settings(arguments: CommandLine.arguments)
if let phase = settings.phase {
    do { try runPhase(phase, settings) } catch { fail("\(phase): \(error)") }
    exit(0)
}

try? FileManager.default.createDirectory(atPath: settings.directory, withIntermediateDirectories: true)
let layout = stateLayout(layers: settings.layers)
let stateBytes = layout.reduce(0) { $0 + $1.byteCount }
let megabytes = Double(stateBytes) / 1e6
print("state: \(layout.count) float32 tensors, \(String(format: "%.1f", megabytes)) MB; chunk \(settings.chunkMiB) MiB; dir \(settings.directory)")
func row(_ label: String, _ result: [Double], baseline: Double? = nil) -> String {
    let seconds = result[0]
    let overhead = (result[1] * 1024 - Double(stateBytes)) / 1_048_576
    let padded = label.padding(toLength: 28, withPad: " ", startingAt: 0)
    var text = padded + String(format: "%7.3f s %6.0f MB/s  cpu %5.2f s  VmHWM %5.0f MiB (state %+5.0f MiB)", seconds, megabytes / seconds,
                                result[2], result[1] / 1024, overhead)
    if let baseline { text += String(format: "   %.2fx raw", baseline / seconds) }
    return text
}
var cairnSaveSeconds: [Double] = []
for round in 1...settings.rounds {
    print("round \(round)")
    // Writes alternate with raw baselines; each save is compared with the mean
    // of the raw writes just before and after it, as disk speed drifts.
    var rawWrites = [runChild("raw-write", settings)]
    var saves: [[Double]] = []
    for _ in 0..<2 {
        saves.append(runChild("save", settings))
        rawWrites.append(runChild("raw-write", settings))
    }
    print(row("  raw write+fsync", rawWrites[0]))
    for (index, save) in saves.enumerated() {
        print(row("  Checkpoint.save (durable)", save, baseline: (rawWrites[index][0] + rawWrites[index + 1][0]) / 2))
        print(row("  raw write+fsync", rawWrites[index + 1]))
    }
    let save = saves[1]
    cairnSaveSeconds += saves.map { $0[0] }
    let rawRead = runChild("raw-read", settings)
    let load = runChild("load", settings)
    let unchecked = runChild("load-unchecked", settings)
    print(row("  raw read (page cache)", rawRead))
    print(row("  load, checksums verified", load, baseline: rawRead[0]) + String(format: "  (open %.3f s)", load[3]))
    print(row("  load, no checksums", unchecked, baseline: rawRead[0]))
    let async = runChild("async-save", settings)
    print(String(format: "  async save: caller blocked %.3f s (first save %.3f s), %.2fx of sync save %.3f s; save+wait %.3f s",
                 async[0], async[3], async[0] / save[0], save[0], async[4]))
}
// torch.save between two raw writes, like Cairn's saves, and against Cairn's best save of all rounds.
let rawBeforeTorch = runChild("raw-write", settings)
switch torchSaveSeconds(settings, repeats: 2) {
case let .success(torchSeconds):
    let rawAfterTorch = runChild("raw-write", settings)
    let raw = (rawBeforeTorch[0] + rawAfterTorch[0]) / 2
    let torchBest = torchSeconds.min() ?? 0, cairnBest = cairnSaveSeconds.min() ?? 0
    print(String(format: "torch.save+fsync (best of %d) %7.3f s %6.0f MB/s   %.2fx raw (raw %.3f s); Cairn's best save %.3f s: %.2fx torch.save's speed",
                 torchSeconds.count, torchBest, megabytes / torchBest, raw / torchBest, raw, cairnBest, torchBest / cairnBest))
case let .failure(skipped):
    print("torch.save: skipped (\(skipped.reason))")
}
for name in ["state.ckpt", "state.raw", "async.ckpt", "state.pt"] { unlink(settings.directory + "/" + name) }

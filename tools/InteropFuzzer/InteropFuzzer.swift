// Feeds arbitrary bytes to the restricted unpickler, the safetensors parser, the zip
// central-directory reader, whole torch files (zip with stored or deflated members, and the
// legacy format) with every tensor's bytes touched, and the sharded-checkpoint index parser.
//
// Fuzzing (libFuzzer, coverage-guided): see tools/README.md, or run
//   tools/fuzz-interop.sh [seconds]
// A normal build makes a replayer instead: `InteropFuzzer FILE…` runs each file
// through both parsers, for reproducing a crash the fuzzer found.
import CairnCheckpoint
import CairnInterop
import Foundation

/// One input: a typed error is the expected outcome for junk; anything else
/// (a crash, a trap, a hang) is a bug the fuzzer reports.
func exercise(_ bytes: [UInt8]) {
    _ = try? TorchCheckpoint.readPickle(bytes, file: "fuzz.pkl")
    _ = try? SafetensorsFile.parse(bytes, file: "fuzz.safetensors")
    _ = try? TorchCheckpoint.zipMemberPaths(bytes, file: "fuzz.pt")
    if let tree = try? TorchCheckpoint.read(contents: bytes, file: "fuzz.pt", verifyingCRC: false) { touchTensors(tree) }
    _ = try? ShardedCheckpoint.shards(inIndex: Data(bytes), file: "fuzz.index.json")
}

/// Reads every tensor's bytes: storages are lent lazily, so damage shows only when touched.
func touchTensors(_ value: CheckpointValue) {
    switch value {
    case let .tensor(tensor): _ = try? tensor.withUnsafeBytes { $0.reduce(0, &+) }
    case let .dictionary(entries): for child in entries.values { touchTensors(child) }
    case let .list(items): for child in items { touchTensors(child) }
    default: break
    }
}

#if CAIRN_FUZZ
/// libFuzzer's entry point for a program that keeps its own `main` (SwiftPM renames an
/// executable's `main`, so libFuzzer's own cannot take its place).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
struct InteropFuzzer {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runFuzzerDriver(&argc, &argv) { data, size in
            exercise(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
            return 0
        })
    }
}
#else
@main
struct InteropReplayer {
    static func main() {
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("InteropFuzzer: \(path): cannot read\n".utf8))
                exit(2)
            }
            exercise([UInt8](data))
            print("\(path): parsed without a crash")
        }
    }
}
#endif

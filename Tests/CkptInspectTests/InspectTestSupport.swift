import CairnCheckpoint
import Foundation

/// Runs the built `ckpt-inspect` and captures what it prints.
enum Inspector {
    /// The product directory holds both the test bundle and the executable, for
    /// any `--scratch-path`; walk up from the running test binary to find it.
    static let executable: URL = {
        var candidates: [URL] = []
        if let running = Bundle.main.executableURL { candidates.append(running) }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]))
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") { candidates.append(bundle.bundleURL) }
        for start in candidates {
            var directory = start.deletingLastPathComponent()
            for _ in 0..<4 {
                let tool = directory.appendingPathComponent("ckpt-inspect")
                if FileManager.default.isExecutableFile(atPath: tool.path) { return tool }
                directory = directory.deletingLastPathComponent()
            }
        }
        let fallback = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/ckpt-inspect")
        return fallback
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var combined = ProcessInfo.processInfo.environment
        combined.merge(environment) { $1 }
        process.environment = combined
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting so a large output cannot fill the pipe and stall the child.
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs with `--json` and parses the document.
    static func json(_ arguments: [String]) throws -> (status: Int32, document: Any) {
        let result = try run(arguments + ["--json"])
        return (result.status, try JSONSerialization.jsonObject(with: Data(result.stdout.utf8), options: [.fragmentsAllowed]))
    }
}

/// A fresh directory of checkpoints, removed by `cleanUp`.
struct RunDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-inspect-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func cleanUp() { try? FileManager.default.removeItem(at: url) }

    /// Saves a checkpoint shaped like Lightning's and returns its path.
    @discardableResult
    func save(_ name: String, _ tree: CheckpointValue = Fixture.checkpoint(), chunkSize: Int = 40) throws -> String {
        try Checkpoint.save(tree, to: url.appendingPathComponent(name), options: CheckpointSaveOptions(chunkSize: chunkSize))
        return path(name)
    }
}

/// Trees like those a Lightning-style trainer saves.
enum Fixture {
    static let counterKey = #"Counter<"what":"batches">"#
    static let checkpointKey = #"ModelCheckpoint{"monitor": "val_loss", "mode": "min"}"#
    /// Bytes no other tensor holds, so a test can find this tensor's chunk in the file.
    static let markerBytes: [UInt8] = (0..<64).map { UInt8(0xA0 &+ $0) }

    static func checkpoint(step: Int64 = 300, weightShift: Float = 0, batches: Int64 = 300,
                           bestModelPath: String = "epoch=1.ckpt", score: Double = 0.25) -> CheckpointValue {
        let weight = (0..<16).map { Float($0) / 4 + weightShift }
        let halfOnes: [UInt16] = [0x3C00, 0xC000, 0x7C00]  // 1.0, -2.0, +inf in binary16
        let bfloat: [UInt16] = [0x3F80, 0x7FC0]             // 1.0, NaN in bfloat16
        return .dictionary([
            "epoch": .int(2),
            "global_step": .int(step),
            "pytorch-lightning_version": .string("2.4.0"),
            "state_dict": .dictionary([
                "layer.weight": .tensor(CheckpointTensor(float32: weight, shape: [4, 4])),
                "layer.bias": .tensor(CheckpointTensor(float32: [0, 1, 2, 3], shape: [4])),
                "bn.num_batches_tracked": .tensor(CheckpointTensor(dtype: .i64, shape: [], elements: [Int64(step)])),
                "half": .tensor(CheckpointTensor(dtype: .f16, shape: [3], elements: halfOnes)),
                "bf": .tensor(CheckpointTensor(dtype: .bf16, shape: [2], elements: bfloat)),
                "marker": .tensor(CheckpointTensor(dtype: .u8, shape: [64], bytes: markerBytes)),
            ]),
            "optimizer_states": .list([
                .dictionary([
                    "state": .dictionary([
                        0: .dictionary(["step": .double(Double(step)), "exp_avg": .tensor(CheckpointTensor(float32: weight, shape: [4, 4]))]),
                        1: .dictionary(["step": .double(Double(step)), "exp_avg": .tensor(CheckpointTensor(float32: [0, 0, 0, 0], shape: [4]))]),
                    ]),
                    "param_groups": .list([.dictionary(["lr": .double(0.001), "weight_decay": .double(0), "params": .list([.int(0), .int(1)])])]),
                ]),
            ]),
            "lr_schedulers": .list([.dictionary(["step_size": .int(10), "gamma": .double(0.1), "last_epoch": .int(2)])]),
            "callbacks": .dictionary([
                .string(counterKey): .dictionary(["count": .int(batches)]),
                .string(checkpointKey): .dictionary([
                    "monitor": .string("val_loss"), "best_model_path": .string(bestModelPath),
                    "best_model_score": .double(score), "current_score": .double(score),
                ]),
            ]),
            "hyper_parameters": .dictionary(["lr": .double(0.001), "hidden": .int(16), "name": .string("mlp")]),
        ])
    }
}

extension Inspector.Result {
    /// stderr is exactly one line in the `ckpt-inspect: <file>: <what>` form.
    var isOneLineError: Bool {
        let lines = stderr.split(separator: "\n")
        return status == 2 && lines.count == 1 && stderr.hasPrefix("ckpt-inspect: ")
    }
}

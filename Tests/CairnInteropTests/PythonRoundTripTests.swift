import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

/// Round trips through the real `safetensors` and `torch` packages. Python
/// comes from `tools/python-interop/ensure-venv.sh` (or `CAIRN_PYTHON`); the
/// torch tests also need `CAIRN_TORCH_TESTS=1`, since installing torch is slow.
enum PythonInterop {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../tools/python-interop/roundtrip.py").standardized.path
    static let safetensorsPython = pythonWith(["safetensors", "numpy"])
    static let torchPython = ProcessInfo.processInfo.environment["CAIRN_TORCH_TESTS"] == "1" ? pythonWith(["torch"]) : nil

    static func run(_ python: String, _ arguments: [String]) throws -> Any {
        let result = try runProcess(python, [script] + arguments)
        guard result.status == 0 else { throw InteropError.io(file: script, reason: result.output) }
        return try JSONSerialization.jsonObject(with: Data(result.output.utf8))
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs the test only where a Python with `safetensors` and `numpy` exists.
    static var needsSafetensorsPython: Self {
        .enabled(if: PythonInterop.safetensorsPython != nil,
                 "no Python with safetensors and numpy: run tools/python-interop/ensure-venv.sh")
    }

    /// Runs the test only with `CAIRN_TORCH_TESTS=1` and a Python with torch.
    static var needsTorchPython: Self {
        .enabled(if: PythonInterop.torchPython != nil,
                 "torch round trips need CAIRN_TORCH_TESTS=1 and a Python with torch (ensure-venv.sh installs it then)")
    }
}

@Suite struct PythonSafetensorsRoundTripTests {
    @Test(.needsSafetensorsPython)
    func cairnWrittenFileLoadsInPythonWithEqualValues() throws {
        let python = try #require(PythonInterop.safetensorsPython)
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("cairn.safetensors")
        let weight = CheckpointTensor(float32: [0.5, -1, 2, 3.25, 4, 5], shape: [2, 3])
        let count = CheckpointTensor(dtype: .i64, shape: [], elements: [Int64(-9)])
        let codes = CheckpointTensor(dtype: .i16, shape: [2], elements: [Int16(-300), 300])
        try SafetensorsFile.write(tensors: [("net.weight", weight), ("count", count), ("codes", codes)], metadata: ["format": "pt"], to: url)

        let summary = try #require(try PythonInterop.run(python, ["summarize-safetensors", url.path]) as? [String: Any])
        #expect(summary["metadata"] as? [String: String] == ["format": "pt"])
        let tensors = try #require(summary["tensors"] as? [String: [String: Any]])
        #expect(tensors["net.weight"]?["values"] as? [Double] == [0.5, -1, 2, 3.25, 4, 5])
        #expect(tensors["net.weight"]?["shape"] as? [Int] == [2, 3])
        #expect(tensors["count"]?["values"] as? [Double] == [-9])
        #expect(tensors["count"]?["shape"] as? [Int] == [])
        #expect(tensors["codes"]?["dtype"] as? String == "int16")
        #expect(tensors["codes"]?["values"] as? [Double] == [-300, 300])
    }

    @Test(.needsSafetensorsPython)
    func pythonWrittenFileImportsWithEqualValues() throws {
        let python = try #require(PythonInterop.safetensorsPython)
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("python.safetensors")
        _ = try runProcess(python, [PythonInterop.script, "write-safetensors", url.path])
        let contents = try SafetensorsFile.readContents(url)
        #expect(contents.metadata == ["producer": "python"])
        #expect(try contents.tensors["layer.weight"]?.float32s() == (0..<12).map { Float($0) / 8 })
        #expect(contents.tensors["layer.weight"]?.shape == [3, 4])
        #expect(try contents.tensors["layer.bias"].map(doubles) == [-1.5, 2.25])
        #expect(try contents.tensors["steps"].map(doubles) == [7])
        #expect(contents.tensors["steps"]?.shape == [])
        #expect(contents.tensors["mask"]?.dtype == .bool)
        #expect(try contents.tensors["mask"]?.bytes() == [1, 0, 1])
        #expect(try contents.tensors["half"].map(doubles) == [0.5, -2])
        #expect(try contents.tensors["small"].map(doubles) == [-3, 4])
    }
}

@Suite struct PythonTorchRoundTripTests {
    @Test(.needsTorchPython)
    func torchWrittenFileImportsWithEqualValues() throws {
        let python = try #require(PythonInterop.torchPython)
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("torch.pt")
        let result = try runProcess(python, [PythonInterop.script, "write-torch", url.path])
        #expect(result.status == 0, "\(result.output)")
        let tree = try TorchCheckpoint.read(url)
        #expect(try tree["/state_dict/w"]?.tensor?.float32s() == [0, 1, 2, 3, 4, 5])
        // A transposed view comes out contiguous.
        #expect(try tree["/state_dict/w_t"]?.tensor?.float32s() == [0, 3, 1, 4, 2, 5])
        #expect(tree["/state_dict/w_t"]?.tensor?.shape == [3, 2])
        // A view with a storage offset.
        #expect(try tree["/state_dict/row"]?.tensor?.float32s() == [3, 4, 5])
        #expect(try tree["/optimizer_states/0/state/0/step"]?.tensor?.float32s() == [3])
        #expect(try tree["/bf16"]?.tensor.map(doubles) == [1, -2])
        guard case .int(2)? = tree["/epoch"], case .bool(true)? = tree["/flag"], case .string("torch")? = tree["/name"] else {
            Issue.record("scalars differ: \(String(describing: tree["/epoch"]))"); return
        }
    }
}

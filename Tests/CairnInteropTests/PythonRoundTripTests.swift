import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

extension Trait where Self == ConditionTrait {
    /// Runs the test where python3 can make the interop venv (`tools/python-interop/ensure-venv.sh`,
    /// with torch, safetensors and numpy); skipped with the reason only where Python is missing.
    static var needsPython: Self {
        .enabled(if: InteropPython.isAvailable, Comment(rawValue: InteropPython.skipMessage))
    }
}

@Suite struct PythonSafetensorsRoundTripTests {
    @Test(.needsPython)
    func cairnWrittenFileLoadsInPythonWithEqualValues() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("cairn.safetensors")
        let weight = CheckpointTensor(float32: [0.5, -1, 2, 3.25, 4, 5], shape: [2, 3])
        let count = CheckpointTensor(dtype: .i64, shape: [], elements: [Int64(-9)])
        let codes = CheckpointTensor(dtype: .i16, shape: [2], elements: [Int16(-300), 300])
        try SafetensorsFile.write(tensors: [("net.weight", weight), ("count", count), ("codes", codes)], metadata: ["format": "pt"], to: url)

        let summary = try #require(try InteropPython.runJSON("roundtrip.py", ["summarize-safetensors", url.path]) as? [String: Any])
        #expect(summary["metadata"] as? [String: String] == ["format": "pt"])
        let tensors = try #require(summary["tensors"] as? [String: [String: Any]])
        #expect(tensors["net.weight"]?["values"] as? [Double] == [0.5, -1, 2, 3.25, 4, 5])
        #expect(tensors["net.weight"]?["shape"] as? [Int] == [2, 3])
        #expect(tensors["count"]?["values"] as? [Double] == [-9])
        #expect(tensors["count"]?["shape"] as? [Int] == [])
        #expect(tensors["codes"]?["dtype"] as? String == "int16")
        #expect(tensors["codes"]?["values"] as? [Double] == [-300, 300])
    }

    @Test(.needsPython)
    func pythonWrittenFileImportsWithEqualValues() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("python.safetensors")
        let result = try InteropPython.run("roundtrip.py", ["write-safetensors", url.path])
        #expect(result.status == 0, "\(result.stderr)")
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
    /// The same checkpoint as torch writes it today, in the format before torch 1.6, and
    /// re-zipped with every member deflated.
    @Test(.needsPython, arguments: ["write-torch", "write-torch-legacy", "write-torch-deflated"])
    func torchWrittenFileImportsWithEqualValues(writer: String) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("torch.pt")
        let result = try InteropPython.run("roundtrip.py", [writer, url.path])
        #expect(result.status == 0, "\(result.stderr)")
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

/// The venv script tells "no Python here" (skip) apart from other failures.
@Suite struct InteropVenvScriptTests {
    @Test func missingPythonExitsWithTheSkipStatus() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let script = BuiltProduct(url: InteropPython.scriptsDirectory.appendingPathComponent("ensure-venv.sh"))
        let result = try script.run([], environment: ["PATH": scratch.url.path, "CAIRN_VENV": scratch.file("venv").path])
        #expect(result.status == 3)
        #expect(result.stderr.contains("no python3"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: scratch.file("venv").path))
    }
}

import CairnCheckpoint
import CairnInterop
import CairnTestSupport
import Foundation
import Testing

/// A Hugging Face sharded folder (index + shards) is one checkpoint for every command.
@Suite struct ShardedCheckpointTests {
    static let indexName = "model.safetensors.index.json"

    /// Writes `shards` (file name → tensor names) as small safetensors shards and their index.
    static func writeSharded(in folder: URL, _ shards: [(String, [String])], weightMap: [String: String]? = nil) throws {
        var map: [String: String] = [:]
        for (shard, names) in shards {
            let tensors = names.enumerated().map { index, name in
                (name, CheckpointTensor(float32: (0..<4).map { Float(index * 4 + $0) }, shape: [2, 2]))
            }
            try SafetensorsFile.write(tensors: tensors, to: folder.appendingPathComponent(shard))
            for name in names { map[name] = shard }
        }
        let index: [String: Any] = ["metadata": ["total_size": 0], "weight_map": weightMap ?? map]
        try JSONSerialization.data(withJSONObject: index).write(to: folder.appendingPathComponent(indexName))
    }

    static let threeShards: [(String, [String])] = [
        ("model-00001-of-00003.safetensors", ["embed.weight", "layers.0.weight"]),
        ("model-00002-of-00003.safetensors", ["layers.1.weight"]),
        ("model-00003-of-00003.safetensors", ["head.weight", "head.bias"]),
    ]

    @Test func aFolderAndItsIndexReadAsOneCheckpoint() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        try Self.writeSharded(in: scratch.url, Self.threeShards)
        for target in [scratch.url.path, scratch.file(Self.indexName).path] {
            let (status, document) = try Inspector.json(["tensors", target])
            #expect(status == 0)
            let paths = ((document as? [String: Any])?["tensors"] as? [[String: Any]])?.compactMap { $0["path"] as? String }
            #expect(paths == ["/state_dict/embed.weight", "/state_dict/layers.0.weight", "/state_dict/layers.1.weight",
                              "/state_dict/head.weight", "/state_dict/head.bias"])
            let get = try Inspector.run(["get", target, "/state_dict/head.bias"])
            #expect(get.stdout == "F32 [2, 2] (16 B): [4, 5, 6, 7]\n", "\(get.stdout) \(get.stderr)")
            #expect(try Inspector.run(["verify", target]).status == 0)
            #expect(try Inspector.run(["show", target]).stdout.contains("sharded (\(Self.indexName))"))
        }
        // The same tensors in one file: no differences, across layouts.
        var single: [(String, CheckpointTensor)] = []
        for (_, names) in Self.threeShards {
            for (index, name) in names.enumerated() {
                single.append((name, CheckpointTensor(float32: (0..<4).map { Float(index * 4 + $0) }, shape: [2, 2])))
            }
        }
        let file = scratch.file("single.safetensors")
        try SafetensorsFile.write(tensors: single, to: file)
        let diff = try Inspector.run(["diff", file.path, scratch.url.path])
        #expect(diff.status == 0, "\(diff.stdout) \(diff.stderr)")
    }

    @Test func largeShardsStayInPlace() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        var map: [String: String] = [:]
        for shard in 0..<3 {
            let name = "model-0000\(shard + 1)-of-00003.safetensors"
            try LargeForeignFileTests.sparseSafetensors(at: scratch.file(name), layers: (shard * 2)..<(shard * 2 + 2))
            for layer in (shard * 2)..<(shard * 2 + 2) { map["layers.\(layer).weight"] = name }
        }
        try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: scratch.file(Self.indexName))
        for arguments in [["show", scratch.url.path], ["tensors", scratch.url.path], ["get", scratch.url.path, "/state_dict/layers.5.weight"],
                          ["verify", scratch.url.path], ["verify", scratch.file(Self.indexName).path]] {
            let run = try MeasuredRun(Inspector.executable.url, arguments)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            #expect(run.maxResidentKiB < 128 * 1024, "\(arguments): peak RSS \(run.maxResidentKiB) KiB")
        }
    }

    /// Each broken layout: exit 2, one line naming the file at fault.
    @Test(arguments: ["missing shard", "unlisted shard", "tensor its shard lacks", "tensor the index lacks",
                      "malformed JSON", "no weight_map", "path outside the folder"])
    func brokenLayoutsExitTwoNamingTheFile(_ broken: String) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        try Self.writeSharded(in: scratch.url, Self.threeShards)
        let index = scratch.file(Self.indexName)
        var named = index.path
        var map: [String: String] = [:]
        for (shard, names) in Self.threeShards { for name in names { map[name] = shard } }
        switch broken {
        case "missing shard":
            named = scratch.file("model-00002-of-00003.safetensors").path
            try FileManager.default.removeItem(atPath: named)
        case "unlisted shard":
            try SafetensorsFile.write(tensors: [("extra", CheckpointTensor(float32: [1], shape: [1]))],
                                      to: scratch.file("model-00004-of-00003.safetensors"))
        case "tensor its shard lacks":
            map["ghost.weight"] = "model-00002-of-00003.safetensors"
            try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: index)
        case "tensor the index lacks":
            map["head.bias"] = nil
            try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: index)
        case "malformed JSON":
            try Data("{\"weight_map\": {".utf8).write(to: index)
        case "no weight_map":
            try Data("{\"metadata\": {}}".utf8).write(to: index)
        default:
            map["head.bias"] = "../outside.safetensors"
            try JSONSerialization.data(withJSONObject: ["weight_map": map]).write(to: index)
        }
        for command in ["show", "tensors", "verify", "diff"] {
            let arguments = command == "diff" ? [command, scratch.url.path, scratch.url.path] : [command, scratch.url.path]
            let run = try MeasuredRun(Inspector.executable.url, arguments)
            #expect(run.status == 2, "\(broken), \(command): \(run.stderr)")
            #expect(run.stderr.hasPrefix("ckpt-inspect: \(named)"), "\(broken), \(command): \(run.stderr)")
            #expect(run.stderr.split(separator: "\n").count == 1, "\(broken), \(command): \(run.stderr)")
        }
    }
}

/// A Lightning file read in place still shows its progress, and `ls` ranks Lightning files.
@Suite struct InPlaceLightningTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Fixtures/lightning").standardized

    @Test func showAndLsReadEpochAndStepFromTheTree() throws {
        let show = try Inspector.run(["show", Self.fixtures.appendingPathComponent("last.ckpt").path])
        #expect(show.status == 0)
        #expect(show.stdout.contains("epoch        2"), "\(show.stdout)")
        #expect(show.stdout.contains("global_step  69"), "\(show.stdout)")
        #expect(show.stdout.contains("format       0 (engine torch zip, producer torch zip)\n"), "\(show.stdout)")
        let (status, document) = try Inspector.json(["ls", Self.fixtures.path])
        #expect(status == 0)
        let entries = try #require((document as? [String: Any])?["checkpoints"] as? [[String: Any]])
        let last = try #require(entries.first { $0["file"] as? String == "last.ckpt" })
        #expect(last["global_step"] as? Int == 69)
        #expect(last["error"] is NSNull)
    }
}

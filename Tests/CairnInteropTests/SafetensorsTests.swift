import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

/// Builds a safetensors file by hand, so tests can write ones that lie.
func rawSafetensors(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let headerBytes = Array(header.utf8)
    var bytes: [UInt8] = []
    withUnsafeBytes(of: (declaredLength ?? UInt64(headerBytes.count)).littleEndian) { bytes += $0 }
    return bytes + headerBytes + data
}

@Suite struct SafetensorsTests {
    @Test func writeThenReadGivesEqualTensorsAndMetadata() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("model.safetensors")
        let weight = CheckpointTensor(float32: [1, -2.5, 3, 4, 5, 6], shape: [2, 3])
        let steps = CheckpointTensor(dtype: .i64, shape: [], elements: [Int64(42)])
        let mask = CheckpointTensor(dtype: .bool, shape: [3], bytes: [1, 0, 1])
        try SafetensorsFile.write(tensors: [("w", weight), ("steps", steps), ("mask", mask)], metadata: ["format": "pt"], to: url)

        let bytes = try [UInt8](Data(contentsOf: url))
        let headerLength = bytes[0..<8].reversed().reduce(0) { $0 << 8 | Int($1) }
        #expect(headerLength % 8 == 0, "header is padded to 8 bytes")
        let contents = try SafetensorsFile.readContents(url)
        #expect(Array(contents.tensors.keys) == ["w", "steps", "mask"])
        #expect(contents.metadata == ["format": "pt"])
        #expect(try contents.tensors["w"]?.float32s() == [1, -2.5, 3, 4, 5, 6])
        #expect(contents.tensors["steps"]?.shape == [])
        #expect(try contents.tensors["mask"]?.bytes() == [1, 0, 1])
    }

    @Test func exportFlattensStateDictAndImportPutsItBack() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("export.safetensors")
        let bias = CheckpointTensor(float32: [0.5, 0.25], shape: [2])
        let tree = CheckpointValue.dictionary([
            "epoch": .int(3),
            "state_dict": .dictionary(["net": .dictionary(["0": .dictionary(["bias": .tensor(bias)])]), "note": .string("skipped")]),
        ])
        try SafetensorsFile.export(tree, to: url)
        let flat = try SafetensorsFile.read(url)
        #expect(try flat["/net.0.bias"]?.tensor?.float32s() == [0.5, 0.25])

        var target = CheckpointValue.dictionary(["epoch": .int(0)])
        try SafetensorsFile.importTensors(from: url, into: &target, at: ["state_dict"])
        #expect(try target["/state_dict/net.0.bias"]?.tensor?.float32s() == [0.5, 0.25])
    }

    @Test func fixtureStateDictExportsToSafetensors() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let tree = try TorchCheckpoint.read(lightningFixture("last.ckpt"))
        let url = scratch.file("last.safetensors")
        try SafetensorsFile.export(tree, to: url)
        let back = try SafetensorsFile.readContents(url)
        let weight = try #require(back.tensors["net.0.weight"])
        #expect(try weight.bytes() == tree["/state_dict/net.0.weight"]?.tensor?.bytes())
        #expect(back.tensors.keys.allSatisfy { !$0.hasPrefix(TorchCheckpoint.attributesKey) })
    }

    static let hostile: [(String, [UInt8], String)] = [
        ("overlapping offsets",
         rawSafetensors(header: #"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#, data: [UInt8](repeating: 0, count: 6)),
         "overlap"),
        ("hole between tensors",
         rawSafetensors(header: #"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}"#, data: [UInt8](repeating: 0, count: 6)),
         "hole"),
        ("header length beyond the file",
         rawSafetensors(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [7], declaredLength: 4096),
         "past the end"),
        ("header length over the cap",
         rawSafetensors(header: "{}", data: [], declaredLength: UInt64.max),
         "limit"),
        ("offsets beyond the data",
         rawSafetensors(header: #"{"a":{"dtype":"F32","shape":[1000000],"data_offsets":[0,4000000]}}"#, data: [1, 2, 3, 4]),
         "beyond"),
        ("byte count not numel times size",
         rawSafetensors(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: [1, 2, 3, 4]),
         "needs 8"),
        ("unknown dtype",
         rawSafetensors(header: #"{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#, data: [1]),
         "dtype"),
        ("header not starting with a brace",
         rawSafetensors(header: #" {"a":1}"#, data: []),
         "start"),
        ("header that is not JSON",
         rawSafetensors(header: "{not json", data: []),
         "JSON"),
        ("trailing bytes",
         rawSafetensors(header: #"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [1, 2]),
         "trailing"),
        ("shorter than the length field", [1, 2, 3], "shorter"),
    ]

    @Test(arguments: 0..<hostile.count)
    func hostileFilesAreRefusedWithTheFileNamed(_ index: Int) throws {
        let (label, bytes, fragment) = Self.hostile[index]
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("hostile-\(index).safetensors")
        try Data(bytes).write(to: url)
        do {
            _ = try SafetensorsFile.read(url)
            Issue.record("\(label): accepted")
        } catch let error as InteropError {
            #expect(error.description.contains(url.path), "\(label): \(error)")
            #expect(error.description.contains(fragment), "\(label): \(error)")
        }
    }
}

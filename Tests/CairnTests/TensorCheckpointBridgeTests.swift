import Foundation
import Testing
import Cairn

@Test func dtypeNamesAgreeBetweenEngines() {
    #expect(DType.allCases.map(\.rawValue) == CheckpointDType.allCases.map(\.rawValue))
    for dtype in DType.allCases { #expect(DType(CheckpointDType(dtype)) == dtype) }
}

@Test func tensorsOfEveryDTypeRoundTripThroughACheckpointFile() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-bridge-\(UUID())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    var rng = RandomGenerator(seed: 7)
    let source = Tensor.randn([3, 5], rng: &rng)
    var entries: [(String, Tensor)] = DType.allCases.map { ($0.rawValue, source.to($0)) }
    entries.append(("counter", Tensor(indices: [1 << 40], shape: [])))
    let tree = CheckpointValue.dictionary(.init(uniqueKeysWithValues: entries.map {
        (CheckpointKey.string($0.0), CheckpointValue.tensor(CheckpointTensor($0.1)))
    }))
    let url = directory.appendingPathComponent("bridge.ckpt")
    try Checkpoint.save(tree, to: url)

    let reader = try Checkpoint.open(url)
    for (name, original) in entries {
        let stored = try #require(try reader.tree()["/\(name)"]?.tensor)
        let restored = try Tensor(stored, name: name)
        #expect(restored.dtype == original.dtype, "\(name)")
        #expect(restored.shape == original.shape, "\(name)")
        #expect(restored.rawBytes == original.rawBytes, "\(name)")
    }
}

import CairnCheckpoint
import CairnInterop
import Foundation

/// One tensor as the reading commands list it.
struct InspectedTensor {
    var path: JSONPointer
    var dtype: CheckpointDType
    var shape: [Int]
    var byteCount: Int
    /// The stored SHA-256; nil where the format stores none (hashing would read every byte).
    var sha256: String?
}

/// A checkpoint as every reading command (and `convert`) sees it, whatever file
/// holds it: a Cairn SQLite file, or a foreign file read in place.
protocol InspectedCheckpoint {
    var file: String { get }
    var metadata: CheckpointMetadata { get }
    /// Cairn's engine version for its own files, else what wrote the foreign format.
    func engineVersion() throws -> String
    var tensors: [InspectedTensor] { get }
    /// The tree; tensor bytes stay where they are until read.
    func tree() throws -> CheckpointValue
    /// Statistics of one of ``tensors``, streamed.
    func statistics(of index: Int) throws -> TensorStatistics
    /// The checkpoint as one side of a diff.
    var diffSide: any DiffableCheckpoint { get }
}

/// Opens `path` for the reading commands: safetensors files, torch zip files and Hugging Face
/// sharded folders or index files in place (mapped; only headers, the zip directory and
/// `data.pkl` are read until a tensor is), Cairn files through SQLite.
func openForReading(_ path: String) throws -> any InspectedCheckpoint {
    let url = URL(fileURLWithPath: path)
    if let index = ShardedCheckpoint.index(at: url) {
        let tree: CheckpointValue = .dictionary(["state_dict": try ShardedCheckpoint.read(index: index)])
        let zipShards = try ShardedCheckpoint.shardFiles(index: index).filter { try CheckpointFileFormat(of: $0) == .torchZip }
        return try InPlaceCheckpoint(file: path, tree: tree, producer: "sharded (\(index.lastPathComponent))", zipFiles: zipShards)
    }
    switch try CheckpointFileFormat(of: url) {
    case .safetensors:
        return try InPlaceCheckpoint(file: path, tree: .dictionary(["state_dict": try SafetensorsFile.read(url)]),
                                     producer: "safetensors")
    case .torchZip:
        return try InPlaceCheckpoint(file: path, tree: try TorchCheckpoint.read(url, verifyingCRC: false), producer: "torch zip",
                                     zipFiles: [url])
    case .torchLegacy:
        return try InPlaceCheckpoint(file: path, tree: try TorchCheckpoint.read(url), producer: "torch legacy (before 1.6)")
    case .cairn:
        // The format is known already: Checkpoint.open does not sniff it again.
        return StoredCheckpoint(reader: try Checkpoint.open(url))
    }
}

/// A Cairn checkpoint through its SQLite reader.
struct StoredCheckpoint: InspectedCheckpoint {
    let reader: CheckpointReader
    var file: String { reader.file }
    var metadata: CheckpointMetadata { reader.metadata }
    var tensors: [InspectedTensor] {
        reader.tensorInfos.map { InspectedTensor(path: $0.path, dtype: $0.dtype, shape: $0.shape, byteCount: $0.byteCount, sha256: $0.sha256) }
    }

    func engineVersion() throws -> String {
        try reader.fileMetadata().first { $0.key == "engine_version" }?.value ?? ""
    }

    func tree() throws -> CheckpointValue { try reader.tree() }

    func statistics(of index: Int) throws -> TensorStatistics {
        try TensorStatistics.of(reader.tensorInfos[index], in: reader)
    }

    var diffSide: any DiffableCheckpoint { reader }
}

/// A foreign file's tree whose tensors lend their bytes in place.
struct InPlaceCheckpoint: InspectedCheckpoint {
    let file: String
    let metadata: CheckpointMetadata
    let tensors: [InspectedTensor]
    private let leaves: [CheckpointTensor]
    private let root: CheckpointValue
    private let producer: String
    /// The torch zip files behind it, whose members carry CRC-32s; the only checksums foreign formats have.
    let zipFiles: [URL]

    init(file: String, tree: CheckpointValue, producer: String, zipFiles: [URL] = []) throws {
        self.file = file
        root = tree
        self.producer = producer
        self.zipFiles = zipFiles
        var found: [(JSONPointer, CheckpointTensor)] = []
        Self.collect(tree, at: .root, into: &found)
        tensors = found.map { InspectedTensor(path: $0.0, dtype: $0.1.dtype, shape: $0.1.shape, byteCount: $0.1.byteCount, sha256: nil) }
        leaves = found.map(\.1)
        // As a Cairn save records them: the tree's top-level `epoch` and `global_step` (a Lightning file has both).
        func topLevelInteger(_ key: String) -> Int64? {
            if case let .int(value)? = tree[key] { return value }
            return nil
        }
        metadata = CheckpointMetadata(formatVersion: 0, snapshotID: 0, createdAt: "", producer: producer, producerVersion: "",
                                      epoch: topLevelInteger("epoch"), globalStep: topLevelInteger("global_step"), tensorCount: found.count,
                                      totalBytes: found.reduce(0) { $0 + $1.1.byteCount })
    }

    private static func collect(_ value: CheckpointValue, at path: JSONPointer, into found: inout [(JSONPointer, CheckpointTensor)]) {
        switch value {
        case let .tensor(tensor): found.append((path, tensor))
        case let .dictionary(entries): for (key, child) in entries { collect(child, at: path.appending(key), into: &found) }
        case let .list(items): for (index, child) in items.enumerated() { collect(child, at: path.appending(String(index)), into: &found) }
        default: break
        }
    }

    func engineVersion() throws -> String { producer }
    func tree() throws -> CheckpointValue { root }
    func statistics(of index: Int) throws -> TensorStatistics { try TensorStatistics.of(leaves[index]) }
    var diffSide: any DiffableCheckpoint { LentCheckpoint(file: file, tree: root) }
}

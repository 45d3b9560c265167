import CairnCheckpoint
import Foundation

/// One tensor as a ``ReadableCheckpoint`` lists it.
public struct ReadableTensor: Sendable {
    public var path: JSONPointer
    public var dtype: CheckpointDType
    public var shape: [Int]
    public var byteCount: Int
    /// The stored SHA-256; nil where the format stores none (hashing would read every byte).
    public var sha256: String?
}

/// A checkpoint opened for reading, whatever file holds it: a Cairn SQLite file, or a foreign
/// file (safetensors, torch, sharded) read in place. `ckpt-inspect` reads every file through it.
public protocol ReadableCheckpoint {
    var file: String { get }
    var metadata: CheckpointMetadata { get }
    /// Cairn's engine version for its own files, else what wrote the foreign format.
    func engineVersion() throws -> String
    var tensors: [ReadableTensor] { get }
    /// The tree; tensor bytes stay where they are until read.
    func tree() throws -> CheckpointValue
    /// Statistics of one of ``tensors``, streamed.
    func statistics(of index: Int) throws -> TensorStatistics
    /// The checkpoint as one side of a diff.
    var diffSide: any DiffableCheckpoint { get }
}

/// Opens `path` for reading, whatever it holds: safetensors files, torch files (zip or legacy)
/// and Hugging Face sharded folders or index files in place (mapped; only headers, the zip
/// directory and the pickles are read until a tensor is), Cairn files through SQLite.
public func openCheckpointForReading(_ path: String) throws -> any ReadableCheckpoint {
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
public struct StoredCheckpoint: ReadableCheckpoint {
    public let reader: CheckpointReader
    public var file: String { reader.file }
    public var metadata: CheckpointMetadata { reader.metadata }
    public var tensors: [ReadableTensor] {
        reader.tensorInfos.map { ReadableTensor(path: $0.path, dtype: $0.dtype, shape: $0.shape, byteCount: $0.byteCount, sha256: $0.sha256) }
    }

    public func engineVersion() throws -> String {
        try reader.fileMetadata().first { $0.key == "engine_version" }?.value ?? ""
    }

    public func tree() throws -> CheckpointValue { try reader.tree() }

    public func statistics(of index: Int) throws -> TensorStatistics {
        try TensorStatistics.of(reader.tensorInfos[index], in: reader)
    }

    public var diffSide: any DiffableCheckpoint { reader }
}

/// A foreign file's tree whose tensors lend their bytes in place.
public struct InPlaceCheckpoint: ReadableCheckpoint {
    public let file: String
    public let metadata: CheckpointMetadata
    public let tensors: [ReadableTensor]
    private let leaves: [CheckpointTensor]
    private let root: CheckpointValue
    private let producer: String
    /// The torch zip files behind it, whose members carry CRC-32s; the only checksums foreign formats have.
    public let zipFiles: [URL]

    /// `tree`'s tensors, listed in tree order; `producer` names the format; `zipFiles` are the torch zip files behind it.
    public init(file: String, tree: CheckpointValue, producer: String, zipFiles: [URL] = []) throws {
        self.file = file
        root = tree
        self.producer = producer
        self.zipFiles = zipFiles
        var found: [(JSONPointer, CheckpointTensor)] = []
        Self.collect(tree, at: .root, into: &found)
        tensors = found.map { ReadableTensor(path: $0.0, dtype: $0.1.dtype, shape: $0.1.shape, byteCount: $0.1.byteCount, sha256: nil) }
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

    public func engineVersion() throws -> String { producer }
    public func tree() throws -> CheckpointValue { root }
    public func statistics(of index: Int) throws -> TensorStatistics { try TensorStatistics.of(leaves[index]) }
    public var diffSide: any DiffableCheckpoint { LentCheckpoint(file: file, tree: root) }
}

/// What kind of checkpoint a file holds, told by its first bytes rather than its
/// name: Cairn's and Lightning's files both end in `.ckpt`.
public enum CheckpointFileFormat: Sendable, Equatable {
    case cairn, torchZip, torchLegacy, safetensors

    /// The format of the file at `url`; an unreadable file is an error naming it.
    public init(of url: URL) throws {
        try InputFile.requireReadableRegularFile(url.path)
        let head: [UInt8]
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            head = [UInt8](try handle.read(upToCount: 15) ?? Data())
        } catch {
            throw InteropError.io(file: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            self = .torchZip
        } else if head.starts(with: TorchLegacyFormat.magic) {
            self = .torchLegacy
        } else if head.count >= 9, head[8] == UInt8(ascii: "{") {
            // safetensors: an 8-byte little-endian header length, then a JSON object.
            self = .safetensors
        } else {
            self = .cairn
        }
    }
}

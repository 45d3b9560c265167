import Foundation

/// How a checkpoint is read.
public struct CheckpointLoadOptions: Sendable {
    /// Hash every tensor read and compare with its stored sha256 (on by default).
    public var verifyChecksums: Bool

    public init(verifyChecksums: Bool = true) {
        self.verifyChecksums = verifyChecksums
    }
}

/// The small facts about a snapshot, read without touching tensor bytes.
public struct CheckpointMetadata: Sendable, Equatable {
    public var formatVersion: Int64
    public var snapshotID: Int64
    public var createdAt: String
    public var producer: String
    public var producerVersion: String
    public var epoch: Int64?
    public var globalStep: Int64?
    public var tensorCount: Int
    public var totalBytes: Int

    public init(formatVersion: Int64, snapshotID: Int64, createdAt: String, producer: String, producerVersion: String,
                epoch: Int64?, globalStep: Int64?, tensorCount: Int, totalBytes: Int) {
        self.formatVersion = formatVersion
        self.snapshotID = snapshotID
        self.createdAt = createdAt
        self.producer = producer
        self.producerVersion = producerVersion
        self.epoch = epoch
        self.globalStep = globalStep
        self.tensorCount = tensorCount
        self.totalBytes = totalBytes
    }
}

/// Where one tensor lives in the file and what it should hash to.
public struct CheckpointTensorInfo: Sendable {
    public var path: JSONPointer
    public var dtype: CheckpointDType
    public var shape: [Int]
    public var byteCount: Int
    /// Lowercase hex SHA-256 of the tensor's bytes.
    public var sha256: String
    let nodeID: Int64
    let chunks: [StoredChunk]
}

/// One chunk of a tensor: the `chunks` row holding it, its length and its hash.
struct StoredChunk: Sendable {
    let rowID: Int64
    let byteCount: Int
    /// The chunk's content address (lowercase hex SHA-256 of its bytes).
    let sha256: String
}

/// An open checkpoint file: metadata and tensor index in memory, tensor bytes
/// on disk until read.
///
/// Safe to share across threads: reads through the one SQLite connection take turns.
public final class CheckpointReader: @unchecked Sendable {
    /// The file's path, named in every error.
    public let file: String
    public let metadata: CheckpointMetadata
    /// Every tensor, in tree order.
    public let tensorInfos: [CheckpointTensorInfo]
    let options: CheckpointLoadOptions
    let connection: SQLiteConnection
    let lock = NSLock()
    private let tensorIndexByNode: [Int64: Int]
    private let tensorIndexByPath: [JSONPointer: Int]

    /// No memory-mapped I/O: mapped file pages count in the process's resident
    /// set, so a 1 GB load peaked at twice the state's size, and the measured
    /// speed was no better than SQLite reading overflow pages straight into
    /// the caller's buffer.
    static let mmapSize = 0

    init(url: URL, options: CheckpointLoadOptions) throws {
        let file = url.path
        self.file = file
        self.options = options
        guard try InputFile.requireReadableRegularFile(file) > 0 else {
            throw CheckpointError.notACheckpoint(file: file, reason: "the file is empty")
        }
        connection = try Self.openValidated(file: file)
        try connection.execute("PRAGMA mmap_size=\(Self.mmapSize);")
        metadata = try Self.readMetadata(connection, file: file)
        tensorInfos = try Self.readTensorInfos(connection, file: file, snapshotID: metadata.snapshotID)
        tensorIndexByNode = Dictionary(tensorInfos.enumerated().map { ($1.nodeID, $0) }, uniquingKeysWith: { first, _ in first })
        tensorIndexByPath = Dictionary(tensorInfos.enumerated().map { ($1.path, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Opens read-only and defensively, then checks the application id and version.
    private static func openValidated(file: String) throws -> SQLiteConnection {
        let connection: SQLiteConnection
        let applicationID: Int64
        let version: Int64
        do {
            connection = try SQLiteConnection(file: file, mode: .readOnly)
            try connection.applyDefensiveSettings()
            applicationID = try connection.integer("PRAGMA application_id") ?? 0
            version = try connection.integer("PRAGMA user_version") ?? 0
        } catch let CheckpointError.sqlite(_, _, _, message) {
            throw CheckpointError.notACheckpoint(file: file, reason: message)
        }
        guard applicationID == CheckpointSchema.applicationID else {
            throw CheckpointError.notACheckpoint(
                file: file, reason: "application_id is \(applicationID), expected \(CheckpointSchema.applicationID)")
        }
        guard version <= CheckpointSchema.formatVersion else {
            throw CheckpointError.newerFormatVersion(file: file, fileVersion: version, supportedVersion: CheckpointSchema.formatVersion)
        }
        guard version >= 1 else {
            throw CheckpointError.notACheckpoint(file: file, reason: "user_version is \(version)")
        }
        return connection
    }

    private static func readMetadata(_ connection: SQLiteConnection, file: String) throws -> CheckpointMetadata {
        let statement = try connection.prepare("""
            SELECT id, created_at, producer, producer_version, epoch, global_step, tensor_count, total_bytes
            FROM snapshots ORDER BY id DESC LIMIT 1
            """)
        guard try statement.step() else {
            throw CheckpointError.corrupt(file: file, path: "", reason: "no snapshot in the snapshots table")
        }
        return CheckpointMetadata(
            formatVersion: CheckpointSchema.formatVersion,
            snapshotID: statement.int64(0),
            createdAt: statement.text(1) ?? "",
            producer: statement.text(2) ?? "",
            producerVersion: statement.text(3) ?? "",
            epoch: statement.isNull(4) ? nil : statement.int64(4),
            globalStep: statement.isNull(5) ? nil : statement.int64(5),
            tensorCount: Int(clamping: statement.int64(6)),
            totalBytes: Int(clamping: statement.int64(7)))
    }

    /// The tree of the snapshot; each tensor is a handle that reads its bytes on demand.
    public func tree() throws -> CheckpointValue {
        try lock.withLock {
            try CheckpointTreeBuilder(reader: self).build()
        }
    }

    func tensorInfo(forNode nodeID: Int64) -> CheckpointTensorInfo? {
        tensorIndexByNode[nodeID].map { tensorInfos[$0] }
    }

    /// The tensor stored at `path`, without reading its bytes.
    public func tensorInfo(at path: JSONPointer) throws -> CheckpointTensorInfo {
        guard let index = tensorIndexByPath[path] else { throw CheckpointError.noValue(file: file, path: path.description) }
        return tensorInfos[index]
    }
}

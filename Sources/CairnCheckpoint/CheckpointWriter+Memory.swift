import CSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension CheckpointWriter {
    /// An empty checkpoint file (4 KiB pages, header pragmas set, every table
    /// created), built once per process: a small save starts from a copy of
    /// it instead of running the DDL each time.
    private static let emptySmallFile: Result<[UInt8], CheckpointError> = Result {
        let connection = try SQLiteConnection(file: "(empty checkpoint template)", mode: .inMemory)
        try connection.execute("""
            PRAGMA page_size=\(CheckpointSchema.smallPageSize);
            PRAGMA application_id=\(CheckpointSchema.applicationID);
            PRAGMA user_version=\(CheckpointSchema.formatVersion);
            """)
        try connection.execute(CheckpointSchema.createTables)
        return try connection.withImage { Array($0) }
    }.mapError { $0 as? CheckpointError ?? .io(file: "(empty checkpoint template)", operation: "build", errno: 0) }

    /// Builds the whole file in memory, then writes it with one `write` and
    /// an fsync: for a small state this spares SQLite's page-by-page file
    /// writes and the per-save schema DDL, which cost more than the data.
    static func writeThroughMemory(_ tree: CheckpointValue, payloadBytes: Int, toNewFile path: String, options: CheckpointSaveOptions) throws {
        let connection = try SQLiteConnection(file: path, mode: .inMemory)
        // Room for the whole file up front: growing the image step by step
        // copied it several times. Chunks waste up to a page each, hence the margin.
        let expectedBytes = payloadBytes * 3 / 2 + (256 << 10)
        try emptySmallFile.get().withUnsafeBytes { try connection.loadImage($0, capacity: $0.count + expectedBytes) }
        // The database is private to this call: a rollback journal would only
        // copy pages for a rollback nobody will ask for.
        try connection.execute("PRAGMA journal_mode=OFF; PRAGMA secure_delete=OFF; BEGIN;")
        let writer = CheckpointWriter(connection: connection, options: options)
        try writer.insertSnapshot(of: tree, writeback: nil)
        try connection.execute("COMMIT;")
        try connection.withImage { try writeDurably($0, toNewFile: path) }
        try connection.close()
    }

    /// Creates `path` (which must not exist), writes `bytes`, fsyncs.
    private static func writeDurably(_ bytes: UnsafeRawBufferPointer, toNewFile path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CheckpointError.io(file: path, operation: "create", errno: errno) }
        defer { close(descriptor) }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.io(file: path, operation: "write", errno: errno)
            }
            offset += written
        }
        guard fsync(descriptor) == 0 else { throw CheckpointError.io(file: path, operation: "fsync", errno: errno) }
    }
}

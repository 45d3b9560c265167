import CSQLite
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension CheckpointWriter {
    /// An empty checkpoint file (4 KiB pages, header pragmas set, every table
    /// created), built once per process: a small save starts from a copy of
    /// it instead of running the DDL each time.
    static let emptySmallFile: Result<[UInt8], CheckpointError> = Result {
        let connection = try SQLiteConnection(file: "(empty checkpoint template)", mode: .inMemory)
        try connection.execute("""
            PRAGMA page_size=\(CheckpointSchema.smallPageSize);
            PRAGMA application_id=\(CheckpointSchema.applicationID);
            PRAGMA user_version=\(CheckpointSchema.formatVersion);
            """)
        try connection.execute(CheckpointSchema.createTables)
        return try connection.withImage { Array($0) }
    }.mapError { $0 as? CheckpointError ?? .io(file: "(empty checkpoint template)", operation: "build", errno: 0) }

    /// In-memory databases left by earlier saves, ready for the next one.
    /// Saves from several threads each take their own; at most a few are kept.
    private static let idleMemoryDatabases = Mutex<[ReusableMemoryDatabase]>([])
    private static let idleMemoryDatabasesKept = 2

    /// Builds the whole file in memory, then writes it with one `write` and
    /// an fsync: for a small state this spares SQLite's page-by-page file
    /// writes and the per-save schema DDL, which cost more than the data.
    static func writeThroughMemory(_ tree: CheckpointValue, payloadBytes: Int, toNewFile path: String, options: CheckpointSaveOptions) throws {
        // Room for the whole file up front: growing the image step by step
        // copied it several times. Chunks waste up to a page each, hence the margin.
        let expectedBytes = payloadBytes * 3 / 2 + (256 << 10)
        let template = try emptySmallFile.get()
        let database = try idleMemoryDatabases.withLock { $0.popLast() }
            ?? ReusableMemoryDatabase(template: template, capacity: template.count + expectedBytes)
        // A database that failed midway may hold half a snapshot: it is dropped, not kept.
        try database.statements.connection.execute("BEGIN;")
        let writer = CheckpointWriter(statements: database.statements, options: options)
        try writer.insertSnapshot(of: tree, writeback: nil)
        try database.statements.connection.execute("COMMIT;")
        try database.statements.resetAll()
        try database.statements.connection.withImage { try writeDurably($0, toNewFile: path) }
        try database.restore(template)
        idleMemoryDatabases.withLock { idle in
            if idle.count < idleMemoryDatabasesKept { idle.append(database) }
        }
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

/// One in-memory database that small saves use in turn, with its schema
/// parsed and its insert statements compiled once: a fresh connection per
/// save spent about a tenth of the save re-reading the schema and preparing.
///
/// Between saves its bytes go back to the empty template by writing the
/// template over the in-memory file. SQLite notices the file changed (its
/// change counter differs) and drops its cached pages, but keeps the parsed
/// schema, whose cookie is unchanged.
final class ReusableMemoryDatabase: @unchecked Sendable {
    let statements: SQLiteStatementCache

    init(template: [UInt8], capacity: Int) throws {
        let connection = try SQLiteConnection(file: "(in-memory checkpoint)", mode: .inMemory)
        try template.withUnsafeBytes { try connection.loadImage($0, capacity: capacity) }
        // The database is private to one save at a time: a rollback journal
        // would only copy pages for a rollback nobody will ask for.
        try connection.execute("PRAGMA journal_mode=OFF; PRAGMA secure_delete=OFF;")
        statements = SQLiteStatementCache(connection: connection)
    }

    /// Makes the database the empty template again, without a transaction open.
    func restore(_ template: [UInt8]) throws {
        let connection = statements.connection
        var file: UnsafeMutablePointer<sqlite3_file>?
        try connection.check(sqlite3_file_control(connection.rawHandle, "main", SQLITE_FCNTL_FILE_POINTER, &file),
                             "find the in-memory file")
        guard let file, let methods = file.pointee.pMethods,
              let truncate = methods.pointee.xTruncate, let write = methods.pointee.xWrite
        else { throw connection.error(SQLITE_MISUSE, "find the in-memory file's methods") }
        try connection.check(truncate(file, Int64(template.count)), "shrink the in-memory file")
        try template.withUnsafeBytes { bytes in
            try connection.check(write(file, bytes.baseAddress, Int32(bytes.count), 0), "restore the empty template")
        }
    }
}

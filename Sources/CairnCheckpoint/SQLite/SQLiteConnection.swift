import CSQLite
import Foundation

/// One open SQLite database; the only owner of a raw `sqlite3*` handle.
///
/// Every result code is checked where the call is made and becomes a
/// ``CheckpointError/sqlite(file:operation:code:message:)`` naming the file.
/// A connection is used by one thread at a time; the async saver hands it
/// from the caller to its writer thread, never sharing it.
final class SQLiteConnection: @unchecked Sendable {
    let file: String
    private var handle: OpaquePointer?

    /// How the file is opened: see [sqlite3_open_v2](https://sqlite.org/c3ref/open.html).
    enum Mode {
        case readOnly
        case createReadWrite
        /// A private in-memory database; `file` only names it in errors.
        case inMemory
    }

    /// Process-wide SQLite settings, applied before the first connection:
    /// memory statistics off took a quarter of the mutex and allocation work
    /// out of a small save. A failure (SQLite already in use) changes nothing.
    private static let processSettings: Void = {
        _ = cairn_sqlite3_disable_memory_statistics()
    }()

    init(file: String, mode: Mode) throws {
        Self.processSettings
        self.file = file
        var flags = SQLITE_OPEN_NOMUTEX
        switch mode {
        case .readOnly: flags |= SQLITE_OPEN_READONLY
        case .createReadWrite, .inMemory: flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        }
        var db: OpaquePointer?
        let code = sqlite3_open_v2(mode == .inMemory ? ":memory:" : file, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
            sqlite3_close_v2(db)
            throw CheckpointError.sqlite(file: file, operation: "open", code: code, message: message)
        }
        handle = db
        // Extended codes tell SQLITE_IOERR_SHORT_READ from other I/O errors.
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Closes now, reporting a failure that `deinit` would have to swallow.
    func close() throws {
        guard let db = handle else { return }
        handle = nil
        let code = sqlite3_close_v2(db)
        guard code == SQLITE_OK else {
            throw CheckpointError.sqlite(file: file, operation: "close", code: code, message: String(cString: sqlite3_errstr(code)))
        }
    }

    var rawHandle: OpaquePointer {
        guard let handle else { preconditionFailure("SQLiteConnection used after close (\(file))") }
        return handle
    }

    func error(_ code: Int32, _ operation: String) -> CheckpointError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
        return .sqlite(file: file, operation: operation, code: code, message: message)
    }

    func check(_ code: Int32, _ operation: @autoclosure () -> String) throws {
        guard code == SQLITE_OK else { throw error(code, operation()) }
    }

    /// Runs one or more statements that return no rows: see [sqlite3_exec](https://sqlite.org/c3ref/exec.html).
    func execute(_ sql: String) throws {
        try check(sqlite3_exec(rawHandle, sql, nil, nil, nil), sql)
    }

    func prepare(_ sql: String) throws -> SQLiteStatement {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v2(rawHandle, sql, -1, &statement, nil)
        guard code == SQLITE_OK, let statement else { throw error(code, "prepare \(sql)") }
        return SQLiteStatement(connection: self, handle: statement, sql: sql)
    }

    /// The first column of the first row, as an integer (for PRAGMA queries).
    func integer(_ sql: String) throws -> Int64? {
        let statement = try prepare(sql)
        guard try statement.step() else { return nil }
        return statement.isNull(0) ? nil : statement.int64(0)
    }

    var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(rawHandle) }

    /// Hardens a connection that reads a file someone else made:
    /// see [Defense against dark arts](https://sqlite.org/security.html).
    func applyDefensiveSettings() throws {
        try check(cairn_sqlite3_enable_defensive(rawHandle), "enable SQLITE_DBCONFIG_DEFENSIVE")
        try check(cairn_sqlite3_disable_triggers_and_views(rawHandle), "disable triggers and views")
        try execute("PRAGMA trusted_schema=OFF; PRAGMA cell_size_check=ON;")
    }

    /// Opens a BLOB for incremental reads: see [sqlite3_blob_open](https://sqlite.org/c3ref/blob_open.html).
    func openBlob(table: String, column: String, row: Int64) throws -> SQLiteBlob {
        var blob: OpaquePointer?
        let code = sqlite3_blob_open(rawHandle, "main", table, column, row, 0, &blob)
        guard code == SQLITE_OK, let blob else {
            sqlite3_blob_close(blob)
            throw error(code, "open blob \(table).\(column) row \(row)")
        }
        return SQLiteBlob(connection: self, handle: blob)
    }
}

/// A BLOB opened for reading; closed when released.
final class SQLiteBlob {
    private let connection: SQLiteConnection
    private let handle: OpaquePointer

    fileprivate init(connection: SQLiteConnection, handle: OpaquePointer) {
        self.connection = connection
        self.handle = handle
    }

    deinit { sqlite3_blob_close(handle) }

    var byteCount: Int { Int(sqlite3_blob_bytes(handle)) }

    /// Points the handle at another row of the same column, cheaper than reopening:
    /// see [sqlite3_blob_reopen](https://sqlite.org/c3ref/blob_reopen.html).
    func reopen(row: Int64) throws {
        try connection.check(sqlite3_blob_reopen(handle, row), "reopen blob row \(row)")
    }

    /// Copies the whole BLOB into `destination`, which must be exactly its size.
    func read(into destination: UnsafeMutableRawBufferPointer) throws {
        guard destination.count > 0, let base = destination.baseAddress else { return }
        try connection.check(sqlite3_blob_read(handle, base, Int32(destination.count), 0), "read blob")
    }
}

import CSQLite
import Foundation

/// A prepared statement; the only owner of a raw `sqlite3_stmt*` handle.
final class SQLiteStatement {
    private let connection: SQLiteConnection
    private let handle: OpaquePointer
    let sql: String

    init(connection: SQLiteConnection, handle: OpaquePointer, sql: String) {
        self.connection = connection
        self.handle = handle
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Advances one row; `true` while a row is available.
    /// See [sqlite3_step](https://sqlite.org/c3ref/step.html).
    @discardableResult
    func step() throws -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error(code, "step \(sql)")
        }
    }

    /// Makes the statement ready to run again with new bindings.
    func reset() throws {
        try connection.check(sqlite3_reset(handle), "reset \(sql)")
        try connection.check(sqlite3_clear_bindings(handle), "clear bindings \(sql)")
    }

    /// Makes the statement ready to run again, keeping the bindings for the
    /// caller to overwrite: cheaper than ``reset()`` when every parameter is rebound.
    func resetKeepingBindings() throws {
        try connection.check(sqlite3_reset(handle), "reset \(sql)")
    }

    // MARK: Binding (https://sqlite.org/c3ref/bind_blob.html); indices start at 1.

    func bind(_ value: Int64, at index: Int32) throws {
        try connection.check(sqlite3_bind_int64(handle, index, value), "bind int \(index) \(sql)")
    }

    func bind(_ value: Int, at index: Int32) throws {
        try bind(Int64(value), at: index)
    }

    func bind(_ value: Double, at index: Int32) throws {
        try connection.check(sqlite3_bind_double(handle, index, value), "bind double \(index) \(sql)")
    }

    func bind(_ value: String, at index: Int32) throws {
        // An explicit byte count keeps text with embedded NUL characters whole.
        var text = value
        let code = text.withUTF8 { utf8 in
            utf8.withMemoryRebound(to: CChar.self) { characters in
                guard let base = characters.baseAddress else {
                    return sqlite3_bind_text(handle, index, "", 0, cairn_sqlite3_transient())
                }
                return sqlite3_bind_text64(handle, index, base, UInt64(characters.count), cairn_sqlite3_transient(), UInt8(SQLITE_UTF8))
            }
        }
        try connection.check(code, "bind text \(index) \(sql)")
    }

    /// Binds UTF-8 text without a copy (`SQLITE_STATIC`): the caller keeps
    /// the bytes alive and unchanged until the statement is reset.
    func bindTextWithoutCopy(_ utf8: UnsafeRawBufferPointer, at index: Int32) throws {
        // A null pointer would bind NULL; empty text must stay TEXT.
        let base = utf8.baseAddress ?? UnsafeRawPointer(("" as StaticString).utf8Start)
        let code = sqlite3_bind_text64(handle, index, base.assumingMemoryBound(to: CChar.self), UInt64(utf8.count), nil, UInt8(SQLITE_UTF8))
        try connection.check(code, "bind text \(index) \(sql)")
    }

    /// Binds a string constant without a copy.
    func bindStatic(_ text: StaticString, at index: Int32) throws {
        try bindTextWithoutCopy(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount), at: index)
    }

    func bindNull(at index: Int32) throws {
        try connection.check(sqlite3_bind_null(handle, index), "bind null \(index) \(sql)")
    }

    /// Binds bytes SQLite copies at once (for small values).
    func bindCopying(_ bytes: UnsafeRawBufferPointer, at index: Int32) throws {
        try connection.check(
            sqlite3_bind_blob64(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(bytes.count), cairn_sqlite3_transient()),
            "bind blob \(index) \(sql)")
    }

    /// Binds bytes without a copy (`SQLITE_STATIC`): the caller keeps them
    /// alive and unchanged until the statement is stepped and reset.
    func bindWithoutCopy(_ bytes: UnsafeRawBufferPointer, at index: Int32) throws {
        try connection.check(
            sqlite3_bind_blob64(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), UInt64(bytes.count), nil),
            "bind blob \(index) \(sql)")
    }

    // MARK: Columns (https://sqlite.org/c3ref/column_blob.html); indices start at 0.

    func columnType(_ column: Int32) -> Int32 { sqlite3_column_type(handle, column) }
    func isNull(_ column: Int32) -> Bool { columnType(column) == SQLITE_NULL }
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    func blob(_ column: Int32) -> [UInt8] {
        let pointer = sqlite3_column_blob(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        guard let pointer, count > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

/// A column value with the storage class SQLite kept it in:
/// see [Datatypes In SQLite](https://sqlite.org/datatype3.html).
enum SQLiteValue {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

extension SQLiteStatement {
    func value(_ column: Int32) -> SQLiteValue {
        switch columnType(column) {
        case SQLITE_INTEGER: return .integer(int64(column))
        case SQLITE_FLOAT: return .real(double(column))
        case SQLITE_TEXT: return .text(text(column) ?? "")
        case SQLITE_BLOB: return .blob(blob(column))
        default: return .null
        }
    }
}

import CSQLite
import Foundation

/// One cell of a query result, in the storage class SQLite kept it in.
public enum CheckpointQueryValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    /// Only the length: chunk data can be hundreds of MiB.
    case blob(byteCount: Int)
}

/// The result of a read-only SQL query over a checkpoint file.
public struct CheckpointQueryResult: Sendable, Equatable {
    public var columns: [String]
    public var rows: [[CheckpointQueryValue]]
}

/// Runs read-only SQL over a checkpoint file for inspection tools.
public enum CheckpointQuery {
    /// Runs one statement over `url`, opened read-only and defensively with
    /// `query_only` on; refuses a statement that would write, and several statements.
    public static func run(_ sql: String, on url: URL, rowLimit: Int = 10_000) throws -> CheckpointQueryResult {
        // Opening through the reader checks the header before the query sees the file.
        _ = try Checkpoint.open(url, options: CheckpointLoadOptions(verifyChecksums: false))
        let file = url.path
        let connection = try SQLiteConnection(file: file, mode: .readOnly)
        try connection.applyDefensiveSettings()
        try connection.execute("PRAGMA query_only=ON;")
        var handle: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        let code = sql.withCString { text in
            let result = sqlite3_prepare_v2(connection.rawHandle, text, -1, &handle, &tail)
            let rest = tail.map { String(cString: $0) } ?? ""
            tail = nil
            return rest.trimmingCharacters(in: .whitespacesAndNewlines.union(CharacterSet(charactersIn: ";"))).isEmpty ? result : -1
        }
        defer { sqlite3_finalize(handle) }
        if code == -1 {
            throw CheckpointError.sqlite(file: file, operation: "query", code: SQLITE_MISUSE, message: "give exactly one SQL statement")
        }
        guard code == SQLITE_OK, let statement = handle else { throw connection.error(code, "query") }
        guard sqlite3_stmt_readonly(statement) != 0 else {
            throw CheckpointError.sqlite(file: file, operation: "query", code: SQLITE_READONLY, message: "refusing a statement that writes; only reads are allowed")
        }
        let columnCount = sqlite3_column_count(statement)
        let columns = (0..<columnCount).map { String(cString: sqlite3_column_name(statement, $0)) }
        var rows: [[CheckpointQueryValue]] = []
        while rows.count < rowLimit {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw connection.error(step, "query") }
            rows.append((0..<columnCount).map { cell(statement, $0) })
        }
        return CheckpointQueryResult(columns: columns, rows: rows)
    }

    private static func cell(_ statement: OpaquePointer, _ column: Int32) -> CheckpointQueryValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            guard let pointer = sqlite3_column_text(statement, column) else { return .text("") }
            let count = Int(sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self))
        case SQLITE_BLOB: return .blob(byteCount: Int(sqlite3_column_bytes(statement, column)))
        default: return .null
        }
    }
}

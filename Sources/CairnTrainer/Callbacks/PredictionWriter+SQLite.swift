import CSQLite
import Foundation

/// One SQLite file with the tables `batch_predictions` and `predictions`, made when first written;
/// each batch and the epoch go in one transaction. Floats are stored as REAL, which holds them exactly.
final class SQLitePredictionStore: PredictionStore {
    private let url: URL
    private var database: OpaquePointer?

    init(url: URL) throws {
        self.url = url
        for suffix in ["", "-journal", "-wal"] { try? FileManager.default.removeItem(atPath: url.path + suffix) }
        let code = sqlite3_open_v2(url.path, &database, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard code == SQLITE_OK else {
            let reason = database.map { String(cString: sqlite3_errmsg($0)) } ?? "code \(code)"
            sqlite3_close(database)
            database = nil
            throw PredictionWriterError.cannotWrite(path: url.path, reason: reason)
        }
    }

    deinit { sqlite3_close(database) }

    func appendBatch(_ batchIndex: Int, rows: [[Float]], columns: [String]) throws {
        if batchIndex == 0 { try createTable("batch_predictions", keys: ["batch_index", "row"], columns: columns) }
        try insert(into: "batch_predictions", keyCount: 2, columnCount: columns.count,
                   rows: rows.enumerated().map { ([batchIndex, $0.offset], $0.element) })
    }

    func writeEpoch(rows: [[Float]], columns: [String]) throws {
        try createTable("predictions", keys: ["row"], columns: columns)
        try insert(into: "predictions", keyCount: 1, columnCount: columns.count, rows: rows.enumerated().map { ([$0.offset], $0.element) })
    }

    func close() throws {
        guard let database else { return }
        let code = sqlite3_close(database)
        self.database = nil
        guard code == SQLITE_OK else { throw PredictionWriterError.cannotWrite(path: url.path, reason: "close failed with code \(code)") }
    }

    private func createTable(_ table: String, keys: [String], columns: [String]) throws {
        let definitions = keys.map { "\"\($0)\" INTEGER NOT NULL" } + columns.map { "\"\($0)\" REAL" }
        try execute("CREATE TABLE \"\(table)\" (\(definitions.joined(separator: ", ")));")
    }

    private func insert(into table: String, keyCount: Int, columnCount: Int, rows: [(keys: [Int], values: [Float])]) throws {
        let placeholders = Array(repeating: "?", count: keyCount + columnCount).joined(separator: ", ")
        var statement: OpaquePointer?
        try check(sqlite3_prepare_v2(database, "INSERT INTO \"\(table)\" VALUES (\(placeholders));", -1, &statement, nil))
        defer { sqlite3_finalize(statement) }
        try execute("BEGIN;")
        do {
            for row in rows {
                for (index, key) in row.keys.enumerated() { try check(sqlite3_bind_int64(statement, Int32(index + 1), Int64(key))) }
                for (index, value) in row.values.enumerated() {
                    try check(sqlite3_bind_double(statement, Int32(keyCount + index + 1), Double(value)))
                }
                let step = sqlite3_step(statement)
                guard step == SQLITE_DONE else { throw failure(step) }
                try check(sqlite3_reset(statement))
            }
            try execute("COMMIT;")
        } catch {
            try? execute("ROLLBACK;")
            throw error
        }
    }

    private func execute(_ sql: String) throws { try check(sqlite3_exec(database, sql, nil, nil, nil)) }

    private func check(_ code: Int32) throws {
        if code != SQLITE_OK { throw failure(code) }
    }

    private func failure(_ code: Int32) -> PredictionWriterError {
        let message = database.map { String(cString: sqlite3_errmsg($0)) } ?? "no database"
        return PredictionWriterError.cannotWrite(path: url.path, reason: "SQLite error \(code): \(message)")
    }
}

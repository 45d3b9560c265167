/// Prepared statements kept by their SQL text, so a connection that saves
/// again and again compiles each statement once instead of once per save.
///
/// Owned next to its connection (never by it): statements hold their
/// connection, and a cache inside the connection would keep both alive forever.
/// Like its connection it is used by one thread at a time, handed over, never shared.
final class SQLiteStatementCache: @unchecked Sendable {
    let connection: SQLiteConnection
    private var statementsBySQL: [String: SQLiteStatement] = [:]

    init(connection: SQLiteConnection) {
        self.connection = connection
    }

    /// The statement for `sql`, reset and with no bindings, ready to run.
    func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statementsBySQL[sql] {
            try cached.reset()
            return cached
        }
        let prepared = try connection.prepare(sql)
        statementsBySQL[sql] = prepared
        return prepared
    }

    /// Resets every statement, so none holds the database open between uses.
    func resetAll() throws {
        for statement in statementsBySQL.values { try statement.reset() }
    }
}

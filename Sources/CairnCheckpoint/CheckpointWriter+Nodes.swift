/// The `nodes` rows of a tree in preorder, with every key, string value and
/// path laid end to end in one byte arena: a save binds them straight from
/// the arena instead of allocating a String per node.
struct FlattenedNodes {
    /// One node's row; text columns are ranges of `text`.
    struct Row {
        let parent: Int64?
        let position: Int
        let key: Column
        let kind: CheckpointSchema.NodeKind
        let value: Column
        let path: Range<Int>
    }

    /// What a row binds for `key` or `value`.
    enum Column {
        case null
        case integer(Int64)
        case real(Double)
        case text(Range<Int>)
        case bytes([UInt8])
    }

    private(set) var rows: [Row] = []
    private(set) var text: [UInt8] = []
    /// Tensor leaves in preorder; their node id is their index in `rows`.
    private(set) var tensorJobs: [TensorJob] = []

    init(_ tree: CheckpointValue) {
        rows.reserveCapacity(256)
        text.reserveCapacity(16 << 10)
        var path: [UInt8] = []
        add(tree, parent: nil, position: 0, key: nil, path: &path, depth: 0)
    }

    private mutating func store(_ bytes: some Collection<UInt8>) -> Range<Int> {
        let start = text.count
        text.append(contentsOf: bytes)
        return start ..< text.count
    }

    private mutating func add(
        _ value: CheckpointValue, parent: Int64?, position: Int, key: CheckpointKey?, path: inout [UInt8], depth: Int
    ) {
        precondition(depth <= CheckpointSchema.maximumDepth,
                     "Checkpoint.save: tree deeper than \(CheckpointSchema.maximumDepth) levels at \(String(decoding: path, as: UTF8.self))")
        let id = Int64(rows.count)
        let keyColumn: Column
        switch key {
        case let .string(name)?: keyColumn = .text(store(name.utf8))
        case let .int(number)?: keyColumn = .integer(number)
        case nil: keyColumn = .null
        }
        let kind: CheckpointSchema.NodeKind
        var valueColumn = Column.null
        switch value {
        case .dictionary: kind = .dictionary
        case .list: kind = .list
        case let .int(number): kind = .int; valueColumn = .integer(number)
        case let .double(number): kind = .double; valueColumn = .real(number)
        case let .string(string): kind = .string; valueColumn = .text(store(string.utf8))
        case let .bool(flag): kind = .bool; valueColumn = .integer(flag ? 1 : 0)
        case .null: kind = .null
        case let .bytes(bytes): kind = .bytes; valueColumn = .bytes(bytes)
        case let .tensor(tensor):
            kind = .tensor
            tensorJobs.append(TensorJob(nodeID: id, path: String(decoding: path, as: UTF8.self), tensor: tensor))
        }
        rows.append(Row(parent: parent, position: position, key: keyColumn, kind: kind, value: valueColumn, path: store(path)))

        let parentLength = path.count
        switch value {
        case let .dictionary(entries):
            for (index, (childKey, child)) in entries.enumerated() {
                switch childKey {
                case let .string(name): Self.appendToken(name, to: &path)
                case let .int(number): Self.appendToken(String(number), to: &path)
                }
                add(child, parent: id, position: index, key: childKey, path: &path, depth: depth + 1)
                path.removeSubrange(parentLength...)
            }
        case let .list(items):
            for (index, child) in items.enumerated() {
                Self.appendToken(String(index), to: &path)
                add(child, parent: id, position: index, key: nil, path: &path, depth: depth + 1)
                path.removeSubrange(parentLength...)
            }
        default:
            break
        }
    }

    /// Appends `/` and the token, escaped as RFC 6901 requires.
    private static func appendToken(_ token: String, to path: inout [UInt8]) {
        path.append(UInt8(ascii: "/"))
        let utf8 = token.utf8
        // Escapes are rare: copy whole tokens, go byte by byte only when needed.
        guard utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else {
            path.append(contentsOf: utf8)
            return
        }
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "~"): path.append(contentsOf: [UInt8(ascii: "~"), UInt8(ascii: "0")])
            case UInt8(ascii: "/"): path.append(contentsOf: [UInt8(ascii: "~"), UInt8(ascii: "1")])
            default: path.append(byte)
            }
        }
    }
}

extension CheckpointWriter {
    /// Rows per multi-row INSERT: SQLite's per-statement cost then falls on
    /// eight rows (measured 4.4k instead of 6.7k instructions a row).
    static let nodeRowsPerStatement = 8

    /// Inserts every node's row; the root has id 0.
    func insertRows(of nodes: FlattenedNodes) throws {
        let columns = "INSERT INTO nodes(snapshot_id, id, parent_id, position, key, kind, value, path) VALUES "
        let oneRow = "(?, ?, ?, ?, ?, ?, ?, ?)"
        let batched = nodes.rows.count >= Self.nodeRowsPerStatement
            ? try statements.statement(columns + Array(repeating: oneRow, count: Self.nodeRowsPerStatement).joined(separator: ", "))
            : nil
        let single = try statements.statement(columns + oneRow)
        try nodes.text.withUnsafeBytes { text in
            var start = 0
            while start < nodes.rows.count {
                let statement: SQLiteStatement
                if let batched, nodes.rows.count - start >= Self.nodeRowsPerStatement { statement = batched } else { statement = single }
                let count = statement === single ? 1 : Self.nodeRowsPerStatement
                try statement.resetKeepingBindings()
                for offset in 0..<count {
                    try bind(nodes.rows[start + offset], id: Int64(start + offset), to: statement, at: Int32(offset * 8), text: text)
                }
                try statement.step()
                start += count
            }
            // The bindings point into `text`; none may outlive this closure.
            try batched?.reset()
            try single.reset()
        }
    }

    /// Binds all eight columns of `row` (every one, so no stale binding of an
    /// earlier row remains) at parameters `base + 1 ... base + 8`.
    private func bind(_ row: FlattenedNodes.Row, id: Int64, to statement: SQLiteStatement, at base: Int32, text: UnsafeRawBufferPointer) throws {
        func bind(_ column: FlattenedNodes.Column, at index: Int32) throws {
            switch column {
            case .null: try statement.bindNull(at: index)
            case let .integer(number): try statement.bind(number, at: index)
            case let .real(number): try statement.bind(number, at: index)
            case let .text(range): try statement.bindTextWithoutCopy(UnsafeRawBufferPointer(rebasing: text[range]), at: index)
            case let .bytes(bytes): try bytes.withUnsafeBytes { try statement.bindCopying($0, at: index) }
            }
        }
        try statement.bind(snapshotID, at: base + 1)
        try statement.bind(id, at: base + 2)
        if let parent = row.parent { try statement.bind(parent, at: base + 3) } else { try statement.bindNull(at: base + 3) }
        try statement.bind(row.position, at: base + 4)
        try bind(row.key, at: base + 5)
        try statement.bindStatic(row.kind.staticName, at: base + 6)
        try bind(row.value, at: base + 7)
        try statement.bindTextWithoutCopy(UnsafeRawBufferPointer(rebasing: text[row.path]), at: base + 8)
    }
}

extension CheckpointSchema.NodeKind {
    /// The raw value with a fixed address, so SQLite can bind it without a copy.
    var staticName: StaticString {
        switch self {
        case .dictionary: "dict"
        case .list: "list"
        case .int: "int"
        case .double: "double"
        case .string: "string"
        case .bool: "bool"
        case .null: "null"
        case .bytes: "bytes"
        case .tensor: "tensor"
        }
    }
}

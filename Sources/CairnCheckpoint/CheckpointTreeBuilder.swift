import Foundation
import OrderedCollections

/// Rebuilds the ordered tree from `nodes` rows, refusing cycles, orphans,
/// absurd depth and values whose storage class disagrees with their kind.
struct CheckpointTreeBuilder {
    private struct NodeRow {
        let id: Int64
        let key: SQLiteValue
        let kind: String
        let value: SQLiteValue
    }

    let reader: CheckpointReader
    private var file: String { reader.file }

    func build() throws -> CheckpointValue {
        let statement = try reader.connection.prepare("""
            SELECT id, parent_id, key, kind, value FROM nodes
            WHERE snapshot_id = ? ORDER BY parent_id NULLS FIRST, position, id
            """)
        try statement.bind(reader.metadata.snapshotID, at: 1)
        var roots: [NodeRow] = []
        var children: [Int64: [NodeRow]] = [:]
        var rowCount = 0
        while try statement.step() {
            rowCount += 1
            let row = NodeRow(id: statement.int64(0), key: statement.value(2), kind: statement.text(3) ?? "", value: statement.value(4))
            if statement.isNull(1) {
                roots.append(row)
            } else {
                children[statement.int64(1), default: []].append(row)
            }
        }
        guard roots.count == 1, let root = roots.first else {
            throw CheckpointError.corrupt(file: file, path: "", reason: "\(roots.count) root nodes, expected 1")
        }
        var visited = 0
        let tree = try value(of: root, path: .root, depth: 0, children: children, visited: &visited)
        guard visited == rowCount else {
            throw CheckpointError.corrupt(
                file: file, path: "", reason: "\(rowCount - visited) nodes unreachable from the root (a cycle or a dangling parent)")
        }
        return tree
    }

    private func value(
        of row: NodeRow, path: JSONPointer, depth: Int, children: [Int64: [NodeRow]], visited: inout Int
    ) throws -> CheckpointValue {
        func corrupt(_ reason: String) -> CheckpointError { .corrupt(file: file, path: path.description, reason: reason) }
        guard depth <= CheckpointSchema.maximumDepth else {
            throw corrupt("tree deeper than \(CheckpointSchema.maximumDepth) levels")
        }
        visited += 1
        guard let kind = CheckpointSchema.NodeKind(rawValue: row.kind) else { throw corrupt("unknown node kind '\(row.kind.prefix(40))'") }
        let rowChildren = children[row.id] ?? []
        if kind != .dictionary && kind != .list && !rowChildren.isEmpty {
            throw corrupt("a \(kind.rawValue) node has children")
        }
        switch (kind, row.value) {
        case (.dictionary, _):
            var entries = OrderedDictionary<CheckpointKey, CheckpointValue>()
            for child in rowChildren {
                let key: CheckpointKey
                switch child.key {
                case let .text(text): key = .string(text)
                case let .integer(number): key = .int(number)
                default: throw corrupt("dictionary entry \(child.id) has no string or integer key")
                }
                guard entries[key] == nil else { throw corrupt("duplicate key '\(key)'") }
                entries[key] = try value(of: child, path: path.appending(key), depth: depth + 1, children: children, visited: &visited)
            }
            return .dictionary(entries)
        case (.list, _):
            var items: [CheckpointValue] = []
            for (index, child) in rowChildren.enumerated() {
                items.append(try value(of: child, path: path.appending(String(index)), depth: depth + 1, children: children, visited: &visited))
            }
            return .list(items)
        case let (.int, .integer(number)): return .int(number)
        case let (.double, .real(number)): return .double(number)
        case let (.double, .integer(number)): return .double(Double(number))
        case let (.string, .text(text)): return .string(text)
        case let (.bool, .integer(number)) where number == 0 || number == 1: return .bool(number == 1)
        case (.null, .null): return .null
        case let (.bytes, .blob(bytes)): return .bytes(bytes)
        case (.bytes, .null): return .bytes([])
        case (.tensor, _):
            guard let info = reader.tensorInfo(forNode: row.id) else { throw corrupt("tensor node has no row in the tensors table") }
            return .tensor(CheckpointTensor(
                dtype: info.dtype, shape: info.shape, storage: .external(StoredTensorBytes(reader: reader, info: info))))
        default:
            throw corrupt("a \(kind.rawValue) node holds a value of the wrong type")
        }
    }
}

import Foundation

extension CheckpointReader {
    /// More dimensions than any real tensor has; more means a hostile file.
    static let maximumRank = 64

    /// Reads and cross-checks the `tensors` and `tensor_chunks` rows, so that a
    /// lying byte count or a missing chunk is caught before any allocation.
    static func readTensorInfos(_ connection: SQLiteConnection, file: String, snapshotID: Int64) throws -> [CheckpointTensorInfo] {
        var chunksByNode: [Int64: [StoredChunk]] = [:]
        let chunkRows = try connection.prepare("""
            SELECT tc.node_id, tc.chunk_index, c.id, length(c.data), c.sha256
            FROM tensor_chunks AS tc LEFT JOIN chunks AS c ON c.id = tc.chunk_id
            WHERE tc.snapshot_id = ? ORDER BY tc.node_id, tc.chunk_index
            """)
        try chunkRows.bind(snapshotID, at: 1)
        var missing: [Int64: Int64] = [:]
        var misnumbered: Set<Int64> = []
        while try chunkRows.step() {
            let nodeID = chunkRows.int64(0)
            let chunkIndex = chunkRows.int64(1)
            var list = chunksByNode[nodeID, default: []]
            if chunkIndex != Int64(list.count) { misnumbered.insert(nodeID) }
            if chunkRows.isNull(2) {
                missing[nodeID] = missing[nodeID] ?? chunkIndex
            }
            list.append(StoredChunk(rowID: chunkRows.int64(2), byteCount: Int(clamping: chunkRows.int64(3)),
                                   sha256: chunkRows.text(4) ?? ""))
            chunksByNode[nodeID] = list
        }

        var infos: [CheckpointTensorInfo] = []
        let tensorRows = try connection.prepare("""
            SELECT node_id, path, dtype, shape, byte_count, sha256, chunk_count
            FROM tensors WHERE snapshot_id = ? ORDER BY node_id
            """)
        try tensorRows.bind(snapshotID, at: 1)
        while try tensorRows.step() {
            let nodeID = tensorRows.int64(0)
            let pathText = tensorRows.text(1) ?? ""
            func corrupt(_ reason: String) -> CheckpointError { .corrupt(file: file, path: pathText, reason: reason) }
            guard let path = try? JSONPointer(parsing: pathText) else { throw corrupt("malformed path") }
            guard let dtype = CheckpointDType(rawValue: tensorRows.text(2) ?? "") else {
                throw corrupt("unknown dtype '\(tensorRows.text(2) ?? "")'")
            }
            let shapeText = tensorRows.text(3) ?? ""
            guard let shape = parseShape(shapeText) else { throw corrupt("malformed shape '\(shapeText.prefix(100))'") }
            guard let expected = CheckpointTensor.byteCount(dtype: dtype, shape: shape) else {
                throw corrupt("shape \(shapeText) of \(dtype.rawValue) has a byte count beyond Int")
            }
            let storedCount = tensorRows.int64(4)
            guard storedCount == Int64(expected) else {
                throw corrupt("byte_count \(storedCount) disagrees with \(dtype.rawValue) of shape \(shapeText) (\(expected) bytes)")
            }
            let sha256 = tensorRows.text(5) ?? ""
            guard sha256.utf8.count == 64, sha256.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
                throw corrupt("sha256 '\(sha256.prefix(80))' is not 64 lowercase hex digits")
            }
            if let chunkIndex = missing[nodeID] { throw corrupt("chunk \(chunkIndex) is missing from the chunks table") }
            if misnumbered.contains(nodeID) { throw corrupt("chunk indices are not 0, 1, 2, ...") }
            let chunks = chunksByNode[nodeID] ?? []
            guard chunks.count == Int(clamping: tensorRows.int64(6)) else {
                throw corrupt("\(chunks.count) chunks stored, chunk_count says \(tensorRows.int64(6))")
            }
            let chunkTotal = chunks.reduce(0) { $0 &+ $1.byteCount }
            guard chunkTotal == expected, chunks.allSatisfy({ $0.byteCount > 0 }) else {
                throw corrupt("chunks hold \(chunkTotal) bytes, the tensor needs \(expected)")
            }
            infos.append(CheckpointTensorInfo(
                path: path, dtype: dtype, shape: shape, byteCount: expected, sha256: sha256, nodeID: nodeID, chunks: chunks))
        }
        return infos
    }

    /// Parses the `shape` column, a JSON array of non-negative integers.
    static func parseShape(_ text: String) -> [Int]? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("["), trimmed.hasSuffix("]"), trimmed.utf8.count <= 2048 else { return nil }
        let body = trimmed.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
        if body.isEmpty { return [] }
        let parts = body.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count <= maximumRank else { return nil }
        var shape: [Int] = []
        for part in parts {
            guard let dimension = Int(part.trimmingCharacters(in: .whitespaces)), dimension >= 0 else { return nil }
            shape.append(dimension)
        }
        return shape
    }
}

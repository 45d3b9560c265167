import Crypto
import Foundation

extension CheckpointWriter {
    /// Tensors borrowed at once; bounded so nested borrows stay shallow.
    static let tensorsPerBatch = 64

    /// Writes every tensor's chunks, hashing chunk i+1 on another core while
    /// SQLite writes chunk i, and storing each distinct chunk once.
    /// `meanwhile` runs once the first batch's hashing has started, so other
    /// rows (the nodes) go in while the first hashes are computed.
    func writeTensors(_ jobs: [TensorJob], writeback: EarlyWriteback?, meanwhile: @escaping () throws -> Void) throws {
        let statements = TensorStatements(
            insertChunk: try statements.statement("INSERT INTO chunks(sha256, byte_count, data) VALUES (?, ?, ?)"),
            insertLink: try statements.statement(
                "INSERT INTO tensor_chunks(snapshot_id, node_id, chunk_index, chunk_id) VALUES (?, ?, ?, ?)"),
            insertTensor: try statements.statement("""
                INSERT INTO tensors(snapshot_id, node_id, path, dtype, shape, byte_count, sha256, chunk_count)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """))
        var chunkIDs: [String: Int64] = [:]
        var pending: (() throws -> Void)? = meanwhile
        var start = jobs.startIndex
        while start < jobs.endIndex {
            let batch = jobs[start..<min(start + Self.tensorsPerBatch, jobs.endIndex)]
            try Self.withBorrowedBytes(of: batch, borrowed: []) { buffers in
                try writeBatch(batch, buffers: buffers, statements: statements, chunkIDs: &chunkIDs, writeback: writeback, meanwhile: pending)
            }
            pending = nil
            start = batch.endIndex
        }
        try pending?()
    }

    private struct TensorStatements {
        let insertChunk: SQLiteStatement
        let insertLink: SQLiteStatement
        let insertTensor: SQLiteStatement
    }

    /// Holds every tensor of the batch open at once (storage lends bytes only
    /// inside a closure), so both hashing threads can read them.
    private static func withBorrowedBytes(
        of jobs: ArraySlice<TensorJob>, borrowed: [SharedBytes], _ body: ([SharedBytes]) throws -> Void
    ) throws {
        guard let job = jobs.first else { return try body(borrowed) }
        try job.tensor.withUnsafeBytes { bytes in
            precondition(bytes.count == job.byteCount,
                          "Checkpoint.save: storage lends \(bytes.count) bytes for \(job.tensor.dtype.rawValue) of shape \(job.tensor.shape) at \(job.path), expected \(job.byteCount)")
            try withBorrowedBytes(of: jobs.dropFirst(), borrowed: borrowed + [SharedBytes(buffer: bytes)], body)
        }
    }

    private func chunkRanges(byteCount: Int) -> [Range<Int>] {
        stride(from: 0, to: byteCount, by: options.chunkSize).map { $0 ..< min($0 + options.chunkSize, byteCount) }
    }

    private func writeBatch(
        _ batch: ArraySlice<TensorJob>, buffers: [SharedBytes], statements: TensorStatements, chunkIDs: inout [String: Int64],
        writeback: EarlyWriteback?, meanwhile: (() throws -> Void)?
    ) throws {
        let chunks: [SharedBytes] = buffers.flatMap { shared in
            chunkRanges(byteCount: shared.buffer.count).map { SharedBytes(buffer: UnsafeRawBufferPointer(rebasing: shared.buffer[$0])) }
        }
        let chunkHashes = BackgroundResults(count: chunks.count) { hexString(SHA256.hash(data: chunks[$0].buffer)) }
        // A one-chunk tensor's checksum is its chunk's; only longer ones need a second pass.
        let tensorHashes = BackgroundResults(count: buffers.count) { index -> String? in
            let bytes = buffers[index].buffer
            return bytes.count > options.chunkSize || bytes.isEmpty ? hexString(SHA256.hash(data: bytes)) : nil
        }
        defer {
            chunkHashes.cancelAndWait()
            tensorHashes.cancelAndWait()
        }
        try meanwhile?()
        var chunkCursor = 0
        for (offset, job) in batch.enumerated() {
            var firstChunkHash: String?
            let ranges = chunkRanges(byteCount: buffers[offset].buffer.count)
            for (chunkIndex, range) in ranges.enumerated() {
                let digest = chunkHashes.value(at: chunkCursor)
                let bytes = chunks[chunkCursor].buffer
                chunkCursor += 1
                firstChunkHash = firstChunkHash ?? digest
                let chunkID: Int64
                if let existing = chunkIDs[digest] {
                    chunkID = existing
                } else {
                    let insert = statements.insertChunk
                    try insert.reset()
                    try insert.bind(digest, at: 1)
                    try insert.bind(range.count, at: 2)
                    try insert.bindWithoutCopy(bytes, at: 3)
                    try insert.step()
                    chunkID = connection.lastInsertedRowID
                    chunkIDs[digest] = chunkID
                    writeback?.wrote(range.count)
                }
                let link = statements.insertLink
                try link.reset()
                try link.bind(snapshotID, at: 1)
                try link.bind(job.nodeID, at: 2)
                try link.bind(chunkIndex, at: 3)
                try link.bind(chunkID, at: 4)
                try link.step()
            }
            guard let tensorHash = tensorHashes.value(at: offset) ?? firstChunkHash else {
                preconditionFailure("Checkpoint.save: no checksum computed for \(job.path)")
            }
            let insert = statements.insertTensor
            try insert.reset()
            try insert.bind(snapshotID, at: 1)
            try insert.bind(job.nodeID, at: 2)
            try insert.bind(job.path, at: 3)
            try insert.bind(job.tensor.dtype.rawValue, at: 4)
            try insert.bind("[" + job.tensor.shape.map(String.init).joined(separator: ",") + "]", at: 5)
            try insert.bind(job.byteCount, at: 6)
            try insert.bind(tensorHash, at: 7)
            try insert.bind(ranges.count, at: 8)
            try insert.step()
        }
    }
}

import Crypto
import Foundation

/// Streaming reads for inspection tools: one chunk in memory at a time, so a
/// tool can hash, summarise or compare tensors of any size.
extension CheckpointReader {
    /// The rows of the file-wide `metadata` table (`format_version`, `engine_version`, …) as text.
    public func fileMetadata() throws -> [(key: String, value: String)] {
        try lock.withLock {
            let statement = try connection.prepare("SELECT key, value FROM metadata ORDER BY key")
            var rows: [(key: String, value: String)] = []
            while try statement.step() {
                rows.append((statement.text(0) ?? "", statement.text(1) ?? ""))
            }
            return rows
        }
    }

    /// Number of stored chunks of a tensor; zero for an empty tensor.
    public func chunkCount(of info: CheckpointTensorInfo) -> Int { info.chunks.count }

    /// The bytes of chunk `index` of a tensor, read on their own (no checksum:
    /// a tensor's checksum covers all its chunks, see ``verifyChecksums()``).
    public func chunkBytes(of info: CheckpointTensorInfo, at index: Int) throws -> [UInt8] {
        precondition(info.chunks.indices.contains(index),
                     "CheckpointReader.chunkBytes: chunk \(index) of \(info.path) outside 0..<\(info.chunks.count)")
        let chunk = info.chunks[index]
        return try lock.withLock {
            do {
                let blob = try connection.openBlob(table: "chunks", column: "data", row: chunk.rowID)
                guard blob.byteCount == chunk.byteCount else {
                    throw CheckpointError.corrupt(file: file, path: info.path.description, reason: "chunk \(chunk.rowID) changed size")
                }
                return try [UInt8](unsafeUninitializedCapacity: chunk.byteCount) { buffer, count in
                    try blob.read(into: UnsafeMutableRawBufferPointer(buffer))
                    count = chunk.byteCount
                }
            } catch let CheckpointError.sqlite(_, operation, code, message) {
                throw CheckpointError.corrupt(
                    file: file, path: info.path.description, reason: "SQLite error \(code) during \(operation): \(message)")
            }
        }
    }

    /// Hashes every tensor chunk by chunk and returns each tensor whose bytes
    /// do not match its stored SHA-256 or cannot be read, in tree order.
    public func verifyChecksums() -> [CheckpointError] {
        var failures: [CheckpointError] = []
        for info in tensorInfos {
            do {
                var hasher = SHA256()
                for index in info.chunks.indices {
                    let bytes = try chunkBytes(of: info, at: index)
                    hasher.update(data: bytes)
                }
                let actual = hexString(hasher.finalize())
                if actual != info.sha256 {
                    failures.append(.checksumMismatch(file: file, path: info.path.description, expected: info.sha256, actual: actual))
                }
            } catch let error as CheckpointError {
                failures.append(error)
            } catch {
                failures.append(.corrupt(file: file, path: info.path.description, reason: "\(error)"))
            }
        }
        return failures
    }
}

import Crypto
import Dispatch
import Foundation

extension CheckpointReader {
    /// Reads the tensor at `path` straight into `buffer`, which must be exactly its size.
    public func readTensor(at path: JSONPointer, into buffer: UnsafeMutableRawBufferPointer) throws {
        try read([(try tensorInfo(at: path), buffer)])
    }

    /// Reads many tensors into the caller's buffers, hashing one while reading the next.
    public func readTensors(_ requests: [(path: JSONPointer, buffer: UnsafeMutableRawBufferPointer)]) throws {
        try read(requests.map { (try tensorInfo(at: $0.path), $0.buffer) })
    }

    /// A copy of the tensor's bytes.
    public func tensorBytes(at path: JSONPointer) throws -> [UInt8] {
        let info = try tensorInfo(at: path)
        return try [UInt8](unsafeUninitializedCapacity: info.byteCount) { buffer, count in
            try read([(info, UnsafeMutableRawBufferPointer(buffer))])
            count = info.byteCount
        }
    }

    /// The whole tree with every tensor read into memory owned by the tree.
    public func materializedTree() throws -> CheckpointValue {
        let lazyTree = try tree()
        let buffers = tensorInfos.map { LargeBuffer(byteCount: $0.byteCount) }
        try read(zip(tensorInfos, buffers).map { ($0, $1.buffer) })
        let bufferByPath = Dictionary(zip(tensorInfos.map(\.path), buffers), uniquingKeysWith: { first, _ in first })
        func replaceTensors(_ value: CheckpointValue, _ path: JSONPointer) -> CheckpointValue {
            switch value {
            case var .tensor(tensor):
                if let buffer = bufferByPath[path] { tensor.storage = .external(buffer) }
                return .tensor(tensor)
            case let .dictionary(entries):
                var copy = entries
                for (key, child) in entries { copy[key] = replaceTensors(child, path.appending(key)) }
                return .dictionary(copy)
            case let .list(items):
                return .list(items.enumerated().map { replaceTensors($1, path.appending(String($0))) })
            default:
                return value
            }
        }
        return replaceTensors(lazyTree, .root)
    }

    func read(_ items: [(info: CheckpointTensorInfo, buffer: UnsafeMutableRawBufferPointer)]) throws {
        try lock.withLock {
            let verifier = options.verifyChecksums ? ChecksumVerifier(file: file) : nil
            defer { verifier?.waitUntilIdle() }
            var blob: SQLiteBlob?
            for (info, buffer) in items {
                guard buffer.count == info.byteCount else {
                    throw CheckpointError.bufferSizeMismatch(file: file, path: info.path.description, expected: info.byteCount, actual: buffer.count)
                }
                verifier?.begin()
                var offset = 0
                for chunk in info.chunks {
                    let destination = UnsafeMutableRawBufferPointer(rebasing: buffer[offset ..< offset + chunk.byteCount])
                    prefault(destination)
                    do {
                        if let open = blob {
                            try open.reopen(row: chunk.rowID)
                        } else {
                            blob = try connection.openBlob(table: "chunks", column: "data", row: chunk.rowID)
                        }
                        guard blob?.byteCount == chunk.byteCount else {
                            throw CheckpointError.corrupt(file: file, path: info.path.description, reason: "chunk \(chunk.rowID) changed size")
                        }
                        try blob?.read(into: destination)
                    } catch let CheckpointError.sqlite(_, operation, code, message) {
                        blob = nil
                        throw CheckpointError.corrupt(
                            file: file, path: info.path.description, reason: "SQLite error \(code) during \(operation): \(message)")
                    }
                    verifier?.update(SharedBytes(buffer: UnsafeRawBufferPointer(destination)))
                    offset += chunk.byteCount
                }
                verifier?.end(expected: info.sha256, path: info.path.description)
            }
            verifier?.waitUntilIdle()
            if let failure = verifier?.firstFailure { throw failure }
        }
    }
}

/// Maps in the pages of `destination` in one call before SQLite fills it, instead of
/// one page fault per 4 KiB as the bytes land: a third of a raw read's CPU time
/// was spent in those faults. Only whole pages inside the range are touched; on a
/// kernel without `MADV_POPULATE_WRITE` (before Linux 5.14) the call fails and
/// the pages fault in as before.
private func prefault(_ destination: UnsafeMutableRawBufferPointer) {
    guard let base = destination.baseAddress, destination.count >= prefaultMinimum else { return }
    let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
    let start = (Int(bitPattern: base) + pageSize - 1) / pageSize * pageSize
    let end = (Int(bitPattern: base) + destination.count) / pageSize * pageSize
    guard end > start, let pageStart = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(pageStart, end - start, prefaultAdvice)
}

/// `MADV_POPULATE_WRITE` from <linux/mman.h>, which Glibc's module does not export.
private let prefaultAdvice: Int32 = 23

/// Smaller destinations gain less than the system call costs.
private let prefaultMinimum = 256 << 10

/// Hashes tensors in the background as their chunks arrive. Each tensor goes
/// to the less busy of two serial lanes, so two tensors hash at once on a
/// two-core machine while the reading thread goes on: SHA-256 (about 2 GB/s a
/// core) is slower than reading from the page cache.
private final class ChecksumVerifier: @unchecked Sendable {
    /// One serial queue and the hash state only it touches.
    private final class Lane: @unchecked Sendable {
        let queue = DispatchQueue(label: "cairn.checkpoint.verify")
        var hasher = SHA256()
        /// Bytes queued but not yet hashed; guarded by the verifier's lock.
        var backlog = 0
    }

    private let file: String
    private let lanes = [Lane(), Lane()]
    private var current = 0
    private let lock = NSLock()
    private var failures: [CheckpointError] = []

    init(file: String) { self.file = file }

    /// Starts hashing a new tensor on the lane with the smaller backlog.
    func begin() {
        current = lock.withLock { lanes.indices.min { lanes[$0].backlog < lanes[$1].backlog } ?? 0 }
        let lane = lanes[current]
        lane.queue.async { lane.hasher = SHA256() }
    }

    func update(_ bytes: SharedBytes) {
        let lane = lanes[current]
        lock.withLock { lane.backlog += bytes.buffer.count }
        lane.queue.async { [self] in
            lane.hasher.update(bufferPointer: bytes.buffer)
            lock.withLock { lane.backlog -= bytes.buffer.count }
        }
    }

    func end(expected: String, path: String) {
        let lane = lanes[current]
        lane.queue.async { [self] in
            let actual = hexString(lane.hasher.finalize())
            if actual != expected {
                lock.withLock { failures.append(.checksumMismatch(file: file, path: path, expected: expected, actual: actual)) }
            }
        }
    }

    func waitUntilIdle() {
        for lane in lanes { lane.queue.sync {} }
    }

    /// The mismatch found first in tree order.
    var firstFailure: CheckpointError? {
        lock.withLock { failures.first }
    }
}

/// Bytes of a tensor inside an open checkpoint, read each time they are lent.
struct StoredTensorBytes: CheckpointTensorStorage {
    let reader: CheckpointReader
    let info: CheckpointTensorInfo

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let buffer = LargeBuffer(byteCount: info.byteCount)
        try reader.read([(info, buffer.buffer)])
        return try body(UnsafeRawBufferPointer(buffer.buffer))
    }
}

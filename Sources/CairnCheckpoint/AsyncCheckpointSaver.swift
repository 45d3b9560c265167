import Foundation

/// Saves checkpoints on a background thread so training goes on during the write.
///
/// ``save(_:to:)`` blocks only while tensor bytes are copied into a staging
/// buffer (tensors marked ``CheckpointTensor/isImmutableUntilSaved`` are not
/// copied at all). One save is in flight at a time: the next call first waits
/// for it, and an error from it is thrown by that next call, by ``wait()`` or by
/// ``close()`` — never dropped.
public final class AsyncCheckpointSaver: @unchecked Sendable {
    private let options: CheckpointSaveOptions
    private let lock = NSLock()
    private let inFlight = DispatchGroup()
    // Guarded by `lock`.
    private var failure: (any Error)?
    // Touched only by the caller's thread between saves, while nothing is in flight.
    private let staging = StagingArena()

    public init(options: CheckpointSaveOptions = .init()) {
        self.options = options
    }

    deinit {
        // A save still running owns staged bytes and a temporary file; let it end.
        inFlight.wait()
    }

    /// Stages `tree` and starts writing it to `url`, after waiting for the previous save.
    public func save(_ tree: CheckpointValue, to url: URL) throws {
        try wait()
        let staged = try staging.stage(tree)
        let options = self.options
        inFlight.enter()
        let thread = Thread { [self] in
            defer { inFlight.leave() }
            do {
                try Checkpoint.save(staged, to: url, options: options)
            } catch {
                lock.withLock { failure = error }
            }
        }
        thread.name = "cairn.checkpoint.save"
        thread.start()
    }

    /// Waits until no save is in flight, throwing the error of the last one if it failed.
    public func wait() throws {
        inFlight.wait()
        let error = lock.withLock { () -> (any Error)? in
            defer { failure = nil }
            return failure
        }
        if let error { throw error }
    }

    /// Waits for the last save and reports its outcome; the saver stays usable.
    public func close() throws {
        try wait()
    }
}

/// One reusable buffer holding copies of the tensors of the save in flight;
/// reused so later saves copy into pages that are already mapped.
final class StagingArena: @unchecked Sendable {
    private var arena = LargeBuffer(byteCount: 0)
    private var storage: UnsafeMutableRawBufferPointer { arena.buffer }

    /// Copies every mutable tensor of `tree` into the arena and returns a tree
    /// pointing at the copies. Only call when no earlier staged tree is in use.
    func stage(_ tree: CheckpointValue) throws -> CheckpointValue {
        let needed = tree.tensors().reduce(0) { total, entry in
            entry.tensor.isImmutableUntilSaved ? total : total + Self.aligned(entry.tensor.byteCount)
        }
        if storage.count < needed {
            arena = LargeBuffer(byteCount: needed)
        }
        var offset = 0
        return try copyTensors(in: tree, offset: &offset)
    }

    private static func aligned(_ count: Int) -> Int { (count + 63) & ~63 }

    private func copyTensors(in value: CheckpointValue, offset: inout Int) throws -> CheckpointValue {
        switch value {
        case var .tensor(tensor) where !tensor.isImmutableUntilSaved:
            let slice = UnsafeMutableRawBufferPointer(rebasing: storage[offset ..< offset + tensor.byteCount])
            try tensor.withUnsafeBytes { source in
                precondition(source.count == slice.count,
                             "AsyncCheckpointSaver.save: storage lends \(source.count) bytes for shape \(tensor.shape), expected \(slice.count)")
                slice.copyMemory(from: source)
            }
            offset += Self.aligned(tensor.byteCount)
            tensor.storage = .external(StagedBytes(arena: arena, bytes: UnsafeRawBufferPointer(slice)))
            return .tensor(tensor)
        case let .dictionary(entries):
            var copy = entries
            for (key, child) in entries { copy[key] = try copyTensors(in: child, offset: &offset) }
            return .dictionary(copy)
        case let .list(items):
            return .list(try items.map { try copyTensors(in: $0, offset: &offset) })
        default:
            return value
        }
    }
}

/// A tensor's copy inside the staging arena; keeps the arena's memory alive.
private struct StagedBytes: CheckpointTensorStorage, @unchecked Sendable {
    let arena: LargeBuffer
    let bytes: UnsafeRawBufferPointer

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try body(bytes)
    }
}

import Foundation
import Logging

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
    // Held for a whole `save` call, so concurrent callers take turns and the
    // arena is restaged only while nothing is in flight.
    private let callerLock = NSLock()
    private let staging = StagingArena()
    private static let logger = Logger(label: "cairn.checkpoint")

    public init(options: CheckpointSaveOptions = .init()) {
        self.options = options
    }

    deinit {
        // A save still running owns staged bytes and a temporary file; let it end.
        inFlight.wait()
        if let failure {
            Self.logger.error("asynchronous checkpoint save failed and nobody called wait() or close()",
                              metadata: ["error": "\(failure)"])
        }
    }

    /// Stages `tree` and starts writing it to `url`, after waiting for the previous save.
    public func save(_ tree: CheckpointValue, to url: URL) throws {
        callerLock.lock()
        defer { callerLock.unlock() }
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

    /// A tensor to copy and the arena slice it goes to.
    private struct CopyJob: @unchecked Sendable {
        let source: CheckpointTensor
        let destination: UnsafeMutableRawBufferPointer
    }

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
        var jobs: [CopyJob] = []
        let staged = redirectTensors(in: tree, offset: &offset, jobs: &jobs)
        try copyInTwoHalves(jobs)
        return staged
    }

    /// Two threads copy at once: the first save into a fresh arena is bound
    /// by page faults, which proceed in parallel.
    private func copyInTwoHalves(_ jobs: [CopyJob]) throws {
        let total = jobs.reduce(0) { $0 + $1.destination.count }
        var running = 0
        let split = jobs.firstIndex { job in
            running += job.destination.count
            return running * 2 >= total
        }.map { $0 + 1 } ?? jobs.count
        let halves = [jobs[..<split], jobs[split...]]
        let failure = FirstFailure()
        DispatchQueue.concurrentPerform(iterations: halves.count) { half in
            do {
                for job in halves[half] {
                    try job.source.withUnsafeBytes { source in
                        precondition(source.count == job.destination.count,
                                     "AsyncCheckpointSaver.save: storage lends \(source.count) bytes for shape \(job.source.shape), expected \(job.destination.count)")
                        job.destination.copyMemory(from: source)
                    }
                }
            } catch {
                failure.record(error)
            }
        }
        if let error = failure.error { throw error }
    }

    private static func aligned(_ count: Int) -> Int { (count + 63) & ~63 }

    /// Assigns each mutable tensor its arena slice and points the tree at it.
    private func redirectTensors(in value: CheckpointValue, offset: inout Int, jobs: inout [CopyJob]) -> CheckpointValue {
        switch value {
        case var .tensor(tensor) where !tensor.isImmutableUntilSaved:
            let slice = UnsafeMutableRawBufferPointer(rebasing: storage[offset ..< offset + tensor.byteCount])
            jobs.append(CopyJob(source: tensor, destination: slice))
            offset += Self.aligned(tensor.byteCount)
            tensor.storage = .external(StagedBytes(arena: arena, bytes: UnsafeRawBufferPointer(slice)))
            return .tensor(tensor)
        case let .dictionary(entries):
            var copy = entries
            for (key, child) in entries { copy[key] = redirectTensors(in: child, offset: &offset, jobs: &jobs) }
            return .dictionary(copy)
        case let .list(items):
            return .list(items.map { redirectTensors(in: $0, offset: &offset, jobs: &jobs) })
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

/// The first error thrown by any of several threads.
private final class FirstFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?

    func record(_ error: any Error) {
        lock.withLock { stored = stored ?? error }
    }

    var error: (any Error)? { lock.withLock { stored } }
}

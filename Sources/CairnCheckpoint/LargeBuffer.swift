/// Heap memory for tensor bytes (a loaded tensor, the async saver's staging
/// arena), freed with its last reference.
///
/// Huge pages (`MADV_HUGEPAGE`) were tried: they cut first-touch faults 8-fold
/// when the kernel had free huge pages, but stalled for seconds in direct
/// compaction when it had not, so plain pages are used.
final class LargeBuffer: CheckpointTensorStorage, @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer

    init(byteCount: Int) {
        buffer = .allocate(byteCount: byteCount, alignment: 64)
    }

    deinit { buffer.deallocate() }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try body(UnsafeRawBufferPointer(buffer))
    }
}

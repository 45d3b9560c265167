import CSQLite
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts the kernel writing a growing file to disk while it is still being
/// written, so the final fsync has little left to do. Without it, writeback
/// of 1 GB waited until the fsync and took a quarter of the save.
final class EarlyWriteback: @unchecked Sendable {
    /// Bytes written between two writeback requests.
    static let interval = 64 << 20

    private let descriptor: Int32
    private let queue = DispatchQueue(label: "cairn.checkpoint.writeback")
    private var unflushed = 0

    init(path: String) {
        descriptor = open(path, O_RDONLY)
    }

    /// Records `count` more bytes handed to SQLite; every `interval` bytes,
    /// asks (without waiting) for the dirty pages to be written out.
    func wrote(_ count: Int) {
        guard descriptor >= 0 else { return }
        unflushed += count
        guard unflushed >= Self.interval else { return }
        unflushed = 0
        let descriptor = self.descriptor
        queue.async {
            // Advice only: if it fails, the final fsync writes everything.
            _ = cairn_start_writeback(descriptor)
        }
    }

    deinit {
        queue.sync {}
        if descriptor >= 0 { close(descriptor) }
    }
}

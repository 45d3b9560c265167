import CairnCheckpoint
import Foundation

/// A file mapped read-only: the kernel reads a page only when something touches it, so
/// opening a file of any size costs what is asked of it, not its size.
///
/// A file truncated by another process while mapped makes the next touch of a lost page
/// fault (SIGBUS); read-only checkpoints are not expected to shrink under a reader.
final class MappedFile: @unchecked Sendable {
    private let base: UnsafeMutableRawPointer?
    /// The file's size when it was mapped.
    let count: Int
    /// Whether `base` is a heap copy (``init(copying:)``) rather than a mapping.
    private let isCopy: Bool

    init(path: String) throws {
        let size = try InputFile.requireReadableRegularFile(path)
        count = size
        isCopy = false
        guard size > 0 else {
            base = nil
            return
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw InteropError.io(file: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard let pointer = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0), pointer != MAP_FAILED else {
            throw InteropError.io(file: path, reason: "cannot map \(size) bytes: \(String(cString: strerror(errno)))")
        }
        base = pointer
    }

    /// Bytes held in memory, read as a file would be (for readers of in-memory input).
    init(copying bytes: [UInt8]) {
        count = bytes.count
        isCopy = true
        guard !bytes.isEmpty else {
            base = nil
            return
        }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        base = copy
    }

    deinit {
        guard let base else { return }
        if isCopy { base.deallocate() } else { munmap(base, count) }
    }

    /// The whole file.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// A tensor's bytes lent straight from a mapped file; the mapping lives as long as any tensor using it.
struct MappedTensorBytes: CheckpointTensorStorage {
    let mapping: MappedFile
    let range: Range<Int>

    /// The bytes `bytes` (relative to this range's start), lent from the same mapping.
    func subrange(_ bytes: Range<Int>) -> MappedTensorBytes {
        MappedTensorBytes(mapping: mapping, range: (range.lowerBound + bytes.lowerBound)..<(range.lowerBound + bytes.upperBound))
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try body(UnsafeRawBufferPointer(rebasing: mapping.bytes[range]))
    }
}

import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file by building a temporary sibling and renaming it over the
/// target, so a crash leaves either the old file or the new one.
///
/// The temporary is named `.<name>.tmp-<pid>-<random>` so readers and people
/// can tell it apart; the next save to the same target deletes leftovers.
struct AtomicReplacement {
    let target: String
    let directory: String
    let temporary: String

    private static let logger = Logger(label: "cairn.checkpoint")

    static func temporaryPrefix(forTargetNamed name: String) -> String { ".\(name).tmp-" }

    init(target: URL) {
        let standardized = target.standardizedFileURL
        self.target = standardized.path
        self.directory = standardized.deletingLastPathComponent().path
        let random = UInt32.random(in: 0 ... .max)
        let name = Self.temporaryPrefix(forTargetNamed: standardized.lastPathComponent)
            + "\(getpid())-\(String(random, radix: 16))"
        self.temporary = (directory as NSString).appendingPathComponent(name)
    }

    /// Deletes temporaries earlier saves to this target left behind when killed.
    func removeLeftovers() {
        // readdir directly: listing through FileManager built a String per
        // entry and cost more than the rest of a small save's bookkeeping.
        let prefix = Array(Self.temporaryPrefix(forTargetNamed: (target as NSString).lastPathComponent).utf8)
        guard let stream = opendir(directory) else { return }
        var leftovers: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String? in
                guard raw.starts(with: prefix) else { return nil }
                return String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if let name { leftovers.append(name) }
        }
        closedir(stream)
        for name in leftovers {
            let path = (directory as NSString).appendingPathComponent(name)
            Self.logger.info("removing a temporary file left by an interrupted save", metadata: ["path": "\(path)"])
            unlink(path)
        }
    }

    /// Renames the finished temporary, already flushed to disk by its writer,
    /// over the target and flushes the directory so the rename itself
    /// survives a power cut.
    func commitSyncedTemporary() throws {
        // Holding a large old file open moves the cost of freeing its blocks
        // and cached pages (0.17 s for 1 GB) from rename to a background
        // close. A small one is freed faster than a thread starts for it.
        var previous = open(target, O_RDONLY)
        var status = stat()
        if previous >= 0 && (fstat(previous, &status) != 0 || Int(status.st_size) < Self.backgroundCloseBytes) {
            close(previous)
            previous = -1
        }
        defer { Self.closeInBackground(previous) }
        guard rename(temporary, target) == 0 else {
            throw CheckpointError.io(file: target, operation: "rename from \(temporary)", errno: errno)
        }
        try Self.fsync(path: directory, flags: O_RDONLY | O_DIRECTORY)
    }

    /// Old files at least this large are closed (and so freed) in the background.
    static let backgroundCloseBytes = 64 << 20

    private static func closeInBackground(_ descriptor: Int32) {
        guard descriptor >= 0 else { return }
        DispatchQueue.global(qos: .utility).async { _ = close(descriptor) }
    }

    func discard() {
        unlink(temporary)
    }

    static func fsync(path: String, flags: Int32) throws {
        let descriptor = open(path, flags)
        guard descriptor >= 0 else { throw CheckpointError.io(file: path, operation: "open for fsync", errno: errno) }
        defer { close(descriptor) }
        guard Glibc.fsync(descriptor) == 0 else { throw CheckpointError.io(file: path, operation: "fsync", errno: errno) }
    }
}

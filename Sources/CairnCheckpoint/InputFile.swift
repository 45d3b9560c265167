import Foundation

/// Checks that a path names a regular file this process may read, before any reader opens it.
///
/// Opening a FIFO for reading blocks until a writer appears and reading a directory fails
/// deep inside Foundation, so every reader of a checkpoint, safetensors or torch file asks
/// here first and gets one error naming the path instead.
public enum InputFile {
    /// The size in bytes of the regular file at `path`, or an error naming `path` and
    /// what it is instead (missing, unreadable, a directory, a FIFO, a socket, a device).
    ///
    /// The checks run on one descriptor opened without blocking, so a FIFO never stalls
    /// and a path replaced between the checks cannot pass them.
    @discardableResult
    public static func requireReadableRegularFile(_ path: String) throws -> Int {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw CheckpointError.io(file: path, operation: "open", errno: errno) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw CheckpointError.io(file: path, operation: "stat", errno: errno) }
        let kind = status.st_mode & S_IFMT
        guard kind == S_IFREG else {
            throw CheckpointError.notARegularFile(file: path, kind: Self.kindName(kind))
        }
        return Int(status.st_size)
    }

    static func kindName(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: return "directory"
        case S_IFIFO: return "FIFO"
        case S_IFSOCK: return "socket"
        case S_IFCHR: return "character device"
        case S_IFBLK: return "block device"
        default: return "special file"
        }
    }
}

import Foundation

/// Everything that can go wrong reading or writing a checkpoint, naming the file
/// and, where one applies, the JSON Pointer of the value inside it.
public enum CheckpointError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file is missing, empty, not SQLite, or SQLite but not a Cairn checkpoint.
    case notACheckpoint(file: String, reason: String)
    /// The path names a directory, FIFO, socket or device where a file was expected.
    case notARegularFile(file: String, kind: String)
    /// The file was written by a newer format than this reader understands.
    case newerFormatVersion(file: String, fileVersion: Int64, supportedVersion: Int64)
    /// The file is a checkpoint but its content is inconsistent.
    case corrupt(file: String, path: String, reason: String)
    /// A tensor's bytes do not hash to the checksum stored with it.
    case checksumMismatch(file: String, path: String, expected: String, actual: String)
    /// SQLite reported an error; `code` is its extended result code.
    case sqlite(file: String, operation: String, code: Int32, message: String)
    /// A system call on the file or its directory failed.
    case io(file: String, operation: String, errno: Int32)
    /// A JSON Pointer string does not follow RFC 6901.
    case malformedPointer(String, reason: String)
    /// No value exists at the pointer.
    case noValue(file: String, path: String)
    /// A value could not be converted to or from a `Codable` type.
    case coding(path: String, reason: String)
    /// The caller's buffer does not match the tensor's byte count.
    case bufferSizeMismatch(file: String, path: String, expected: Int, actual: Int)

    public var description: String {
        switch self {
        case let .notACheckpoint(file, reason):
            return "\(file): not a Cairn checkpoint (\(reason))"
        case let .notARegularFile(file, kind):
            return "\(file): is a \(kind), not a regular file"
        case let .newerFormatVersion(file, fileVersion, supportedVersion):
            return "\(file): format version \(fileVersion) is newer than the supported version \(supportedVersion)"
        case let .corrupt(file, path, reason):
            return "\(file) at '\(path)': corrupt checkpoint (\(reason))"
        case let .checksumMismatch(file, path, expected, actual):
            return "\(file) at '\(path)': sha256 mismatch, stored \(expected), computed \(actual)"
        case let .sqlite(file, operation, code, message):
            return "\(file): SQLite error \(code) during \(operation): \(message)"
        case let .io(file, operation, errno):
            return "\(file): \(operation) failed: \(String(cString: strerror(errno)))"
        case let .malformedPointer(pointer, reason):
            return "malformed JSON Pointer '\(pointer)': \(reason)"
        case let .noValue(file, path):
            return "\(file): no value at '\(path)'"
        case let .coding(path, reason):
            return "at '\(path)': \(reason)"
        case let .bufferSizeMismatch(file, path, expected, actual):
            return "\(file) at '\(path)': buffer holds \(actual) bytes, tensor needs \(expected)"
        }
    }
}

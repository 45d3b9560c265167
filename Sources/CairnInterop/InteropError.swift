/// Why a safetensors file or a PyTorch checkpoint could not be read or written;
/// every case names the file it is about.
public enum InteropError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened, read or written.
    case io(file: String, reason: String)
    /// A safetensors file breaks the format's rules.
    case malformedSafetensors(file: String, reason: String)
    /// A zip archive is truncated, compressed where it must be stored, or lacks a member.
    case malformedArchive(file: String, reason: String)
    /// A zip member's path leaves the archive's root folder.
    case unsafeMemberPath(file: String, member: String)
    /// The pickle is malformed at `offset` (an opcode's position in `data.pkl`, or in the file for the legacy format).
    case malformedPickle(file: String, offset: Int, reason: String)
    /// The pickle names a global outside the allow-list; nothing was called.
    case forbiddenGlobal(file: String, module: String, name: String)
    /// A size, depth or count limit was exceeded.
    case limitExceeded(file: String, reason: String)
    /// A tensor's storage reference, dtype, size or stride is inconsistent.
    case invalidTensor(file: String, reason: String)
    /// A sharded checkpoint's index is malformed or disagrees with its shards.
    case malformedIndex(file: String, reason: String)
    /// The tree holds something the target format cannot express.
    case unsupportedValue(file: String, reason: String)

    public var description: String {
        switch self {
        case let .io(file, reason): return "\(file): \(reason)"
        case let .malformedSafetensors(file, reason): return "\(file): not a valid safetensors file: \(reason)"
        case let .malformedArchive(file, reason): return "\(file): not a valid PyTorch zip archive: \(reason)"
        case let .unsafeMemberPath(file, member): return "\(file): zip member path '\(member)' escapes the archive root"
        case let .malformedPickle(file, offset, reason): return "\(file): pickle at byte \(offset): \(reason)"
        case let .forbiddenGlobal(file, module, name): return "\(file): pickle names the forbidden global \(module).\(name); refused, nothing was executed"
        case let .limitExceeded(file, reason): return "\(file): limit exceeded: \(reason)"
        case let .invalidTensor(file, reason): return "\(file): invalid tensor: \(reason)"
        case let .malformedIndex(file, reason): return "\(file): not a valid sharded checkpoint index: \(reason)"
        case let .unsupportedValue(file, reason): return "\(file): cannot export: \(reason)"
        }
    }
}

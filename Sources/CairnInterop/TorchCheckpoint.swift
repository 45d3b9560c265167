import CairnCheckpoint
import Foundation
import OrderedCollections
import ZIPFoundation

/// Reads and writes PyTorch's zip checkpoint format (`torch.save`, Lightning
/// `.ckpt`) as checkpoint trees, without running any Python.
public enum TorchCheckpoint {
    /// Key under which a dict's pickled attributes are kept (the state_dict's
    /// `_metadata`, set by `BUILD`), so that export can restore them.
    public static let attributesKey = "@attributes"
    /// Deepest nesting of containers accepted in a pickle.
    public static let maximumDepth = 512
    /// Most tree nodes one file may expand to (shared objects count once per reference).
    public static let maximumNodes = 20_000_000
    /// Most bytes a tensor view may expand to beyond its storage's own size
    /// (views with zero or overlapping strides, e.g. from `expand`).
    public static let maximumViewExpansionBytes = 256 << 20

    /// The content of the torch zip checkpoint at `url` as a tree: dicts with
    /// string or int keys, lists (tuples too), scalars and contiguous tensors.
    public static func read(_ url: URL) throws -> CheckpointValue {
        let archive = try TorchArchiveReader(url: url)
        let pickle = try archive.member("data.pkl")
        return try unpickle(pickle, file: url.path) { pid in try archive.storage(persistentID: pid) }
    }

    /// A bare pickle (such as a `.ckpt`'s `data.pkl`) as a tree, through the
    /// restricted unpickler; a tensor in it is an error, as no storages come with it.
    public static func readPickle(_ bytes: [UInt8], file: String) throws -> CheckpointValue {
        try unpickle(bytes, file: file)
    }

    /// Runs the restricted unpickler over `bytes` and converts the result.
    static func unpickle(_ bytes: [UInt8], file: String,
                         persistentLoad: @escaping (PickleObject) throws -> PickleObject = { _ in
                             throw InteropError.invalidTensor(file: "", reason: "no storages available") }) throws -> CheckpointValue {
        var unpickler = Unpickler(bytes: bytes, file: file, persistentLoad: persistentLoad)
        defer { unpickler.containers.breakLinks() }
        let object = try unpickler.load()
        var converter = TreeConverter(file: file)
        return try converter.convert(object, depth: 0)
    }
}

/// Turns unpickled objects into a `CheckpointValue` tree, bounding depth and
/// size so that cycles or heavily shared objects cannot blow up.
struct TreeConverter {
    let file: String
    var nodes = 0

    mutating func convert(_ object: PickleObject, depth: Int) throws -> CheckpointValue {
        guard depth <= TorchCheckpoint.maximumDepth else {
            throw InteropError.limitExceeded(file: file, reason: "pickle nests deeper than \(TorchCheckpoint.maximumDepth) (or is cyclic)")
        }
        nodes += 1
        guard nodes <= TorchCheckpoint.maximumNodes else {
            throw InteropError.limitExceeded(file: file, reason: "pickle expands to more than \(TorchCheckpoint.maximumNodes) values")
        }
        switch object {
        case .none: return .null
        case let .bool(value): return .bool(value)
        case let .int(value): return .int(value)
        case let .float(value): return .double(value)
        case let .string(value): return .string(value)
        case let .bytes(value): return .bytes(value)
        case let .tensor(tensor): return .tensor(tensor)
        case let .tuple(items): return .list(try items.map { try convert($0, depth: depth + 1) })
        case let .list(list): return .list(try list.items.map { try convert($0, depth: depth + 1) })
        case let .storage(storage):
            return .tensor(CheckpointTensor(dtype: storage.dtype, shape: [storage.elementCount], bytes: storage.bytes))
        case let .dict(dict):
            var entries = OrderedDictionary<CheckpointKey, CheckpointValue>()
            for (key, value) in dict.entries { entries[try self.key(key)] = try convert(value, depth: depth + 1) }
            if !dict.attributes.isEmpty {
                let holder = PickleDict()
                holder.entries = dict.attributes
                entries[.string(TorchCheckpoint.attributesKey)] = try convert(.dict(holder), depth: depth + 1)
            }
            return .dictionary(entries)
        case let .global(global):
            throw InteropError.unsupportedValue(file: file, reason: "a bare global (\(global)) is stored as data")
        }
    }

    func key(_ object: PickleObject) throws -> CheckpointKey {
        switch object {
        case let .string(text): return .string(text)
        case let .int(number): return .int(number)
        default: throw InteropError.unsupportedValue(file: file, reason: "dict key that is neither a string nor an int")
        }
    }
}

/// The zip side of a torch checkpoint: finds the root folder, refuses member
/// paths that leave it, and reads stored members and storages.
final class TorchArchiveReader {
    let file: String
    let archive: Archive
    let root: String
    let fileSize: UInt64
    var entries: [String: Entry] = [:]
    var storages: [String: PickleStorage] = [:]

    init(url: URL) throws {
        file = url.path
        fileSize = UInt64(try InputFile.requireReadableRegularFile(file))
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw InteropError.malformedArchive(file: file, reason: "cannot open the zip (\(error))")
        }
        var roots: [String] = []
        for entry in archive {
            let path = entry.path
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            guard !path.hasPrefix("/"), !path.contains("\\"), !components.contains("..") else {
                throw InteropError.unsafeMemberPath(file: file, member: path)
            }
            entries[path] = entry
            if components.count == 2, components[1] == "data.pkl" { roots.append(String(components[0])) }
        }
        guard roots.count == 1, let root = roots.first else {
            throw InteropError.malformedArchive(file: file, reason: roots.isEmpty
                ? "no <root>/data.pkl member (truncated or not a torch checkpoint)"
                : "several data.pkl members (\(roots.joined(separator: ", ")))")
        }
        self.root = root
    }

    /// The bytes of `<root>/<name>`.
    func member(_ name: String) throws -> [UInt8] {
        let path = "\(root)/\(name)"
        guard let entry = entries[path] else { throw InteropError.malformedArchive(file: file, reason: "missing member \(path)") }
        guard entry.type == .file, !entry.isCompressed else {
            throw InteropError.malformedArchive(file: file, reason: "member \(path) is compressed; torch stores every member uncompressed")
        }
        guard entry.uncompressedSize <= fileSize else {
            throw InteropError.malformedArchive(file: file, reason: "member \(path) claims \(entry.uncompressedSize) bytes, more than the file holds")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(entry.uncompressedSize))
        do {
            _ = try archive.extract(entry, skipCRC32: false) { chunk in bytes += chunk }
        } catch {
            throw InteropError.malformedArchive(file: file, reason: "cannot read member \(path) (\(error))")
        }
        guard UInt64(bytes.count) == entry.uncompressedSize else {
            throw InteropError.malformedArchive(file: file, reason: "member \(path) is truncated")
        }
        return bytes
    }

    /// Resolves `('storage', <storage type>, key, location, numel)`.
    func storage(persistentID pid: PickleObject) throws -> PickleObject {
        guard case let .tuple(items) = pid, items.count >= 5, case .string("storage") = items[0],
              case let .global(.typedStorage(dtype)) = items[1], case let .string(key) = items[2],
              case let .int(numel) = items[4] else {
            throw InteropError.invalidTensor(file: file, reason: "persistent id is not ('storage', <typed storage>, key, location, numel)")
        }
        if let cached = storages[key] {
            guard cached.dtype == dtype else { throw InteropError.invalidTensor(file: file, reason: "storage '\(key)' used with two dtypes") }
            return .storage(cached)
        }
        let bytes = try member("data/\(key)")
        let (expected, overflow) = Int(clamping: numel).multipliedReportingOverflow(by: dtype.byteWidth)
        guard numel >= 0, !overflow, expected == bytes.count else {
            throw InteropError.invalidTensor(file: file, reason: "storage '\(key)' has \(bytes.count) bytes, but \(numel) \(dtype.torchStorageName) elements need \(numel) × \(dtype.byteWidth)")
        }
        let storage = PickleStorage(dtype: dtype, key: key, bytes: bytes)
        storages[key] = storage
        return .storage(storage)
    }
}

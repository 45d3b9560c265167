import CairnCheckpoint
import Foundation
import ZIPFoundation
import OrderedCollections

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
    /// The first bytes of a file in torch's legacy format (before 1.6), which ``read(_:verifyingCRC:)`` also reads.
    public static var legacyMagic: [UInt8] { TorchLegacyFormat.magic }
    /// Most bytes a tensor view may expand to beyond its storage's own size
    /// (views with zero or overlapping strides, e.g. from `expand`).
    public static let maximumViewExpansionBytes = 256 << 20

    /// The content of the torch checkpoint at `url` (a zip archive, or the legacy format before
    /// torch 1.6) as a tree: dicts with string or int keys, lists (tuples too), scalars and tensors.
    ///
    /// The file is mapped and each storage lends its bytes in place; a deflated zip member is
    /// inflated each time its bytes are used. With `verifyingCRC` (the default) every zip member's
    /// bytes are read once to check the zip's CRC-32; without it only the zip directory and
    /// `data.pkl` are read until a tensor's bytes are asked for. The legacy format has no checksums.
    public static func read(_ url: URL, verifyingCRC: Bool = true) throws -> CheckpointValue {
        try read(try MappedFile(path: url.path), file: url.path, verifyingCRC: verifyingCRC)
    }

    /// A whole torch file held in memory, read as ``read(_:verifyingCRC:)`` reads one on disk;
    /// `file` names it in errors.
    public static func read(contents: [UInt8], file: String, verifyingCRC: Bool = true) throws -> CheckpointValue {
        try read(MappedFile(copying: contents), file: file, verifyingCRC: verifyingCRC)
    }

    static func read(_ mapping: MappedFile, file: String, verifyingCRC: Bool) throws -> CheckpointValue {
        if TorchLegacyFormat.matches(mapping.bytes) { return try TorchLegacyFormat.read(mapping, file: file) }
        let archive = try TorchArchiveReader(mapping: mapping, file: file, verifyingCRC: verifyingCRC)
        let pickle = try archive.member("data.pkl")
        return try unpickle(pickle, file: file) { pid in try archive.storage(persistentID: pid) }
    }

    /// The member paths of a zip archive held in memory, in directory order, from its central
    /// directory (zip64 included) with every offset checked, as ``read(_:verifyingCRC:)`` reads
    /// a file's; `file` names it in errors.
    public static func zipMemberPaths(_ bytes: [UInt8], file: String) throws -> [String] {
        try bytes.withUnsafeBytes { try ZipDirectory($0, file: file).members.map(\.path) }
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
        try bytes.withUnsafeBytes { raw in
            var unpickler = Unpickler(bytes: raw, file: file, persistentLoad: persistentLoad)
            return try convert(&unpickler, file: file)
        }
    }

    /// Loads the pickle `unpickler` is set on and converts the result, cutting the pickle's
    /// container links afterwards (a cyclic pickle would otherwise leak).
    static func convert(_ unpickler: inout Unpickler, file: String) throws -> CheckpointValue {
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
        case let .bigInt(digits): return .dictionary(["@class": .string("int"), "value": .string(digits)])
        case let .float(value): return .double(value)
        case let .string(value): return .string(value)
        case let .bytes(value): return .bytes(value)
        case let .tensor(tensor): return .tensor(tensor)
        case let .tuple(items): return .list(try items.map { try convert($0, depth: depth + 1) })
        case let .list(list): return .list(try list.items.map { try convert($0, depth: depth + 1) })
        case let .storage(storage):
            return .tensor(storage.tensor(shape: [storage.elementCount], bytes: 0..<storage.byteCount))
        case let .dict(dict):
            var entries = OrderedDictionary<CheckpointKey, CheckpointValue>()
            for (key, value) in dict.entries {
                let converted = try self.key(key)
                guard entries[converted] == nil else {
                    throw InteropError.unsupportedValue(file: file, reason: "two keys of one dict both read as \(converted)")
                }
                entries[converted] = try convert(value, depth: depth + 1)
            }
            if !dict.attributes.isEmpty {
                let holder = PickleDict()
                holder.entries = dict.attributes
                entries[.string(TorchCheckpoint.attributesKey)] = try convert(.dict(holder), depth: depth + 1)
            }
            return .dictionary(entries)
        case let .global(.torchDType(name)):
            return .dictionary(["@class": .string("torch.dtype"), "name": .string("torch.\(name)")])
        case let .global(.builtinType(name)):
            return .dictionary(["@class": .string("type"), "name": .string(name)])
        case let .global(global):
            throw InteropError.unsupportedValue(file: file, reason: "a bare global (\(global)) is stored as data")
        }
    }

    /// A string or int key as it is; any other hashable key (a float, None, a bool, a tuple,
    /// bytes) as the string of its Python `repr`, so `{1.5: …, None: …, (1, 'a'): …}` reads as
    /// the keys `1.5`, `None` and `(1, 'a')`.
    func key(_ object: PickleObject) throws -> CheckpointKey {
        switch object {
        case let .string(text): return .string(text)
        case let .int(number): return .int(number)
        default:
            guard let text = PythonRepr.of(object) else {
                throw InteropError.unsupportedValue(file: file, reason: "a dict key that is not hashable plain data (\(object.kindName))")
            }
            return .string(text)
        }
    }
}

/// The zip side of a torch checkpoint, read in place: the archive is mapped and its central
/// directory parsed (``ZipDirectory``); refuses member paths that leave the root folder.
/// Stored storages lend their bytes from the mapping; deflated ones (torch stores every member,
/// but an archive re-zipped by another tool may not) are inflated one at a time when used.
final class TorchArchiveReader {
    let file: String
    let mapping: MappedFile
    let root: String
    var entries: [String: ZipDirectory.Member] = [:]
    var storages: [String: PickleStorage] = [:]

    /// Whether each member's CRC-32 is checked when it is first used.
    let verifyingCRC: Bool

    init(mapping: MappedFile, file: String, verifyingCRC: Bool = true) throws {
        self.file = file
        self.verifyingCRC = verifyingCRC
        self.mapping = mapping
        let directory = try ZipDirectory(mapping.bytes, file: file)
        var roots: [String] = []
        for (path, member) in directory.members {
            let components = path.split(separator: "/", omittingEmptySubsequences: false)
            guard !path.hasPrefix("/"), !path.contains("\\"), !components.contains("..") else {
                throw InteropError.unsafeMemberPath(file: file, member: path)
            }
            entries[path] = member
            if components.count == 2, components[1] == "data.pkl" { roots.append(String(components[0])) }
        }
        guard roots.count == 1, let root = roots.first else {
            throw InteropError.malformedArchive(file: file, reason: roots.isEmpty
                ? "no <root>/data.pkl member (truncated or not a torch checkpoint)"
                : "several data.pkl members (\(roots.joined(separator: ", ")))")
        }
        self.root = root
    }

    convenience init(url: URL, verifyingCRC: Bool = true) throws {
        try self.init(mapping: try MappedFile(path: url.path), file: url.path, verifyingCRC: verifyingCRC)
    }

    /// Where `<root>/<name>`'s bytes are: a range of the mapping, or a deflated member.
    func locate(_ name: String) throws -> PickleStorage.Backing {
        let path = "\(root)/\(name)"
        guard let member = entries[path] else { throw InteropError.malformedArchive(file: file, reason: "missing member \(path)") }
        guard member.uncompressedSize <= UInt64(Int.max) else {
            throw InteropError.malformedArchive(file: file, reason: "member \(path) claims \(member.uncompressedSize) bytes")
        }
        switch member.method {
        case 0:
            guard UInt64(member.data.count) == member.uncompressedSize else {
                throw InteropError.malformedArchive(file: file, reason: "member \(path) is stored with \(member.data.count) bytes but claims \(member.uncompressedSize)")
            }
            if verifyingCRC {
                let bytes = UnsafeRawBufferPointer(rebasing: mapping.bytes[member.data])
                guard ZipCRC32.of(bytes) == member.crc32 else {
                    throw InteropError.malformedArchive(file: file, reason: "member \(path) fails its CRC-32 check (damaged)")
                }
            }
            return .mapped(MappedTensorBytes(mapping: mapping, range: member.data))
        case 8:
            let deflated = DeflatedMember(mapping: mapping, compressed: member.data, size: Int(member.uncompressedSize),
                                          crc32: member.crc32, file: file, path: path)
            // Inflating checks the CRC-32 anyway; with verifyingCRC it happens now, once.
            if verifyingCRC { _ = try deflated.inflated() }
            return .deflated(deflated)
        default:
            throw InteropError.malformedArchive(file: file, reason: "member \(path) uses compression method \(member.method); only stored (0) and deflated (8) are read")
        }
    }

    /// The bytes of `<root>/<name>`, copied or inflated (for `data.pkl` and other small members).
    func member(_ name: String) throws -> [UInt8] {
        switch try locate(name) {
        case let .mapped(bytes): return try bytes.withUnsafeBytes { Array($0) }
        case let .deflated(member): return try member.inflated()
        case .unplaced: return []
        }
    }

    /// The size of `<root>/<name>` once inflated.
    func memberSize(_ name: String) -> Int? {
        entries["\(root)/\(name)"].map { Int(clamping: $0.uncompressedSize) }
    }

    /// Resolves `('storage', <storage type>, key, location, numel)`.
    func storage(persistentID pid: PickleObject) throws -> PickleObject {
        let (dtype, key, numel) = try TorchStorageID.parse(pid, file: file)
        if let cached = storages[key] {
            guard cached.dtype == dtype else { throw InteropError.invalidTensor(file: file, reason: "storage '\(key)' used with two dtypes") }
            return .storage(cached)
        }
        let backing = try locate("data/\(key)")
        let size = memberSize("data/\(key)") ?? 0
        let (expected, overflow) = numel.multipliedReportingOverflow(by: dtype.byteWidth)
        guard !overflow, expected == size else {
            throw InteropError.invalidTensor(file: file, reason: "storage '\(key)' has \(size) bytes, but \(numel) \(dtype.torchStorageName) elements need \(numel) × \(dtype.byteWidth)")
        }
        let storage = PickleStorage(dtype: dtype, key: key, file: file, byteCount: expected, backing: backing)
        storages[key] = storage
        return .storage(storage)
    }
}

/// The persistent id torch pickles for a storage: `('storage', <storage type>, key, location, numel[, view])`.
enum TorchStorageID {
    static func parse(_ pid: PickleObject, file: String) throws -> (dtype: CheckpointDType, key: String, numel: Int) {
        guard case let .tuple(items) = pid, items.count >= 5, case .string("storage") = items[0],
              case let .global(.typedStorage(dtype)) = items[1], case let .string(key) = items[2],
              case let .int(numel64) = items[4], numel64 >= 0, let numel = Int(exactly: numel64) else {
            throw InteropError.invalidTensor(file: file, reason: "persistent id is not ('storage', <typed storage>, key, location, numel)")
        }
        if items.count > 5, !items[5].isNone {
            throw InteropError.invalidTensor(file: file, reason: "storage '\(key)' is a view of another storage (torch < 0.4); not read")
        }
        return (dtype, key, numel)
    }
}

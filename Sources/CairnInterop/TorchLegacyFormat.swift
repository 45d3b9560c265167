import CairnCheckpoint

/// `torch.save`'s format before 1.6 (still written with `_use_new_zipfile_serialization=False`):
/// pickles one after another (a magic number, the protocol version, system information, the
/// saved object naming its storages by persistent ids, the list of storage keys), then one record
/// per storage in that list's order: its element count as 8 little-endian bytes, then its elements.
///
/// Read in place from the mapped file: the object pickle is scanned once to find where it ends,
/// the storage records are located from there, and no storage byte is touched until asked for.
enum TorchLegacyFormat {
    /// The first pickle: protocol 2, the long 0x1950a86a20f9469cfc6c, STOP.
    static let magic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]
    /// The serialization protocol version every legacy file records.
    static let protocolVersion: Int64 = 1001

    static func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        bytes.starts(with: magic)
    }

    static func read(_ mapping: MappedFile, file: String) throws -> CheckpointValue {
        let bytes = mapping.bytes
        func malformed(_ reason: String) -> InteropError {
            .malformedArchive(file: file, reason: "legacy torch file: \(reason)")
        }
        var position = magic.count
        guard case .int(protocolVersion) = try plainObject(bytes, at: &position, file: file) else {
            throw malformed("the second pickle is not the protocol version \(protocolVersion)")
        }
        if case .bool(false)? = try plainObject(bytes, at: &position, file: file)["little_endian"] {
            throw malformed("written on a big-endian machine; not read")
        }

        let objectStart = position
        let objectEnd = try PickleScanner.end(of: bytes, from: objectStart, file: file)
        position = objectEnd
        let keyList = try plainObject(bytes, at: &position, file: file)
        guard case let .list(list) = keyList else { throw malformed("the storage key list is not a list") }
        let keys = try list.map { item -> String in
            guard case let .string(key) = item else { throw malformed("a storage key is not a string") }
            return key
        }

        var storages: [String: PickleStorage] = [:]
        var unpickler = Unpickler(bytes: bytes, start: objectStart, file: file) { pid in
            let (dtype, key, numel) = try TorchStorageID.parse(pid, file: file)
            if let known = storages[key] {
                guard known.dtype == dtype else { throw InteropError.invalidTensor(file: file, reason: "storage '\(key)' used with two dtypes") }
                return .storage(known)
            }
            let (byteCount, overflow) = numel.multipliedReportingOverflow(by: dtype.byteWidth)
            guard !overflow, byteCount <= bytes.count else {
                throw InteropError.invalidTensor(file: file, reason: "storage '\(key)' claims \(numel) elements, more than the file holds")
            }
            let storage = PickleStorage(dtype: dtype, key: key, file: file, byteCount: byteCount, backing: .unplaced)
            storages[key] = storage
            return .storage(storage)
        }
        let tree = try TorchCheckpoint.convert(&unpickler, file: file)
        guard unpickler.position == objectEnd else { throw malformed("the object pickle ends at byte \(unpickler.position), not \(objectEnd)") }

        var placed = Set<String>()
        var cursor = position
        for key in keys {
            guard let storage = storages[key] else { throw malformed("storage record '\(key)' is not named by the object pickle") }
            guard placed.insert(key).inserted else { throw malformed("storage '\(key)' is listed twice") }
            guard bytes.count - cursor >= 8 else { throw malformed("storage record '\(key)' at byte \(cursor) runs past the end of the file") }
            var numel: UInt64 = 0
            for byte in bytes[cursor..<(cursor + 8)].reversed() { numel = numel << 8 | UInt64(byte) }
            let start = cursor + 8
            guard numel == UInt64(storage.elementCount), storage.byteCount <= bytes.count - start else {
                throw malformed("storage record '\(key)' at byte \(cursor) holds \(numel) elements where \(storage.elementCount) are needed, or runs past the end of the file")
            }
            storage.place(MappedTensorBytes(mapping: mapping, range: start..<(start + storage.byteCount)))
            cursor = start + storage.byteCount
        }
        if let missing = storages.keys.sorted().first(where: { !placed.contains($0) }) {
            throw malformed("storage '\(missing)' has no data record")
        }
        return tree
    }

    /// One pickle of plain data (no storages) starting at `position`, which moves past it.
    private static func plainObject(_ bytes: UnsafeRawBufferPointer, at position: inout Int, file: String) throws -> CheckpointValue {
        var unpickler = Unpickler(bytes: bytes, start: position, file: file) { _ in
            throw InteropError.invalidTensor(file: file, reason: "a storage outside the object pickle")
        }
        let value = try TorchCheckpoint.convert(&unpickler, file: file)
        position = unpickler.position
        return value
    }
}

/// Finds where a pickle ends without building anything, by stepping over each opcode's argument.
/// It knows the opcodes ``Unpickler`` runs; any other is an error, as it would be there.
enum PickleScanner {
    static func end(of bytes: UnsafeRawBufferPointer, from start: Int, file: String) throws -> Int {
        var position = start
        func fail(_ at: Int, _ reason: String) -> InteropError { .malformedPickle(file: file, offset: at, reason: reason) }
        func skip(_ count: Int, _ at: Int) throws {
            guard count >= 0, count <= bytes.count - position else { throw fail(at, "needs \(count) bytes but only \(bytes.count - position) remain") }
            position += count
        }
        func skipLengthPrefixed(_ width: Int, _ at: Int) throws {
            guard width <= bytes.count - position else { throw fail(at, "needs \(width) bytes but only \(bytes.count - position) remain") }
            var length: UInt64 = 0
            for byte in bytes[position..<(position + width)].reversed() { length = length << 8 | UInt64(byte) }
            position += width
            guard length <= UInt64(bytes.count - position) else { throw fail(at, "declared length \(length) runs past the end of the pickle") }
            position += Int(length)
        }
        func skipLine(_ at: Int) throws {
            guard let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else { throw fail(at, "unterminated text line") }
            position = end + 1
        }
        while true {
            let at = position
            guard position < bytes.count else { throw fail(at, "pickle ends without STOP") }
            let opcode = bytes[position]
            position += 1
            switch opcode {
            case UInt8(ascii: "."): return position
            case UInt8(ascii: "("), UInt8(ascii: "0"), UInt8(ascii: "1"), UInt8(ascii: "2"), UInt8(ascii: "N"), 0x88, 0x89,
                 UInt8(ascii: ")"), UInt8(ascii: "t"), 0x85, 0x86, 0x87, UInt8(ascii: "]"), 0x8F, UInt8(ascii: "l"), 0x91,
                 UInt8(ascii: "}"), UInt8(ascii: "d"), UInt8(ascii: "a"), UInt8(ascii: "e"), 0x90, UInt8(ascii: "s"), UInt8(ascii: "u"),
                 0x94, 0x93, UInt8(ascii: "R"), 0x81, UInt8(ascii: "b"), UInt8(ascii: "Q"):
                continue
            case 0x80, UInt8(ascii: "K"), UInt8(ascii: "q"), UInt8(ascii: "h"): try skip(1, at)
            case UInt8(ascii: "M"): try skip(2, at)
            case UInt8(ascii: "J"), UInt8(ascii: "r"), UInt8(ascii: "j"): try skip(4, at)
            case UInt8(ascii: "G"), 0x95: try skip(8, at)
            case 0x8A, 0x8C, UInt8(ascii: "C"), UInt8(ascii: "U"): try skipLengthPrefixed(1, at)
            case 0x8B, UInt8(ascii: "X"), UInt8(ascii: "B"), UInt8(ascii: "T"): try skipLengthPrefixed(4, at)
            case 0x8D, 0x8E, 0x96: try skipLengthPrefixed(8, at)
            case UInt8(ascii: "c"):
                try skipLine(at)
                try skipLine(at)
            default:
                throw fail(at, "unsupported opcode 0x\(String(opcode, radix: 16))")
            }
        }
    }
}

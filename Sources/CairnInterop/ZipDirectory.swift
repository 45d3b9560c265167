import Foundation

/// The central directory of a zip archive read from its bytes in place (zip64 included): each
/// member's name, compression method and where its data lies. Every offset and size is checked
/// against the file before use, and nothing is allocated by what the file claims: the member
/// list grows only by records actually present.
struct ZipDirectory {
    /// One member: its compression method (0 stored, 8 deflated), its data's byte range and CRC-32.
    struct Member {
        var method: UInt16
        var data: Range<Int>
        var uncompressedSize: UInt64
        var crc32: UInt32
    }

    /// Members by path, in directory order.
    private(set) var members: [(path: String, member: Member)] = []

    init(_ bytes: UnsafeRawBufferPointer, file: String) throws {
        func fail(_ reason: String) -> InteropError { .malformedArchive(file: file, reason: reason) }
        func u16(_ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> UInt32 { UInt32(u16(at)) | UInt32(u16(at + 2)) << 16 }
        func u64(_ at: Int) -> UInt64 { UInt64(u32(at)) | UInt64(u32(at + 4)) << 32 }
        func offset(_ value: UInt64, _ what: String) throws -> Int {
            guard value <= UInt64(bytes.count) else { throw fail("\(what) \(value) lies beyond the \(bytes.count)-byte file") }
            return Int(value)
        }

        // End of central directory: 22 bytes plus a comment of at most 65535.
        guard bytes.count >= 22 else { throw fail("file is \(bytes.count) bytes, too short for a zip end record") }
        var end = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65_535)
        while end >= lowest, u32(end) != 0x0605_4B50 { end -= 1 }
        guard end >= lowest else { throw fail("no end of central directory record (truncated or not a zip)") }
        var entryCount = UInt64(u16(end + 10))
        var directorySize = UInt64(u32(end + 12))
        var directoryOffset = UInt64(u32(end + 16))
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            let locator = end - 20
            guard locator >= 0, u32(locator) == 0x0706_4B50 else { throw fail("zip64 end record locator missing") }
            let record = try offset(u64(locator + 8), "zip64 end record offset")
            guard record + 56 <= bytes.count, u32(record) == 0x0606_4B50 else { throw fail("zip64 end record missing") }
            entryCount = u64(record + 32)
            directorySize = u64(record + 40)
            directoryOffset = u64(record + 48)
        }
        let start = try offset(directoryOffset, "central directory offset")
        let (directoryEnd, overflow) = start.addingReportingOverflow(try offset(directorySize, "central directory size"))
        guard !overflow, directoryEnd <= bytes.count else { throw fail("central directory runs past the end of the file") }

        var cursor = start
        var seen: UInt64 = 0
        while seen < entryCount {
            guard cursor + 46 <= directoryEnd, u32(cursor) == 0x0201_4B50 else {
                throw fail("central directory record \(seen) of \(entryCount) is missing or damaged")
            }
            let method = u16(cursor + 10)
            let crc32 = u32(cursor + 16)
            var compressed = UInt64(u32(cursor + 20)), uncompressed = UInt64(u32(cursor + 24))
            let nameLength = Int(u16(cursor + 28)), extraLength = Int(u16(cursor + 30)), commentLength = Int(u16(cursor + 32))
            var localHeader = UInt64(u32(cursor + 42))
            let nameStart = cursor + 46
            let recordEnd = nameStart + nameLength + extraLength + commentLength
            guard recordEnd <= directoryEnd else { throw fail("central directory record \(seen) runs past the directory") }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[nameStart..<(nameStart + nameLength)]), as: UTF8.self)
            // zip64 extra field: the 8-byte values of the fields set to all ones, in this order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = u16(extra), size = Int(u16(extra + 2))
                guard extra + 4 + size <= extraEnd else { throw fail("member \(name): extra field runs past its record") }
                if id == 0x0001 {
                    var field = extra + 4
                    func next() throws -> UInt64 {
                        guard field + 8 <= extra + 4 + size else { throw fail("member \(name): zip64 field too short") }
                        defer { field += 8 }
                        return u64(field)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next() }
                    if compressed == 0xFFFF_FFFF { compressed = try next() }
                    if localHeader == 0xFFFF_FFFF { localHeader = try next() }
                }
                extra += 4 + size
            }
            let local = try offset(localHeader, "member \(name): local header offset")
            guard local + 30 <= bytes.count, u32(local) == 0x0403_4B50 else { throw fail("member \(name): local header missing") }
            let dataStart = local + 30 + Int(u16(local + 26)) + Int(u16(local + 28))
            let (dataEnd, dataOverflow) = dataStart.addingReportingOverflow(try offset(compressed, "member \(name): size"))
            guard !dataOverflow, dataEnd <= bytes.count else { throw fail("member \(name) runs past the end of the file") }
            members.append((name, Member(method: method, data: dataStart..<dataEnd, uncompressedSize: uncompressed, crc32: crc32)))
            cursor = recordEnd
            seen += 1
        }
    }
}

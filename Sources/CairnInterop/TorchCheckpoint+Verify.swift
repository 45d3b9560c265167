import Foundation

extension TorchCheckpoint {
    /// What checking a torch file's checksums found.
    public struct IntegrityReport: Sendable, Equatable {
        /// Zip members whose CRC-32 was checked; 0 for the legacy format, which stores none.
        public var checkedMembers = 0
        /// Each damaged member, named with what is wrong.
        public var damage: [String] = []
    }

    /// Checks every zip member of the torch file at `url` against its CRC-32, reading the file
    /// through a 1 MiB buffer rather than mapping it (so a check of any size keeps a small
    /// memory footprint); deflated members are inflated on the way and checked against their
    /// recorded size too. A file that is not a zip archive or whose directory is damaged throws.
    public static func checkIntegrity(_ url: URL) throws -> IntegrityReport {
        let file = url.path
        let mapping = try MappedFile(path: file)
        if TorchLegacyFormat.matches(mapping.bytes) { return IntegrityReport() }
        // Only the directory's pages of the mapping are touched.
        let directory = try ZipDirectory(mapping.bytes, file: file)
        let descriptor = open(file, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw InteropError.io(file: file, reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        /// Up to `count` bytes at `offset`, into the front of `buffer`.
        func read(at offset: Int, count: Int) throws -> Int {
            let got = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, min(count, $0.count), off_t(offset)) }
            guard got > 0 else { throw InteropError.io(file: file, reason: "cannot read at byte \(offset): \(got < 0 ? String(cString: strerror(errno)) : "file ends")") }
            return got
        }
        var report = IntegrityReport()
        for (path, member) in directory.members {
            report.checkedMembers += 1
            var checksum: UInt32 = 0
            var size: UInt64 = 0
            switch member.method {
            case 0:
                var offset = member.data.lowerBound
                while offset < member.data.upperBound {
                    let got = try read(at: offset, count: member.data.upperBound - offset)
                    checksum = buffer.withUnsafeBytes { ZipCRC32.update(checksum, UnsafeRawBufferPointer(rebasing: $0[..<got])) }
                    offset += got
                }
                size = UInt64(member.data.count)
            case 8:
                let compressed = member.data
                do {
                    checksum = try DeflatedMember.inflate(compressedCount: compressed.count, file: file, path: path, read: { start, count in
                        let got = try read(at: compressed.lowerBound + start, count: count)
                        return Data(buffer[..<got])
                    }, consume: { chunk in size += UInt64(chunk.count) })
                } catch let error as InteropError {
                    if case .io = error { throw error }
                    report.damage.append("\(path): \(error)")
                    continue
                } catch {
                    report.damage.append("\(path): deflated data is corrupt")
                    continue
                }
            default:
                report.damage.append("\(path): compression method \(member.method) is not read")
                continue
            }
            if size != member.uncompressedSize {
                report.damage.append("\(path): holds \(size) bytes, its directory entry says \(member.uncompressedSize)")
            } else if checksum != member.crc32 {
                report.damage.append("\(path): CRC-32 mismatch, stored \(hex(member.crc32)), computed \(hex(checksum))")
            }
        }
        return report
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

import Foundation
import ZIPFoundation

/// A deflated zip member in a mapped archive, inflated whole each time it is asked for, so only
/// one such member is in memory at a time. The output grows with the data actually inflated,
/// never by the size the directory claims, and stops with an error as soon as it passes it.
struct DeflatedMember {
    let mapping: MappedFile
    /// The compressed bytes' range in the file.
    let compressed: Range<Int>
    /// The inflated size the central directory records.
    let size: Int
    let crc32: UInt32
    let file: String
    let path: String

    /// The inflated bytes, checked against the recorded size and CRC-32.
    func inflated() throws -> [UInt8] {
        func damaged(_ reason: String) -> InteropError {
            .malformedArchive(file: file, reason: "member \(path): \(reason)")
        }
        let source = UnsafeRawBufferPointer(rebasing: mapping.bytes[compressed])
        var output: [UInt8] = []
        let checksum: UInt32
        do {
            checksum = try Self.inflate(compressedCount: source.count, file: file, path: path, read: { start, count in
                Data(source[start..<(start + count)])
            }, consume: { chunk in
                guard chunk.count <= size - output.count else { throw damaged("inflates past its recorded \(size) bytes") }
                output += chunk
            })
        } catch let error as InteropError {
            throw error
        } catch {
            throw damaged("deflated data is corrupt (\(error))")
        }
        guard output.count == size else { throw damaged("inflates to \(output.count) bytes, not its recorded \(size)") }
        guard checksum == crc32 else { throw damaged("fails its CRC-32 check (damaged)") }
        return output
    }

    /// Inflates a deflate stream of `compressedCount` bytes that `read(offset, count)` hands out
    /// (never past the end) into `consume`, returning the output's CRC-32. The stream ending
    /// before the data does is an error naming the member: ZIPFoundation's inflater would
    /// otherwise ask again forever after an empty chunk.
    static func inflate(compressedCount: Int, file: String, path: String, read: (Int, Int) throws -> Data,
                        consume: (Data) throws -> Void) throws -> UInt32 {
        try Data.decompress(size: Int64(compressedCount), bufferSize: 1 << 16, skipCRC32: false, provider: { position, count in
            guard position >= 0, position < Int64(compressedCount) else {
                throw InteropError.malformedArchive(file: file, reason: "member \(path): deflated data ends before the stream does")
            }
            return try read(Int(position), min(count, compressedCount - Int(position)))
        }, consumer: consume)
    }
}

/// The zip CRC-32 of bytes in place.
enum ZipCRC32 {
    static func of(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        update(0, bytes)
    }

    /// `checksum` carried on over `bytes`.
    static func update(_ checksum: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return checksum }
        return Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: bytes.count, deallocator: .none).crc32(checksum: checksum)
    }
}

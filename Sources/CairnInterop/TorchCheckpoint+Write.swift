import CairnCheckpoint
import Foundation
import OrderedCollections
import ZIPFoundation

extension TorchCheckpoint {
    /// Keys Lightning needs to resume from a checkpoint, with the value used
    /// when the tree lacks them.
    static let lightningDefaults: [(String, CheckpointValue)] = [
        ("epoch", .int(0)), ("global_step", .int(0)), ("pytorch-lightning_version", .string("2.6.6")),
        ("state_dict", .dictionary([:])), ("loops", .dictionary([:])), ("callbacks", .dictionary([:])),
        ("optimizer_states", .list([])), ("lr_schedulers", .list([])),
    ]

    /// Writes `tree` as a torch zip checkpoint that `torch.load(weights_only=True)`
    /// reads. With `lightning`, keys Lightning's resume needs are added when missing.
    public static func write(_ tree: CheckpointValue, to url: URL, lightning: Bool = true) throws {
        var content = tree
        if lightning {
            guard case var .dictionary(entries) = tree else {
                throw InteropError.unsupportedValue(file: url.path, reason: "a Lightning checkpoint must be a dictionary at its root")
            }
            for (key, value) in lightningDefaults where entries[.string(key)] == nil { entries[.string(key)] = value }
            content = .dictionary(entries)
        }
        var pickler = PickleWriter(file: url.path)
        let pickle = try pickler.finish(content)
        var members: [(String, [UInt8])] = [
            ("archive/data.pkl", pickle),
            ("archive/.format_version", Array("1".utf8)),
            ("archive/.storage_alignment", Array("64".utf8)),
            ("archive/byteorder", Array("little".utf8)),
        ]
        for (index, bytes) in pickler.storages.enumerated() { members.append(("archive/data/\(index)", bytes)) }
        members.append(("archive/version", Array("3\n".utf8)))
        let serialization = (0..<40).map { _ in String(Int.random(in: 0...9)) }.joined()
        members.append(("archive/.data/serialization_id", Array(serialization.utf8)))
        let archive = try AlignedZipWriter.archive(members, file: url.path)
        do { try Data(archive).write(to: url, options: .atomic) } catch {
            throw InteropError.io(file: url.path, reason: "cannot write: \(error.localizedDescription)")
        }
    }
}

/// A minimal zip writer in torch's layout: stored members whose data starts
/// on a 64-byte boundary, the padding held in the local header's extra field.
enum AlignedZipWriter {
    static let alignment = 64

    static func archive(_ members: [(String, [UInt8])], file: String) throws -> [UInt8] {
        var output: [UInt8] = []
        var central: [UInt8] = []
        func put16(_ value: Int, into buffer: inout [UInt8]) { withUnsafeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian) { buffer += $0 } }
        func put32(_ value: Int, into buffer: inout [UInt8]) { withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { buffer += $0 } }
        for (name, bytes) in members {
            let nameBytes = Array(name.utf8)
            let crc = Int(Data(bytes).crc32(checksum: 0))
            let headerOffset = output.count
            // 30 fixed bytes + name + 4 bytes of extra-field header, then padding.
            let unpadded = headerOffset + 30 + nameBytes.count + 4
            let padding = (alignment - unpadded % alignment) % alignment
            guard headerOffset + bytes.count < Int(UInt32.max) - 1024 else {
                throw InteropError.unsupportedValue(file: file, reason: "archives over 4 GiB need zip64, which this writer lacks")
            }
            put32(0x0403_4b50, into: &output)
            put16(20, into: &output); put16(0, into: &output); put16(0, into: &output) // version, flags, stored
            put16(0, into: &output); put16(0x21, into: &output)                         // 1980-01-01 00:00
            put32(crc, into: &output); put32(bytes.count, into: &output); put32(bytes.count, into: &output)
            put16(nameBytes.count, into: &output); put16(4 + padding, into: &output)
            output += nameBytes
            put16(0x4246, into: &output); put16(padding, into: &output) // "FB": padding, as torch's writer names it
            output += [UInt8](repeating: UInt8(ascii: "Z"), count: padding)
            output += bytes

            put32(0x0201_4b50, into: &central)
            put16(20, into: &central); put16(20, into: &central); put16(0, into: &central); put16(0, into: &central)
            put16(0, into: &central); put16(0x21, into: &central)
            put32(crc, into: &central); put32(bytes.count, into: &central); put32(bytes.count, into: &central)
            put16(nameBytes.count, into: &central); put16(0, into: &central); put16(0, into: &central)
            put16(0, into: &central); put16(0, into: &central); put32(0, into: &central)
            put32(headerOffset, into: &central)
            central += nameBytes
        }
        let centralOffset = output.count
        output += central
        put32(0x0605_4b50, into: &output)
        put16(0, into: &output); put16(0, into: &output)
        put16(members.count, into: &output); put16(members.count, into: &output)
        put32(central.count, into: &output); put32(centralOffset, into: &output)
        put16(0, into: &output)
        return output
    }
}

import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

/// torch files that are not plain stored zip archives: the legacy format (before torch 1.6) and
/// archives whose members are deflated. Both are read in place and, damaged anywhere, refused
/// with an error rather than a trap.
@Suite struct LegacyAndDeflatedTorchTests {
    static func written(_ writer: String, in scratch: ScratchDirectory) throws -> URL {
        let url = scratch.file("\(writer).pt")
        let result = try InteropPython.run("roundtrip.py", [writer, url.path])
        #expect(result.status == 0, "\(result.stderr)")
        return url
    }

    /// Every tensor's bytes, so that lazy storages are really read.
    static func touchEveryTensor(_ value: CheckpointValue) throws -> Int {
        switch value {
        case let .tensor(tensor): return try tensor.bytes().count
        case let .dictionary(entries): return try entries.values.reduce(0) { $0 + (try touchEveryTensor($1)) }
        case let .list(items): return try items.reduce(0) { $0 + (try touchEveryTensor($1)) }
        default: return 0
        }
    }

    @Test(.needsPython)
    func legacyStoragesAreLentFromTheFileAndSharedByTheirViews() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = try Self.written("write-torch-legacy", in: scratch)
        let bytes = try [UInt8](Data(contentsOf: url))
        #expect(bytes.starts(with: TorchCheckpoint.legacyMagic))
        let tree = try TorchCheckpoint.read(url)
        let weight = try #require(tree["/state_dict/w"]?.tensor)
        guard case let .external(storage) = weight.storage, let shared = storage as? PickleStorage,
              case let .mapped(range) = shared.backing else {
            Issue.record("the whole-storage view is not lent from the mapping: \(weight.storage)"); return
        }
        // The storage record's elements are the file's bytes right after its 8-byte count.
        #expect(Array(bytes[range.range]) == (try weight.bytes()))
        #expect(bytes[range.range.lowerBound - 8] == 6)
        let row = try #require(tree["/state_dict/row"]?.tensor)
        guard case let .external(slice) = row.storage, let rowSlice = slice as? PickleStorageSlice else {
            Issue.record("the row view does not lend through its storage"); return
        }
        #expect(rowSlice.storage === shared)
    }

    /// Cut short anywhere, a legacy or deflated file is an error naming it, never a trap.
    @Test(.needsPython, arguments: ["write-torch-legacy", "write-torch-deflated"])
    func everyTruncationIsAnError(writer: String) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let original = try [UInt8](Data(contentsOf: try Self.written(writer, in: scratch)))
        let damaged = scratch.file("damaged.pt")
        for length in 0..<original.count {
            try Data(original[..<length]).write(to: damaged)
            do {
                _ = try Self.touchEveryTensor(try TorchCheckpoint.read(damaged))
                Issue.record("\(writer) cut to \(length) of \(original.count) bytes was accepted")
            } catch let error as InteropError {
                #expect(error.description.contains(damaged.path))
            } catch let error as CheckpointError {
                #expect(error.description.contains(damaged.path))
            }
        }
    }

    /// Each byte set to a few values: accepted or refused with an error, never a trap; a changed
    /// deflated stream never passes silently (its CRC-32 or its inflated size catches it).
    @Test(.needsPython, arguments: ["write-torch-legacy", "write-torch-deflated"])
    func everyByteChangeIsAcceptedOrAnError(writer: String) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let original = try [UInt8](Data(contentsOf: try Self.written(writer, in: scratch)))
        let damaged = scratch.file("damaged.pt")
        var refused = 0
        for offset in original.indices {
            for replacement: UInt8 in [0x00, 0xFF, original[offset] ^ 0x01] where replacement != original[offset] {
                var bytes = original
                bytes[offset] = replacement
                try Data(bytes).write(to: damaged)
                do {
                    _ = try Self.touchEveryTensor(try TorchCheckpoint.read(damaged, verifyingCRC: false))
                } catch is InteropError {
                    refused += 1
                } catch is CheckpointError {
                    refused += 1
                }
            }
        }
        #expect(refused > 0)
    }

    @Test(.needsPython)
    func aDeflatedMemberThatInflatesToTheWrongSizeIsRefused() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = try Self.written("write-torch-deflated", in: scratch)
        var bytes = try [UInt8](Data(contentsOf: url))
        // Lower the recorded uncompressed size of the first data/ member in the central directory.
        let directoryStart = try #require(Self.centralRecord(named: "/data/0", in: bytes))
        bytes[directoryStart + 24] &-= 1
        try Data(bytes).write(to: url)
        #expect {
            _ = try Self.touchEveryTensor(try TorchCheckpoint.read(url))
        } throws: { error in
            "\(error)".contains("data/0") && "\(error)".contains(url.path)
        }
    }

    /// The offset of the central directory record whose name ends with `suffix`.
    static func centralRecord(named suffix: String, in bytes: [UInt8]) -> Int? {
        let signature: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
        var offset = 0
        while offset + 46 <= bytes.count {
            if Array(bytes[offset..<(offset + 4)]) == signature {
                let nameLength = Int(bytes[offset + 28]) | Int(bytes[offset + 29]) << 8
                let name = String(decoding: bytes[(offset + 46)..<min(bytes.count, offset + 46 + nameLength)], as: UTF8.self)
                if name.hasSuffix(suffix) { return offset }
            }
            offset += 1
        }
        return nil
    }
}

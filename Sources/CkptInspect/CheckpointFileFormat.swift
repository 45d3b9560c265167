import CairnCheckpoint
import CairnInterop
import Foundation

/// What kind of checkpoint a file holds, told by its first bytes rather than its
/// name: Cairn's and Lightning's files both end in `.ckpt`.
enum CheckpointFileFormat {
    case cairn, torchZip, torchLegacy, safetensors

    init(of url: URL) throws {
        try InputFile.requireReadableRegularFile(url.path)
        let head: [UInt8]
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            head = [UInt8](try handle.read(upToCount: 15) ?? Data())
        } catch {
            throw InspectionError(file: url.path, message: "cannot read: \(error.localizedDescription)")
        }
        if head.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            self = .torchZip
        } else if head.starts(with: TorchCheckpoint.legacyMagic) {
            self = .torchLegacy
        } else if head.count >= 9, head[8] == UInt8(ascii: "{") {
            // safetensors: an 8-byte little-endian header length, then a JSON object.
            self = .safetensors
        } else {
            self = .cairn
        }
    }
}

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

/// A PyTorch or safetensors file converted into a private Cairn checkpoint, so every
/// command (and its streaming, checksums and diffs) works on it unchanged.
enum ForeignCheckpoint {
    static func open(_ tree: CheckpointValue, convertedFrom source: URL,
                     options: CheckpointLoadOptions) throws -> CheckpointReader {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("ckpt-inspect-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let converted = directory.appendingPathComponent(UUID().uuidString + "-" + source.lastPathComponent)
        try Checkpoint.save(tree, to: converted,
                            options: CheckpointSaveOptions(producer: "ckpt-inspect (converted from \(source.lastPathComponent))"))
        let reader = try Checkpoint.open(converted, options: options)
        // The open connection keeps the data; nothing is left behind on disk.
        try? FileManager.default.removeItem(at: directory)
        return reader
    }
}

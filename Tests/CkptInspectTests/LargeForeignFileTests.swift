import CairnCheckpoint
import CairnInterop
import CairnTestSupport
import Foundation
import Testing

/// Foreign files are read in place: a 20 GB safetensors file (sparse, so it costs no disk)
/// is shown, listed and read from in a child whose peak memory stays far below its size.
@Suite struct LargeForeignFileTests {
    static let gibibyte = 1 << 30

    /// A safetensors file of F32 tensors `layers.N.weight` (N in `layers`) of 1 GiB each: the
    /// header written, the data a hole.
    static func sparseSafetensors(at url: URL, layers: Range<Int>) throws {
        var entries: [String] = []
        for (position, index) in layers.enumerated() {
            let start = position * gibibyte
            entries.append(#""layers.\#(index).weight":{"dtype":"F32","shape":[262144,1024],"data_offsets":[\#(start),\#(start + gibibyte)]}"#)
        }
        let count = layers.count
        let header = Array(("{" + entries.joined(separator: ",") + "}").utf8)
        var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
        bytes += header
        try Data(bytes).write(to: url)
        guard truncate(url.path, off_t(bytes.count + count * gibibyte)) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    @Test func twentyGigabyteSafetensorsStaysSmall() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let file = scratch.file("big.safetensors")
        try Self.sparseSafetensors(at: file, layers: 0..<20)
        let size = try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int ?? 0
        #expect(size > 20 * Self.gibibyte)

        let commands: [[String]] = [
            ["show", file.path], ["tensors", file.path], ["tree", file.path],
            ["get", file.path, "/state_dict/layers.7.weight"], ["callbacks", file.path], ["verify", file.path],
        ]
        for arguments in commands {
            let run = try MeasuredRun(Inspector.executable.url, arguments)
            #expect(run.status == 0, "\(arguments): \(run.stderr)")
            #expect(run.maxResidentKiB < 128 * 1024, "\(arguments): peak RSS \(run.maxResidentKiB) KiB")
        }
        let show = try MeasuredRun(Inspector.executable.url, ["show", file.path])
        #expect(show.stdout.contains("20 (20.0 GiB)"), "\(show.stdout)")
        let get = try MeasuredRun(Inspector.executable.url, ["get", file.path, "/state_dict/layers.7.weight"])
        #expect(get.stdout.hasPrefix("F32 [262144, 1024] (1.0 GiB): [0, 0, 0, 0, 0, 0, 0, 0, … (268435448 more)]"), "\(get.stdout)")
        let verify = try MeasuredRun(Inspector.executable.url, ["verify", file.path])
        #expect(verify.stdout.contains("OK (20 tensors, 20.0 GiB; structure checked; the format stores no checksums)"), "\(verify.stdout)")
        let tensors = try Inspector.json(["tensors", file.path])
        let listed = try #require((tensors.document as? [String: Any])?["tensors"] as? [[String: Any]])
        #expect(listed.count == 20)
        #expect(listed.first?["sha256"] is NSNull, "no stored hash, and none computed by reading 20 GB")
    }

    /// Hostile headers are refused by the in-place reader as they were by the copying one.
    @Test(arguments: [
        ("length past the end", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 100, "runs past the end"),
        ("overlap", #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, 0, "overlap"),
        ("out of range", #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 0, "beyond"),
        ("dtype × shape", #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 0, "needs 12"),
    ])
    func hostileHeadersExitTwoNamingTheFile(_ name: String, _ header: String, _ extraLength: Int, _ reason: String) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let file = scratch.file("hostile.safetensors")
        let headerBytes = Array(header.utf8)
        var bytes = withUnsafeBytes(of: UInt64(headerBytes.count + extraLength).littleEndian) { Array($0) }
        bytes += headerBytes + [UInt8](repeating: 0, count: 8)
        try Data(bytes).write(to: file)
        for command in ["show", "tensors", "tree", "callbacks"] {
            let run = try MeasuredRun(Inspector.executable.url, [command, file.path])
            #expect(run.status == 2, "\(name), \(command): \(run.stderr)")
            #expect(run.stderr.hasPrefix("ckpt-inspect: \(file.path)"), "\(name), \(command): \(run.stderr)")
            #expect(run.stderr.contains(reason), "\(name), \(command): \(run.stderr)")
        }
    }
}

/// torch zip files are read in place too: a damaged central directory is an error, never a trap.
@Suite struct HostileZipTests {
    /// A small valid torch file, then `damage` applied to its bytes.
    static func damagedTorchFile(in scratch: ScratchDirectory, _ damage: (inout [UInt8]) -> Void) throws -> String {
        let url = scratch.file("model.pt")
        try TorchCheckpoint.write(.dictionary(["w": .tensor(CheckpointTensor(float32: [1, 2, 3, 4], shape: [2, 2]))]), to: url, lightning: false)
        var bytes = [UInt8](try Data(contentsOf: url))
        damage(&bytes)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// The offset of the end-of-central-directory record.
    static func endRecord(_ bytes: [UInt8]) -> Int {
        var at = bytes.count - 22
        while at > 0, !(bytes[at] == 0x50 && bytes[at + 1] == 0x4B && bytes[at + 2] == 0x05 && bytes[at + 3] == 0x06) { at -= 1 }
        return at
    }

    @Test(arguments: ["directory offset beyond the file", "directory size beyond the file", "local header offset beyond the file",
                      "no end record", "entry count larger than the directory"])
    func damagedDirectoriesExitTwoNamingTheFile(_ damage: String) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let file = try Self.damagedTorchFile(in: scratch) { bytes in
            let end = Self.endRecord(bytes)
            func put32(_ value: UInt32, at offset: Int) { for index in 0..<4 { bytes[offset + index] = UInt8((value >> (8 * UInt32(index))) & 0xFF) } }
            switch damage {
            case "directory offset beyond the file": put32(0x7FFF_0000, at: end + 16)
            case "directory size beyond the file": put32(0x7FFF_0000, at: end + 12)
            case "local header offset beyond the file":
                let directory = Int(bytes[end + 16]) | Int(bytes[end + 17]) << 8 | Int(bytes[end + 18]) << 16 | Int(bytes[end + 19]) << 24
                put32(0x7FFF_0000, at: directory + 42)
            case "no end record": bytes.removeLast(22)
            default: bytes[end + 10] = 0xFE; bytes[end + 8] = 0xFE
            }
        }
        for command in ["show", "tensors", "verify"] {
            let run = try MeasuredRun(Inspector.executable.url, [command, file])
            #expect(run.status == 2, "\(damage), \(command): \(run.stderr)")
            #expect(run.stderr.hasPrefix("ckpt-inspect: \(file)"), "\(damage), \(command): \(run.stderr)")
        }
    }
}

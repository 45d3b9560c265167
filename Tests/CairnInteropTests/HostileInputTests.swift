import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
import ZIPFoundation
@testable import CairnInterop

@Suite struct HostileInputTests {
    /// `os.system('touch <marker>')` via GLOBAL + REDUCE, protocol 2.
    static func systemCallPickle(marker: String) -> [UInt8] {
        var bytes: [UInt8] = [0x80, 0x02]
        bytes += Array("cos\nsystem\n".utf8)
        let command = Array("touch \(marker)".utf8)
        bytes += [UInt8(ascii: "X")] + withUnsafeBytes(of: UInt32(command.count).littleEndian) { Array($0) } + command
        bytes += [0x85, UInt8(ascii: "R"), UInt8(ascii: ".")]
        return bytes
    }

    /// `builtins.eval('1+1')` via STACK_GLOBAL, protocol 4.
    static let evalPickle: [UInt8] = [0x80, 0x04, 0x8c, 8] + Array("builtins".utf8) + [0x8c, 4] + Array("eval".utf8)
        + [0x93, 0x8c, 3] + Array("1+1".utf8) + [0x85, UInt8(ascii: "R"), UInt8(ascii: ".")]

    @Test func osSystemIsRefusedAndNotRun() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let marker = scratch.file("pwned").path
        #expect(throws: InteropError.forbiddenGlobal(file: "evil.pkl", module: "os", name: "system")) {
            try TorchCheckpoint.unpickle(Self.systemCallPickle(marker: marker), file: "evil.pkl")
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func builtinsEvalIsRefused() {
        #expect(throws: InteropError.forbiddenGlobal(file: "evil.pkl", module: "builtins", name: "eval")) {
            try TorchCheckpoint.unpickle(Self.evalPickle, file: "evil.pkl")
        }
    }

    @Test func forbiddenGlobalInsideARealArchiveNamesTheFile() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("evil.ckpt")
        try writeZip(url, members: [("archive/data.pkl", Self.evalPickle)])
        #expect(throws: InteropError.forbiddenGlobal(file: url.path, module: "builtins", name: "eval")) {
            try TorchCheckpoint.read(url)
        }
    }

    @Test func memberPathEscapingTheRootIsRefused() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("escape.ckpt")
        try writeZip(url, members: [("archive/data.pkl", [0x80, 0x02, UInt8(ascii: "N"), UInt8(ascii: ".")]), ("../x", [1, 2, 3])])
        #expect(throws: InteropError.unsafeMemberPath(file: url.path, member: "../x")) {
            try TorchCheckpoint.read(url)
        }
    }

    @Test(arguments: [0.1, 0.5, 0.9, 0.999])
    func truncatedArchivesFailWithTheFileNamed(_ fraction: Double) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let original = try Data(contentsOf: lightningFixture("last.ckpt"))
        let url = scratch.file("truncated.ckpt")
        try original.prefix(Int(Double(original.count) * fraction)).write(to: url)
        do {
            _ = try TorchCheckpoint.read(url)
            Issue.record("a truncated archive was accepted")
        } catch let error as InteropError {
            #expect(error.description.contains(url.path), "\(error)")
        }
    }

    static let malformedPickles: [[UInt8]] = [
        [],
        [0x80, 0x02],                                          // no STOP
        [0x80, 0x02, UInt8(ascii: "a"), UInt8(ascii: ".")],    // APPEND on an empty stack
        [0x80, 0x02, UInt8(ascii: "h"), 9, UInt8(ascii: ".")], // empty memo slot
        [0x80, 0x02, UInt8(ascii: "X"), 0xff, 0xff, 0xff, 0x7f], // string longer than the pickle
        [0x80, 0x02, 0x8b, 0x01, 0x04, 0, 0] + [UInt8](repeating: 1, count: 1025) + [UInt8(ascii: ".")], // integer over the 1024-byte cap
        [0x80, 0x02, UInt8(ascii: "I")],                       // text-protocol opcode
        [0x80, 0x02, UInt8(ascii: "N"), UInt8(ascii: "Q"), UInt8(ascii: ".")], // persistent id without storages
    ]

    @Test(arguments: 0..<malformedPickles.count)
    func malformedPicklesThrowTypedErrors(_ index: Int) {
        #expect(throws: InteropError.self) { try TorchCheckpoint.unpickle(Self.malformedPickles[index], file: "bad.pkl") }
    }

    @Test func cyclicListHitsTheDepthLimit() {
        // l = []; l.append(l)
        let pickle: [UInt8] = [0x80, 0x02, UInt8(ascii: "]"), UInt8(ascii: "q"), 0, UInt8(ascii: "h"), 0, UInt8(ascii: "a"), UInt8(ascii: ".")]
        #expect(throws: InteropError.self) { try TorchCheckpoint.unpickle(pickle, file: "cycle.pkl") }
    }

    /// `_rebuild_tensor_v2(<4 floats>, offset, (size,), (stride,), False, OrderedDict())`.
    static func viewPickle(offset: UInt8, size: UInt32, stride: UInt8) -> [UInt8] {
        var pickle: [UInt8] = [0x80, 0x02]
        pickle += Array("ctorch._utils\n_rebuild_tensor_v2\n(".utf8)
        pickle += Array("(X".utf8) + [7, 0, 0, 0] + Array("storage".utf8)
        pickle += Array("ctorch\nFloatStorage\nX".utf8) + [1, 0, 0, 0] + Array("0".utf8)
        pickle += Array("X".utf8) + [3, 0, 0, 0] + Array("cpu".utf8) + [UInt8(ascii: "K"), 4, UInt8(ascii: "t"), UInt8(ascii: "Q")]
        pickle += [UInt8(ascii: "K"), offset, UInt8(ascii: "J")] + withUnsafeBytes(of: size.littleEndian) { Array($0) }
        pickle += [0x85, UInt8(ascii: "K"), stride, 0x85, 0x89]
        pickle += Array("ccollections\nOrderedDict\n)R".utf8) + [UInt8(ascii: "t"), UInt8(ascii: "R"), UInt8(ascii: ".")]
        return pickle
    }

    @Test(arguments: [(UInt8(2), UInt32(4), UInt8(1)), (0, 1 << 30, 0)])
    func tensorViewsBeyondTheirStorageAreRefused(_ offset: UInt8, _ size: UInt32, _ stride: UInt8) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("overrun.ckpt")
        let pickle = Self.viewPickle(offset: offset, size: size, stride: stride)
        try writeZip(url, members: [("archive/data.pkl", pickle), ("archive/data/0", [UInt8](repeating: 0, count: 16))])
        do {
            _ = try TorchCheckpoint.read(url)
            Issue.record("an out-of-bounds or exploding view was accepted")
        } catch let error as InteropError {
            switch error {
            case .invalidTensor, .limitExceeded: #expect(error.description.contains(url.path))
            default: Issue.record("wrong error \(error)")
            }
        }
    }

    @Test func inBoundsViewWithOffsetReadsTheRightElements() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("view.ckpt")
        let storage = [Float(10), 11, 12, 13].withUnsafeBytes { Array($0) }
        try writeZip(url, members: [("archive/data.pkl", Self.viewPickle(offset: 1, size: 2, stride: 2)), ("archive/data/0", storage)])
        #expect(try TorchCheckpoint.read(url).tensor?.float32s() == [11, 13])
    }

    func writeZip(_ url: URL, members: [(String, [UInt8])]) throws {
        let archive = try Archive(url: url, accessMode: .create)
        for (path, bytes) in members {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: .none) { position, size in
                Data(bytes[Int(position)..<(Int(position) + size)])
            }
        }
    }
}

import CairnCheckpoint
import CairnTestSupport
import Foundation
import Testing
@testable import CairnInterop

/// torch zip files are read in place: storages lend bytes from the mapped archive, and the
/// zip's CRC-32 is checked unless the caller asks only to look.
@Suite struct InPlaceTorchTests {
    static let values: [Float] = (0..<64).map { Float($0) + 0.5 }

    static func write(_ url: URL) throws {
        try TorchCheckpoint.write(.dictionary(["w": .tensor(CheckpointTensor(float32: values, shape: [8, 8]))]), to: url, lightning: false)
    }

    @Test func storagesAreLentFromTheMapping() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("model.pt")
        try Self.write(url)
        let tree = try TorchCheckpoint.read(url)
        let tensor = try #require(tree["w"]?.tensor)
        guard case .external = tensor.storage else {
            Issue.record("the tensor holds a copy, not the mapped storage")
            return
        }
        #expect(try tensor.float32s() == Self.values)
    }

    @Test func aDamagedStorageFailsItsCRCUnlessOnlyLooking() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let url = scratch.file("model.pt")
        try Self.write(url)
        var bytes = [UInt8](try Data(contentsOf: url))
        let marker = Self.values.withUnsafeBytes { Array($0.prefix(8)) }
        let at = try #require((0..<(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == marker })
        bytes[at] ^= 0x40
        try Data(bytes).write(to: url)
        #expect {
            _ = try TorchCheckpoint.read(url)
        } throws: { "\($0)".contains("CRC-32") && "\($0)".contains(url.path) }
        let looked = try TorchCheckpoint.read(url, verifyingCRC: false)
        #expect(try looked["w"]?.tensor?.float32s() != Self.values)
    }
}

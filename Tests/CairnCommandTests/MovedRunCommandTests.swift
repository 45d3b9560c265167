import Cairn
import CairnTestSupport
import Foundation
import Testing

/// A `cairn fit` run whose ModelCheckpoint has a relative `dirpath`, moved with `mv` to another
/// place and resumed from there: it still keeps exactly k files, all in the new place.
@Suite struct MovedRunCommandTests {
    static let cairn = FitCommandTests.cairn

    static func arguments(maxEpochs: Int) -> [String] {
        ["fit", "--data", FitCommandTests.digits, "--max-epochs", String(maxEpochs), "--no-progress-bar", "--ckpt-path", "last",
         "--callback", "ModelCheckpoint:dirpath=ckpts,monitor=val_loss,save_top_k=2,save_last=true,filename={epoch}"]
    }

    @Test func movedRunWithARelativeDirpathKeepsTopK() throws {
        let parent = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: parent) }
        let before = parent.appendingPathComponent("run-before"), after = parent.appendingPathComponent("run-after")
        try FileManager.default.createDirectory(at: before, withIntermediateDirectories: true)
        let first = try Self.cairn.run(Self.arguments(maxEpochs: 2), currentDirectory: before)
        #expect(first.status == 0, "\(first.stderr)")
        try FileManager.default.moveItem(at: before, to: after)

        let resumed = try Self.cairn.run(Self.arguments(maxEpochs: 5), currentDirectory: after)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("moved to"), "\(resumed.stderr)")
        let directory = after.appendingPathComponent("ckpts")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".ckpt") }.sorted()
        #expect(names.count == 3 && names.contains("last.ckpt"), "\(names)")
        let tree = try Checkpoint.load(directory.appendingPathComponent("last.ckpt"))
        guard case let .dictionary(callbacks)? = tree["/callbacks"],
              let saved = callbacks.first(where: { $0.key.token.hasPrefix("ModelCheckpoint<") })?.value else {
            Issue.record("last.ckpt holds no ModelCheckpoint state")
            return
        }
        let state = try CheckpointDecoder().decode(ModelCheckpoint.State.self, from: saved)
        #expect(state.dirpath == directory.standardizedFileURL.path)
        #expect(Set(state.bestKModels.keys.map { URL(fileURLWithPath: $0).lastPathComponent }) == Set(names.filter { $0 != "last.ckpt" }))
        #expect(state.bestKModels.keys.allSatisfy { $0.hasPrefix(state.dirpath + "/") })
        #expect(FileManager.default.fileExists(atPath: state.bestModelPath))
    }
}

import Cairn
import CairnTestSupport
import Foundation
import Testing

/// `cairn fit --model charlm` and `cairn generate`, run as a user runs them, on a tiny model.
@Suite(.serialized) struct CharacterLMCommandTests {
    static let cairn = FitCommandTests.cairn

    /// A one-layer, width-16 model on the bundled text, validated on two batches every ten steps.
    static func fitArguments(root: URL, maxSteps: Int, everyNTrainSteps: Int? = nil) -> [String] {
        var arguments = ["fit", "--model", "charlm", "--layers", "1", "--width", "16", "--heads", "2", "--context", "16",
                         "--batch-size", "4", "--max-steps", String(maxSteps), "--val-check-interval", "10",
                         "--limit-val-batches", "2", "--limit-test-batches", "2", "--num-sanity-val-steps", "0",
                         "--default-root-dir", root.path, "--no-progress-bar", "--no-model-summary"]
        if let everyNTrainSteps { arguments += ["--every-n-train-steps", String(everyNTrainSteps)] }
        return arguments
    }

    @Test func fitThenGenerateTheSameTextForTheSameSeed() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let fit = try Self.cairn.run(Self.fitArguments(root: root, maxSteps: 20))
        #expect(fit.status == 0, "\(fit.stderr)")
        #expect(fit.stdout.contains("bundled fortunes.txt: 1060118 training and 117791 validation characters"), "\(fit.stdout)")
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("checkpoints").path)
        #expect(checkpoints.contains("last.ckpt") && checkpoints.contains { $0.hasPrefix("epoch=0-step=") })

        func generate(_ extra: [String]) throws -> BuiltProduct.Result {
            try Self.cairn.run(["generate", "--default-root-dir", root.path, "--ckpt-path", "last", "--length", "40"] + extra)
        }
        let first = try generate(["--prompt", "The ", "--seed", "7"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.hasPrefix("The ") && first.stdout.count == 4 + 40 + 1, "\(first.stdout)")
        #expect(try generate(["--prompt", "The ", "--seed", "7"]).stdout == first.stdout)
        #expect(try generate(["--prompt", "The ", "--seed", "8"]).stdout != first.stdout)
        let greedy = try generate(["--prompt", "The ", "--temperature", "0", "--seed", "1"])
        #expect(greedy.stdout == (try generate(["--prompt", "The ", "--temperature", "0", "--seed", "2"])).stdout)

        // The library gives the same text as the command.
        let model = try CharacterLM.loadFromCheckpoint(root.appendingPathComponent("checkpoints/last.ckpt"))
        #expect("The " + (try model.generate(prompt: "The ", length: 40, temperature: 0.8, seed: 7)) + "\n" == first.stdout)

        let unknown = try generate(["--prompt", "日本"])
        #expect(unknown.status == 2 && unknown.stderr.contains("vocabulary lacks"), "\(unknown.stderr)")
        let missing = try Self.cairn.run(["generate", "--ckpt-path", root.appendingPathComponent("none.ckpt").path])
        #expect(missing.status == 2 && missing.stderr.contains("none.ckpt"), "\(missing.stderr)")
    }

    /// `kill -9` at a random moment after the first last.ckpt, then `--ckpt-path last`: the same
    /// weights and optimizer state as a run never killed.
    @Test func killedAtARandomMomentThenResumedFromLastIsBitExact() throws {
        let reference = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: reference) }
        let straight = try Self.cairn.run(Self.fitArguments(root: reference, maxSteps: 40, everyNTrainSteps: 5))
        #expect(straight.status == 0, "\(straight.stderr)")
        let expected = try ResumeCommandTests.trainingTensors(reference)

        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        try ResumeCommandTests.killAtARandomMoment(Self.fitArguments(root: root, maxSteps: 40, everyNTrainSteps: 5), root: root,
                                                   latestMicroseconds: 300_000)

        let resumed = try Self.cairn.run(Self.fitArguments(root: root, maxSteps: 40, everyNTrainSteps: 5) + ["--ckpt-path", "last"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let actual = try ResumeCommandTests.trainingTensors(root)
        #expect(actual.keys.sorted() == expected.keys.sorted())
        for (path, bytes) in expected { #expect(actual[path] == bytes, "\(path) differs after resuming") }
    }
}

import Cairn
import CairnTestSupport
import Foundation
import Testing

/// Runs the built `cairn` as a user would and opens what it wrote.
@Suite struct FitCommandTests {
    static let cairn = BuiltProduct("cairn")
    static let digits = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Fixtures/digits.csv").standardized.path

    static func scratchDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-fit-\(UUID())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func fitWritesALoadableCheckpointPerEpochAndLast() throws {
        let root = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try Self.cairn.run(["fit", "--data", Self.digits, "--max-epochs", "2",
                                         "--default-root-dir", root.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("Epoch 2/2: 100%|██████████| 20/20"), "\(result.stdout)")
        #expect(result.stdout.contains("test_acc"))

        let checkpoints = root.appendingPathComponent("checkpoints")
        let names = try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).sorted()
        #expect(names == ["epoch=0-step=20.ckpt", "epoch=1-step=40.ckpt", "last.ckpt"])

        let last = try Checkpoint.open(checkpoints.appendingPathComponent("last.ckpt"))
        #expect(last.metadata.epoch == 1)
        #expect(last.metadata.globalStep == 40)
        let tree = try last.tree()
        // The model's state_dict loads strictly into a fresh model.
        var weights = OrderedDictionary<String, Tensor>()
        guard case let .dictionary(entries)? = tree["/state_dict"] else {
            Issue.record("no /state_dict dictionary")
            return
        }
        for (key, value) in entries {
            weights[key.description] = try Tensor(try #require(value.tensor), name: key.description)
        }
        try DigitsMLP().loadStateDict(weights)
        // The optimizer state restores into a fresh Adam over the same parameters.
        let optimizerState = try StateValue(try #require(tree["/optimizer_states/0"]), path: "/optimizer_states/0")
        try Adam(DigitsMLP().parameters()).loadStateDict(optimizerState)
        guard case let .double(lr)? = tree["/hyper_parameters/lr"] else {
            Issue.record("no /hyper_parameters/lr number")
            return
        }
        #expect(lr == 3e-3)
    }

    @Test func validateAndTestPrintJSONOnly() throws {
        let root = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let fit = try Self.cairn.run(["fit", "--data", Self.digits, "--max-epochs", "2", "--default-root-dir", root.path])
        #expect(fit.status == 0, "\(fit.stderr)")
        for (command, keys) in [("test", ["test_acc", "test_loss"]), ("validate", ["val_acc", "val_loss"])] {
            let result = try Self.cairn.run([command, "--json", "--data", Self.digits, "--default-root-dir", root.path])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Double]
            #expect(object.map { $0.keys.sorted() } == keys, "\(result.stdout)")
            if command == "test" { #expect((object?["test_acc"] ?? 0) > 0.9) }
        }
        let predicted = try Self.cairn.run(["predict", "--data", Self.digits, "--default-root-dir", root.path])
        #expect(predicted.status == 0, "\(predicted.stderr)")
        let labels = predicted.stdout.split(separator: "\n").compactMap { Int($0) }
        #expect(labels.count == 359)
        #expect(labels.allSatisfy { (0..<10).contains($0) })
    }

    @Test func unknownCallbackListsTheKnownOnes() throws {
        let root = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let result = try Self.cairn.run(["fit", "--data", Self.digits, "--callback", "Nope:x=1", "--default-root-dir", root.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("known: "), "\(result.stderr)")
        #expect(result.stderr.contains("Counter") && result.stderr.contains("ModelCheckpoint"), "\(result.stderr)")
    }

    @Test func badDataIsOneClearErrorNamingTheFile() throws {
        let root = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let broken = root.appendingPathComponent("broken.csv")
        try "p0,p1,label\n1,2,3\n4,five,6\n".write(to: broken, atomically: true, encoding: .utf8)
        let result = try Self.cairn.run(["fit", "--data", broken.path, "--default-root-dir", root.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("broken.csv"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test func invalidOptionsAreRefusedBeforeTraining() throws {
        let result = try Self.cairn.run(["fit", "--max-epochs", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--max-epochs"))
    }
}

/// Each top-k file records the score it was saved with, so tools can rank files without training code.
@Test func everyTopKCheckpointRecordsItsOwnScore() throws {
    let root = try FitCommandTests.scratchDirectory()
    defer { try? FileManager.default.removeItem(at: root) }
    let result = try FitCommandTests.cairn.run(["fit", "--data", FitCommandTests.digits, "--max-epochs", "3",
                                                "--default-root-dir", root.path])
    #expect(result.status == 0, "\(result.stderr)")
    let checkpoints = root.appendingPathComponent("checkpoints")
    var scores: [Double] = []
    var bestInLast: Double?
    for name in try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).sorted() {
        let tree = try Checkpoint.load(checkpoints.appendingPathComponent(name))
        guard case let .dictionary(callbacks)? = tree["/callbacks"],
              let state = callbacks.first(where: { $0.key.description.hasPrefix("ModelCheckpoint") })?.value,
              case let .double(score)? = state["/current_score"] else {
            Issue.record("\(name): no ModelCheckpoint current_score")
            continue
        }
        if name == "last.ckpt", case let .double(best)? = state["/best_model_score"] { bestInLast = best } else { scores.append(score) }
    }
    #expect(scores.count == 3)
    #expect(bestInLast == scores.min())
}

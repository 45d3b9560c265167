import CairnCheckpoint
import CairnData
import CairnNN
import CairnTensor
@testable import CairnTrainer
import Foundation
import Logging
import Testing

/// TinyClassifier rebuilt from the hyper-parameters it saves.
final class LoadableTiny: TinyClassifier, CheckpointLoadable, @unchecked Sendable {
    init(hyperparameters: TinyHyperparameters) {
        super.init(seed: UInt64(hyperparameters.hidden))
    }
}

/// What a newcomer meets first: loading a trained module back, evaluating a checkpoint on a
/// fresh trainer, reading a checkpoint tree by key, and catching an interrupted fit.
@Suite struct FirstContactTests {
    func trainedCheckpoint(in directory: URL) throws -> (url: URL, module: TinyClassifier) {
        let url = directory.appendingPathComponent("step5.ckpt")
        let module = TinyClassifier(seed: 1)
        try Trainer(resumeOptions(), callbacks: [Counter(what: .batches), StopAndSave(step: 5, url: url)])
            .fit(module, data: try freshData())
        return (url, module)
    }

    @Test func moduleLoadsItsWeightsFromACheckpoint() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (url, trained) = try trainedCheckpoint(in: directory)
        let saved = try Checkpoint.load(url)
        let fresh = TinyClassifier(seed: 99)
        #expect(weightBytes(fresh) != weightBytes(trained))
        try fresh.loadFromCheckpoint(url)
        let expected = try (saved["state_dict"] ?? .null).tensorDictionary(path: "/state_dict")
        #expect(weightBytes(fresh) == Dictionary(uniqueKeysWithValues: expected.map { ($0.key, $0.value.rawBytes) }))
    }

    @Test func strictLoadReportsMismatchedKeysAndChangesNothing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (url, _) = try trainedCheckpoint(in: directory)
        var rng = RandomGenerator(seed: 2)
        let other = Sequential([Linear(3, 4, rng: &rng)])
        let before = weightBytes(other)
        #expect(throws: (any Error).self) { try other.loadFromCheckpoint(url) }
        #expect(weightBytes(other) == before)
        try other.loadFromCheckpoint(url, strict: false)
        #expect(weightBytes(other) == before, "no key in common: nothing loads")
    }

    @Test func trainingModuleIsRebuiltFromItsHyperparameters() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("tiny.ckpt")
        let module = LoadableTiny(hyperparameters: TinyHyperparameters(hidden: 8, learningRate: 0.05))
        try Trainer(resumeOptions(), callbacks: [StopAndSave(step: 4, url: url)]).fit(module, data: try freshData())

        let loaded = try LoadableTiny.loadFromCheckpoint(url)
        let saved = try Checkpoint.load(url)
        let expected = try (saved["state_dict"] ?? .null).tensorDictionary(path: "/state_dict")
        #expect(weightBytes(loaded) == Dictionary(uniqueKeysWithValues: expected.map { ($0.key, $0.value.rawBytes) }))
        #expect(try loaded.hyperparameters(as: TinyHyperparameters.self) == TinyHyperparameters(hidden: 8, learningRate: 0.05))

        var seen: TinyHyperparameters?
        _ = try LoadableTiny.loadFromCheckpoint(url) { seen = $0; $0.learningRate = 0.5 }
        #expect(seen == TinyHyperparameters(hidden: 8, learningRate: 0.05))
    }

    @Test func loadingWithoutHyperparametersOrWeightsNamesTheFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("bare.ckpt")
        try Checkpoint.save(.dictionary(["epoch": .int(1)]), to: url)
        #expect {
            _ = try LoadableTiny.loadFromCheckpoint(url)
        } throws: { "\($0)".contains(url.path) && "\($0)".contains("/hyper_parameters") }
        #expect {
            try TinyClassifier(seed: 1).loadFromCheckpoint(url)
        } throws: { "\($0)".contains(url.path) && "\($0)".contains("/state_dict") }
    }

    /// A fresh trainer validating a checkpoint has nothing to continue: the callback states it
    /// does not have are recorded, not warned about.
    @Test func evaluatingOnAFreshTrainerLogsNoCallbackWarnings() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (url, _) = try trainedCheckpoint(in: directory)
        let box = CollectingLogHandler.Box()
        let logger = Logger(label: "first-contact") { _ in CollectingLogHandler(box: box) }
        let trainer = try Trainer(Trainer.Options(defaultRootDir: directory.path), logger: logger)
        _ = try trainer.validate(TinyClassifier(seed: 1), data: try freshData(), ckptPath: .path(url))
        #expect(!trainer.callbackStateWarnings.isEmpty, "the mismatch is still recorded")
        #expect(box.messages.filter { $0.0 >= .warning }.isEmpty, "\(box.messages)")

        // Fitting from it still warns: there the missing callback would change the run.
        let fitBox = CollectingLogHandler.Box()
        let fitter = try Trainer(resumeOptions(), logger: Logger(label: "fit") { _ in CollectingLogHandler(box: fitBox) })
        try fitter.fit(TinyClassifier(seed: 1), data: try freshData(), ckptPath: .path(url))
        #expect(fitBox.messages.contains { $0.0 == .warning && $0.1.contains(#"Counter<"what":"batches">"#) })
    }

    @Test func checkpointTreeReadsByPlainKeyAndByPointer() throws {
        let tree: CheckpointValue = .dictionary([
            "state_dict": .dictionary(["0.weight": .int(1)]),
            "a/b": .int(2),
            "a": .dictionary(["b": .int(3)]),
        ])
        #expect(tree["state_dict"]?["0.weight"].map { "\($0)" } == "\(CheckpointValue.int(1))")
        #expect(integer(tree["/state_dict/0.weight"]) == 1)
        #expect(integer(tree["a/b"]) == 2, "a plain key is taken whole")
        #expect(integer(tree["/a/b"]) == 3)
        #expect(integer(tree["/a~1b"]) == 2)
        #expect(tree["missing"] == nil)
    }

    /// As in CairnTrainer.md, "Interrupting a run": the catch a program needs.
    @Test func interruptedFitIsCaughtAsTheArticleShows() throws {
        let module = TinyClassifier(seed: 1)
        // Stands in for Ctrl-C: raises the flag SIGINT raises.
        let raiser = LambdaCallback(onTrainBatchEnd: { trainer, _, _, _, _ in
            if trainer.globalStep == 3 { trainer.interruptFlag.raise() }
        })
        let trainer = try Trainer(Trainer.Options(maxEpochs: 10, numSanityValSteps: 0, enableCheckpointing: false,
                                                  handlesInterruptSignal: true), callbacks: [raiser])
        var message = ""
        do {
            try trainer.fit(module, data: try freshData())
        } catch TrainerError.interrupted(let stage) {
            // The batch in flight finished, onException ran, checkpoints on disk are whole.
            message = "\(stage.rawValue) interrupted at step \(trainer.globalStep); resume with ckptPath: .last"
        }
        #expect(message == "fit interrupted at step 3; resume with ckptPath: .last")
    }
}

import CairnCheckpoint
@testable import CairnTrainer
import Foundation
import Testing

/// Records every validation loss fit produced, to check which files top-k kept.
final class ValidationLossRecorder: Callback, @unchecked Sendable {
    var losses: [Int: Double] = [:]
    override var monitorsMetrics: Bool { true }
    override func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard !trainer.isSanityChecking, let loss = trainer.metrics.callbackMetrics["val_loss"] else { return }
        losses[trainer.globalStep] = loss
    }
}

@Suite struct ModelCheckpointTests {
    static func files(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
    }

    static func options(maxEpochs: Int, root: URL) -> Trainer.Options {
        Trainer.Options(maxEpochs: maxEpochs, numSanityValSteps: 0, defaultRootDir: root.path)
    }

    @Test func fileNamesFollowTheTemplate() {
        let values = ["epoch": 2.0, "step": 30.0, "val_loss": 0.1234]
        #expect(CheckpointFilename.format("{epoch}-{step}", values) == "epoch=2-step=30")
        #expect(CheckpointFilename.format("digits-{epoch:03d}-{val_loss:.2f}", values) == "digits-epoch=002-val_loss=0.12")
        #expect(CheckpointFilename.format("{missing:.1f}", values) == "missing=0.0")
        #expect(CheckpointFilename.format("last", values, insertNames: false) == "last")
    }

    @Test func conflictingArgumentsAreRejectedAtCreation() {
        #expect(throws: TrainerError.self) { try ModelCheckpoint(everyNTrainSteps: 5, everyNEpochs: 1) }
        #expect(throws: TrainerError.self) { try ModelCheckpoint(saveTopK: 3) }
        #expect(throws: TrainerError.self) { try ModelCheckpoint(monitor: "val_loss", saveTopK: -2) }
    }

    @Test func stateKeyMatchesLightning() throws {
        #expect(try ModelCheckpoint(monitor: "val_loss").stateKey
            == #"ModelCheckpoint<"monitor":"val_loss","mode":"min","every_n_train_steps":0,"every_n_epochs":1,"train_time_interval":null>"#)
        #expect(try ModelCheckpoint(everyNTrainSteps: 5).stateKey
            == #"ModelCheckpoint<"monitor":null,"mode":"min","every_n_train_steps":5,"every_n_epochs":0,"train_time_interval":null>"#)
    }

    @Test func topKKeepsTheBestValidationLossesAndALastFile() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let checkpoint = try ModelCheckpoint(monitor: "val_loss", saveTopK: 2, saveLast: true)
        let recorder = ValidationLossRecorder()
        let trainer = try Trainer(Self.options(maxEpochs: 5, root: root), callbacks: [recorder, checkpoint])
        try trainer.fit(TinyClassifier(seed: 4), data: try freshData())

        let expectedKept = recorder.losses.sorted { $0.value < $1.value }.prefix(2)
            .map { "epoch=\($0.key / 5 - 1)-step=\($0.key).ckpt" }
        #expect(recorder.losses.count == 5)
        #expect(try Self.files(in: checkpoint.dirpath) == (expectedKept + ["last.ckpt"]).sorted())
        #expect(checkpoint.state.bestKModels.count == 2)
        #expect(checkpoint.state.bestModelScore == recorder.losses.values.min())
        #expect(checkpoint.bestModelPath.map { URL(fileURLWithPath: $0).lastPathComponent } == expectedKept.first)
        // last.ckpt holds the final step and the callback's own state, including itself.
        let last = try Checkpoint.load(checkpoint.dirpath.appendingPathComponent("last.ckpt"))
        guard case .int(25)? = last["/global_step"] else { Issue.record("last.ckpt is not at step 25"); return }
        let pointer = JSONPointer(tokens: ["callbacks", checkpoint.stateKey, "last_model_path"]).description
        guard case let .string(saved)? = last[pointer] else { Issue.record("no \(pointer)"); return }
        #expect(saved == checkpoint.dirpath.appendingPathComponent("last.ckpt").path)
    }

    @Test func defaultCheckpointKeepsOnlyTheLatestEpochFile() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let trainer = try Trainer(Self.options(maxEpochs: 3, root: root))
        #expect(trainer.callbacks.filter { $0 is ModelCheckpoint }.count == 1)
        try trainer.fit(TinyClassifier(seed: 4), data: try freshData())
        #expect(try Self.files(in: root.appendingPathComponent("checkpoints")) == ["epoch=2-step=15.ckpt"])
    }

    @Test func everyNTrainStepsSavesOnStepsAndNeverDeletesForeignFiles() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let foreign = directory.appendingPathComponent("epoch=0-step=3.ckpt")
        try Data("not ours".utf8).write(to: foreign)
        let checkpoint = try ModelCheckpoint(saveTopK: 1, everyNTrainSteps: 3)
        let trainer = try Trainer(Self.options(maxEpochs: 1, root: root), callbacks: [checkpoint])
        try trainer.fit(TinyClassifier(seed: 4), data: try freshData())
        #expect(try Self.files(in: directory) == ["epoch=0-step=3-v1.ckpt", "epoch=0-step=3.ckpt"])
        #expect(try Data(contentsOf: foreign) == Data("not ours".utf8))
    }

    @Test func resumedRunStillKeepsExactlyK() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func callback() throws -> ModelCheckpoint { try ModelCheckpoint(monitor: "val_loss", saveTopK: 2, saveLast: true) }
        let first = try callback()
        try Trainer(Self.options(maxEpochs: 3, root: root), callbacks: [first]).fit(TinyClassifier(seed: 4), data: try freshData())
        let second = try callback()
        let resumed = try Trainer(Self.options(maxEpochs: 6, root: root), callbacks: [second])
        try resumed.fit(TinyClassifier(seed: 4), data: try freshData(), ckptPath: .last)
        #expect(resumed.globalStep == 30)
        #expect(second.state.bestKModels.count == 2)
        let files = try Self.files(in: second.dirpath)
        #expect(files.count == 3)
        #expect(files.contains("last.ckpt"))
        #expect(Set(files.filter { $0 != "last.ckpt" }) == Set(second.state.bestKModels.keys.map { URL(fileURLWithPath: $0).lastPathComponent }))
    }

    @Test func bestAndFinishedRunSelections() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func callback() throws -> ModelCheckpoint { try ModelCheckpoint(monitor: "val_loss", saveTopK: 2, saveLast: true) }
        let first = try callback()
        try Trainer(Self.options(maxEpochs: 3, root: root), callbacks: [first]).fit(TinyClassifier(seed: 4), data: try freshData())
        let before = try Self.files(in: first.dirpath)
        let bestPath = try #require(first.bestModelPath)

        // A fresh trainer reads best_model_path from last.ckpt's ModelCheckpoint state.
        let reader = try Trainer(Self.options(maxEpochs: 3, root: root), callbacks: [try callback()])
        #expect(try reader.resolve(.best) == URL(fileURLWithPath: bestPath))
        #expect(try reader.resolve(.last)?.lastPathComponent == "last.ckpt")
        #expect(try reader.validate(TinyClassifier(seed: 9), data: try freshData(), ckptPath: .best)["val_loss"] == first.state.bestModelScore)

        // Resuming the finished run trains nothing and touches no file.
        let again = try Trainer(Self.options(maxEpochs: 3, root: root), callbacks: [try callback()])
        try again.fit(TinyClassifier(seed: 4), data: try freshData(), ckptPath: .last)
        #expect(again.globalStep == 15)
        #expect(try Self.files(in: first.dirpath) == before)

        // Nothing to resume from is a fresh start for .last and an error for .best.
        let empty = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: empty) }
        let fresh = try Trainer(Self.options(maxEpochs: 1, root: empty), callbacks: [try callback()])
        #expect(try fresh.resolve(.last) == nil)
        #expect(throws: TrainerError.self) { try fresh.resolve(.best) }
    }
}

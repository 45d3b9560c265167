import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Raises the trainer's interrupt flag once, after the optimizer step that reaches `step`, as
/// Ctrl-C would.
final class InterruptAtStep: Callback, @unchecked Sendable {
    let step: Int
    init(step: Int) { self.step = step }

    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        if trainer.globalStep == step { trainer.interruptFlag.raise() }
    }
}

/// Fails in the training step of global batch `failAt` (counted from 0 across epochs).
final class FailingClassifier: TinyClassifier, @unchecked Sendable {
    let failAt: Int
    init(seed: UInt64, failAt: Int) {
        self.failAt = failAt
        super.init(seed: seed)
    }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        if trainer?.progress.trainBatch.total.ready == failAt + 1 { throw PlannedFailure() }
        return try super.trainingStep(batch, batchIndex: batchIndex)
    }
}

@Suite struct OnExceptionCheckpointTests {
    /// Interrupted after step 7 (mid-epoch 2): the on-exception file holds step 7, `.last` finds it,
    /// the resumed run ends bit-identical to an uninterrupted one, and its clean finish removes the file.
    @Test func interruptedRunResumesExactlyFromTheFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }

        let straight = TinyClassifier(seed: 1)
        let straightTrainer = try Trainer(resumeOptions(), callbacks: [try OnExceptionCheckpoint(dirpath: directory.path)])
        try straightTrainer.fit(straight, data: try freshData())
        #expect(straightTrainer.globalStep == 10)

        let onException = try OnExceptionCheckpoint(dirpath: directory.path)
        #expect(onException.ckptPath.lastPathComponent == "on_exception.ckpt")
        #expect(throws: TrainerError.interrupted(stage: .fit)) {
            try Trainer(resumeOptions(), callbacks: [onException, InterruptAtStep(step: 7)]).fit(TinyClassifier(seed: 1), data: try freshData())
        }
        #expect(FileManager.default.fileExists(atPath: onException.ckptPath.path))
        #expect(integer(try Checkpoint.load(onException.ckptPath)["/global_step"]) == 7)

        let resumed = TinyClassifier(seed: 42)
        let resumedTrainer = try Trainer(resumeOptions(), callbacks: [onException])
        try resumedTrainer.fit(resumed, data: try freshData(), ckptPath: .last)
        #expect(resumedTrainer.globalStep == 10)
        #expect(weightBytes(resumed) == weightBytes(straight))
        #expect(resumed.dropout.rng == straight.dropout.rng)
        #expect(resumedTrainer.optimizer?.stateDict() == straightTrainer.optimizer?.stateDict())
        #expect(!FileManager.default.fileExists(atPath: onException.ckptPath.path))
    }

    /// Any error reaching `onException` during fit saves the file under the chosen name; the newest of
    /// it and the ModelCheckpoint's last file is what `.last` resumes.
    @Test func failureSavesUnderTheGivenNameAndLastPrefersTheNewest() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoints = directory.appendingPathComponent("checkpoints")
        func callbacks() throws -> [Callback] {
            [try ModelCheckpoint(dirpath: checkpoints.path, saveLast: true),
             try OnExceptionCheckpoint(dirpath: checkpoints.path, filename: "crash")]
        }
        var options = resumeOptions()
        options.maxEpochs = 3
        let failedCallbacks = try callbacks()
        #expect(throws: PlannedFailure.self) {
            try Trainer(options, callbacks: failedCallbacks).fit(FailingClassifier(seed: 1, failAt: 7), data: try freshData())
        }
        let crash = checkpoints.appendingPathComponent("crash.ckpt")
        #expect(integer(try Checkpoint.load(crash)["/global_step"]) == 7)
        #expect(integer(try Checkpoint.load(checkpoints.appendingPathComponent("last.ckpt"))["/global_step"]) == 5)

        // The same callbacks again: the failed run's bookkeeping must not keep the file alive.
        let resumedTrainer = try Trainer(options, callbacks: failedCallbacks)
        #expect(try resumedTrainer.resolve(.last) == crash)
        let resumed = TinyClassifier(seed: 5)
        try resumedTrainer.fit(resumed, data: try freshData(), ckptPath: .last)
        #expect(resumedTrainer.globalStep == 15)
        #expect(!FileManager.default.fileExists(atPath: crash.path))

        // The failed batch is redone, not skipped: the result equals a run that never failed.
        let straight = TinyClassifier(seed: 1)
        try Trainer(options, callbacks: [try ModelCheckpoint(dirpath: directory.appendingPathComponent("straight").path)])
            .fit(straight, data: try freshData())
        #expect(weightBytes(resumed) == weightBytes(straight))
    }

    @Test func failureBeforeFitStartsSavesNothing() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let onException = try OnExceptionCheckpoint(dirpath: directory.path)
        #expect(throws: (any Error).self) {
            try Trainer(resumeOptions(), callbacks: [onException])
                .fit(TinyClassifier(seed: 1), data: try freshData(), ckptPath: directory.appendingPathComponent("absent.ckpt"))
        }
        #expect(!FileManager.default.fileExists(atPath: onException.ckptPath.path))
    }

    @Test func registryNeedsADirectory() throws {
        let callback = try CallbackRegistry().make("OnExceptionCheckpoint:dirpath=/tmp/x,filename=boom")
        #expect((callback as? OnExceptionCheckpoint)?.ckptPath.path == "/tmp/x/boom.ckpt")
        #expect(throws: TrainerError.self) { try CallbackRegistry().make("OnExceptionCheckpoint") }
        #expect(throws: TrainerError.self) { try OnExceptionCheckpoint(dirpath: "/tmp/x", filename: "") }
    }
}

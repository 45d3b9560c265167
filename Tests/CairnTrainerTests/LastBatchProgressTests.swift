import CairnCheckpoint
import Foundation
import Testing
@testable import CairnTrainer

/// Each batch loop saves Lightning's `is_last_batch`, which Lightning's fit loop reads on resume.
@Suite struct LastBatchProgressTests {
    static func isLastBatch(_ checkpoint: CheckpointValue, _ loop: String) -> Bool? {
        if case let .bool(flag)? = checkpoint["/loops/\(loop)/is_last_batch"] { return flag }
        return nil
    }

    @Test func midEpochCheckpointIsNotAtTheLastBatch() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = directory.appendingPathComponent("step3.ckpt")
        // Five batches per epoch: step 3 is the third batch of the first epoch.
        try Trainer(resumeOptions(), callbacks: [StopAndSave(step: 3, url: url)]).fit(TinyClassifier(seed: 1), data: try freshData())
        let checkpoint = try Checkpoint.load(url)
        #expect(Self.isLastBatch(checkpoint, "fit_loop/epoch_loop.batch_progress") == false)
        // The sanity check's batch is not counted, as in Lightning.
        #expect(Self.isLastBatch(checkpoint, "fit_loop/epoch_loop.val_loop.batch_progress") == false)
        #expect(Self.isLastBatch(checkpoint, "test_loop/batch_progress") == false)
    }

    @Test func endOfEpochCheckpointIsAtTheLastBatchAndReadsBack() throws {
        let trainer = try Trainer(quietOptions(), callbacks: [])
        let module = TinyClassifier(seed: 2)
        try trainer.fit(module, data: try freshData())
        trainer.module = module
        let checkpoint = try trainer.dumpCheckpoint()
        #expect(Self.isLastBatch(checkpoint, "fit_loop/epoch_loop.batch_progress") == true)
        #expect(Self.isLastBatch(checkpoint, "fit_loop/epoch_loop.val_loop.batch_progress") == true)
        let progress = try LoopProgress(try #require(checkpoint["/loops"]))
        #expect(progress.trainBatch.isLastBatch)
        #expect(!progress.predictBatch.isLastBatch)
    }
}

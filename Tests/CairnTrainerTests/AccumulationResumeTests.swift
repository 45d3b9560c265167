import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Saves once from `onAfterBackward` of the run's second batch, while that batch is in flight.
final class SaveAfterSecondBackward: Callback, @unchecked Sendable {
    let url: URL
    init(url: URL) { self.url = url }

    override func onAfterBackward(_ trainer: Trainer, _ module: TrainingModule) throws {
        if trainer.progress.trainBatch.total.started == 2 { try trainer.saveCheckpoint(to: url) }
    }
}

@Suite struct AccumulationResumeTests {
    func accumulatingOptions() -> Trainer.Options {
        Trainer.Options(maxEpochs: 2, numSanityValSteps: 0, accumulateGradBatches: 3, enableCheckpointing: false)
    }

    /// Accumulating over 3 batches, a checkpoint after the 7th batch (the second of a window in
    /// epoch 2) holds the window's gradients; resuming from it ends byte-identical to the
    /// uninterrupted run, and the same checkpoint without those gradients does not.
    @Test func midWindowResumeIsBitExact() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("batch7.ckpt")

        let straight = TinyClassifier(seed: 3)
        let straightTrainer = try Trainer(accumulatingOptions())
        try straightTrainer.fit(straight, data: try freshData())

        try Trainer(accumulatingOptions(), callbacks: [StopAndSave(batch: 7, url: checkpoint)])
            .fit(TinyClassifier(seed: 3), data: try freshData())
        let saved = try Checkpoint.load(checkpoint)
        guard case let .dictionary(gradients)? = saved["/accumulated_gradients"] else {
            Issue.record("no /accumulated_gradients in a mid-window checkpoint")
            return
        }
        #expect(Set(gradients.keys.map(\.token)) == ["hidden.weight", "hidden.bias", "output.weight", "output.bias"])

        let resumed = TinyClassifier(seed: 42)
        let resumedTrainer = try Trainer(accumulatingOptions())
        try resumedTrainer.fit(resumed, data: try freshData(), ckptPath: checkpoint)
        #expect(resumedTrainer.globalStep == straightTrainer.globalStep)
        #expect(weightBytes(resumed) == weightBytes(straight))
        #expect(resumedTrainer.optimizer?.stateDict() == straightTrainer.optimizer?.stateDict())

        // Control: without the saved window the resumed run drifts, so the check above has teeth.
        guard case var .dictionary(tree) = saved else { return }
        tree.removeValue(forKey: "accumulated_gradients")
        let stripped = directory.appendingPathComponent("stripped.ckpt")
        try Checkpoint.save(.dictionary(tree), to: stripped)
        let drifted = TinyClassifier(seed: 42)
        try Trainer(accumulatingOptions()).fit(drifted, data: try freshData(), ckptPath: stripped)
        #expect(weightBytes(drifted) != weightBytes(straight))
    }

    /// Checkpoints at a window's end (after an optimizer step) carry no gradients.
    @Test func windowBoundaryCheckpointHasNoGradients() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("batch3.ckpt")
        try Trainer(accumulatingOptions(), callbacks: [StopAndSave(batch: 3, url: checkpoint)])
            .fit(TinyClassifier(seed: 3), data: try freshData())
        #expect(try Checkpoint.load(checkpoint)["/accumulated_gradients"] == nil)
    }

    /// Inside a batch after its backward pass the gradients include that batch, which a resume
    /// redoes: the checkpoint holds the window's sum from before it, and the resume is exact.
    @Test func inFlightBatchSavesTheWindowBeforeIt() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("in-flight.ckpt")
        let straight = TinyClassifier(seed: 3)
        let straightTrainer = try Trainer(accumulatingOptions())
        try straightTrainer.fit(straight, data: try freshData())
        let afterFirstBatch = directory.appendingPathComponent("batch1.ckpt")
        try Trainer(accumulatingOptions(), callbacks: [StopAndSave(batch: 1, url: afterFirstBatch)])
            .fit(TinyClassifier(seed: 3), data: try freshData())
        try Trainer(accumulatingOptions(), callbacks: [SaveAfterSecondBackward(url: checkpoint)])
            .fit(TinyClassifier(seed: 3), data: try freshData())

        let saved = try Checkpoint.load(checkpoint)
        #expect(integer(saved["/loops/fit_loop/epoch_loop.batch_progress/total/processed"]) == 1)
        func gradientBytes(_ checkpoint: CheckpointValue) throws -> [UInt8]? {
            try checkpoint["/accumulated_gradients/hidden.weight"]?.tensor.map { try Tensor($0, name: "hidden.weight").rawBytes }
        }
        let window = try gradientBytes(try Checkpoint.load(afterFirstBatch))
        #expect(window != nil)
        #expect(try gradientBytes(saved) == window)

        let resumed = TinyClassifier(seed: 42)
        let resumedTrainer = try Trainer(accumulatingOptions())
        try resumedTrainer.fit(resumed, data: try freshData(), ckptPath: checkpoint)
        #expect(weightBytes(resumed) == weightBytes(straight))
        #expect(resumedTrainer.optimizer?.stateDict() == straightTrainer.optimizer?.stateDict())
    }

    /// A saved gradient whose shape differs from the parameter's is refused, naming the entry.
    @Test func mismatchedGradientIsRefused() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("batch2.ckpt")
        try Trainer(accumulatingOptions(), callbacks: [StopAndSave(batch: 2, url: checkpoint)])
            .fit(TinyClassifier(seed: 3), data: try freshData())
        guard case var .dictionary(tree) = try Checkpoint.load(checkpoint),
              case var .dictionary(gradients)? = tree["accumulated_gradients"] else {
            Issue.record("expected gradients after batch 2")
            return
        }
        gradients["output.bias"] = .tensor(CheckpointTensor(Tensor(shape: [3], scalars: [1, 2, 3])))
        tree["accumulated_gradients"] = .dictionary(gradients)
        try Checkpoint.save(.dictionary(tree), to: checkpoint)
        #expect(throws: TrainerError.malformedCheckpoint(path: "/accumulated_gradients/output.bias",
                                                         reason: "gradient shape [3], parameter shape [2]")) {
            try Trainer(accumulatingOptions()).fit(TinyClassifier(seed: 3), data: try freshData(), ckptPath: checkpoint)
        }
    }
}

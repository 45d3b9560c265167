import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Training loss read from a script indexed by the global step, so a resumed run sees exactly the
/// losses the uninterrupted run saw (the real loss is kept, times zero, for its gradient).
final class ScriptedLossModule: TinyClassifier, @unchecked Sendable {
    let losses: [Float]

    init(losses: [Float]) {
        self.losses = losses
        super.init(seed: 1)
    }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        guard let loss = try super.trainingStep(batch, batchIndex: batchIndex) else { return nil }
        let step = trainer?.globalStep ?? 0
        return loss * 0 + losses[min(step, losses.count - 1)]
    }
}

@Suite struct SpikeDetectionResumeTests {
    /// Four epochs of five batches; spikes at global batches 3 and 8 (epoch 1, batch 3). Batch 8 is
    /// the first one after the checkpoint at step 8: a detector without its window has no mean
    /// to compare it with there and misses it.
    static let losses: [Float] = (0..<20).map { step in
        step == 3 || step == 8 ? 40 : 1 + 0.05 * Float(step % 4)
    }
    static let options = Trainer.Options(maxEpochs: 4, numSanityValSteps: 0, enableCheckpointing: false,
                                         enableProgressBar: false, enableModelSummary: false)

    @Test func resumedRunFlagsTheSameSpikes() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step8.ckpt")

        let straight = SpikeDetection(mode: .warn, window: 4)
        try Trainer(Self.options, callbacks: [straight]).fit(ScriptedLossModule(losses: Self.losses), data: try freshData())
        #expect(straight.spikes.map(\.globalStep) == [4, 9])
        #expect(straight.badBatches == [2, 3, 2, 3])

        let first = SpikeDetection(mode: .warn, window: 4)
        try Trainer(Self.options, callbacks: [first, StopAndSave(step: 8, url: checkpoint)])
            .fit(ScriptedLossModule(losses: Self.losses), data: try freshData())
        let saved = try #require(try Checkpoint.load(checkpoint)[JSONPointer(tokens: ["callbacks", first.stateKey])])
        let savedState = try CheckpointDecoder().decode(SpikeDetection.State.self, from: saved)
        #expect(savedState.recentLosses.count == 4 && savedState.lastValue == Double(Self.losses[7]))
        #expect(savedState.badBatches == [2, 3])
        #expect(savedState.spikes.map(\.globalStep) == [4])

        let resumedDetector = SpikeDetection(mode: .warn, window: 4)
        let resumed = try Trainer(Self.options, callbacks: [resumedDetector])
        try resumed.fit(ScriptedLossModule(losses: Self.losses), data: try freshData(), ckptPath: checkpoint)
        #expect(resumed.callbackStateWarnings.isEmpty)
        #expect(resumedDetector.spikes == straight.spikes)
        #expect(resumedDetector.badBatches == straight.badBatches)
    }

    @Test func stateKeyNamesTheWindow() {
        #expect(SpikeDetection(window: 4).stateKey != SpikeDetection(window: 5).stateKey)
        #expect(SpikeDetection(window: 4).stateKey.hasPrefix("SpikeDetection"))
    }
}

import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Issue 21: with gradient accumulation the step count stands still for several batches; a run
/// resumed from the file saved at such a step must not save that step again as `-v1`.
@Suite struct ModelCheckpointAccumulationTests {
    static func options(root: URL) -> Trainer.Options {
        Trainer.Options(maxEpochs: 2, numSanityValSteps: 0, accumulateGradBatches: 2, enableCheckpointing: false,
                        defaultRootDir: root.path)
    }

    static func everyStep(_ root: URL) throws -> ModelCheckpoint {
        try ModelCheckpoint(dirpath: root.appendingPathComponent("checkpoints").path, saveTopK: -1, saveLast: true,
                            everyNTrainSteps: 1)
    }

    @Test(arguments: [1, 2, 3, 4]) func resumeFromAStepFileKeepsTheUninterruptedFiles(_ stopStep: Int) throws {
        let straightRoot = try temporaryDirectory(), resumedRoot = try temporaryDirectory()
        defer { ModelCheckpointResumeTests.remove([straightRoot, resumedRoot]) }
        try Trainer(Self.options(root: straightRoot), callbacks: [try Self.everyStep(straightRoot)])
            .fit(TinyClassifier(seed: 4), data: try freshData())
        let expected = try ModelCheckpointResumeTests.checkpointNames(straightRoot.appendingPathComponent("checkpoints"))

        let first = try Trainer(Self.options(root: resumedRoot), callbacks: [try Self.everyStep(resumedRoot), InterruptAtStep(step: stopStep)])
        // Stopped after that batch, its ModelCheckpoint having saved: as a `kill -9` right after the files were written.
        #expect(throws: TrainerError.interrupted(stage: .fit)) { try first.fit(TinyClassifier(seed: 4), data: try freshData()) }
        let last = resumedRoot.appendingPathComponent("checkpoints/last.ckpt")
        #expect(try Checkpoint.open(last).metadata.globalStep == Int64(stopStep))
        try Trainer(Self.options(root: resumedRoot), callbacks: [try Self.everyStep(resumedRoot)])
            .fit(TinyClassifier(seed: 9), data: try freshData(), ckptPath: .path(last))
        let names = try ModelCheckpointResumeTests.checkpointNames(resumedRoot.appendingPathComponent("checkpoints"))
        #expect(names == expected)
        #expect(!names.contains { $0.contains("-v1") })
    }
}

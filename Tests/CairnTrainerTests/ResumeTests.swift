import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
import CairnTensorCheckpoint
@testable import CairnTrainer
import Foundation
import Testing

/// Saves a checkpoint at the end of the first train batch where `isDue` holds, then stops fit.
final class StopAndSave: Callback, @unchecked Sendable {
    let isDue: @Sendable (Trainer) -> Bool
    let url: URL
    /// After the optimizer step that reaches `step`.
    init(step: Int, url: URL) {
        isDue = { $0.globalStep == step }
        self.url = url
    }

    /// After the run's `batch`-th training batch (1-based), stepped or not.
    init(batch: Int, url: URL) {
        isDue = { $0.progress.trainBatch.total.processed == batch }
        self.url = url
    }

    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        guard isDue(trainer) else { return }
        try trainer.saveCheckpoint(to: url)
        trainer.shouldStop = true
    }
}

/// A stateful callback absent from the runs that saved checkpoints.
final class LateJoiner: Callback, @unchecked Sendable {
    override func stateDict() throws -> CheckpointValue? { .dictionary(["seen": .int(0)]) }
}

/// Fresh loaders for each run: 20 shuffled training rows in batches of 4, 8 validation rows.
func freshData() throws -> LoaderDataModule {
    LoaderDataModule(train: DataLoader(try syntheticDataset(rows: 20), batchSize: 4, shuffle: true, seed: 11),
                     validation: DataLoader(try syntheticDataset(rows: 8, offset: 5), batchSize: 4, shuffle: false))
}

func resumeOptions() -> Trainer.Options {
    Trainer.Options(maxEpochs: 2, numSanityValSteps: 1, accumulateGradBatches: 1, gradientClipVal: 1, enableCheckpointing: false)
}

func weightBytes(_ module: Module) -> [String: [UInt8]] {
    Dictionary(uniqueKeysWithValues: module.stateDict().map { ($0.key, $0.value.rawBytes) })
}

func counterState(_ checkpoint: CheckpointValue, _ key: String) throws -> Counter.State? {
    guard let state = checkpoint[JSONPointer(tokens: ["callbacks", key])] else { return nil }
    return try CheckpointDecoder().decode(Counter.State.self, from: state)
}

func integer(_ value: CheckpointValue?) -> Int64? {
    if case let .int(number)? = value { return number }
    return nil
}

@Suite struct ResumeTests {
    /// Ten steps straight through against: stop after step 7 (mid-epoch 2), save, and resume with
    /// fresh objects (a differently initialised model) — the weights, optimizer state and counters agree exactly.
    @Test func midEpochResumeIsBitExact() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step7.ckpt")

        let straight = TinyClassifier(seed: 1)
        let straightCounters = [Counter(what: .epochs), Counter(what: .batches)]
        let straightTrainer = try Trainer(resumeOptions(), callbacks: straightCounters)
        try straightTrainer.fit(straight, data: try freshData())
        #expect(straightTrainer.globalStep == 10)

        let interrupted = TinyClassifier(seed: 1)
        try Trainer(resumeOptions(), callbacks: [Counter(what: .epochs), Counter(what: .batches), StopAndSave(step: 7, url: checkpoint)])
            .fit(interrupted, data: try freshData())

        let saved = try Checkpoint.load(checkpoint)
        #expect(try counterState(saved, #"Counter<"what":"epochs">"#) == Counter.State(epochs: 1, batches: 0))
        #expect(try counterState(saved, #"Counter<"what":"batches">"#) == Counter.State(epochs: 0, batches: 7))

        let resumed = TinyClassifier(seed: 99)
        let resumedCounters = [Counter(what: .epochs), Counter(what: .batches)]
        let resumedTrainer = try Trainer(resumeOptions(), callbacks: resumedCounters)
        try resumedTrainer.fit(resumed, data: try freshData(), ckptPath: checkpoint)

        #expect(resumedTrainer.globalStep == 10)
        #expect(resumedTrainer.currentEpoch == 2)
        #expect(weightBytes(resumed) == weightBytes(straight))
        #expect(resumed.dropout.rng == straight.dropout.rng)
        #expect(resumedTrainer.optimizer?.stateDict() == straightTrainer.optimizer?.stateDict())
        #expect(resumedCounters.map(\.state) == straightCounters.map(\.state))
        #expect(resumedCounters.map(\.state) == [Counter.State(epochs: 2, batches: 0), Counter.State(epochs: 0, batches: 10)])
        #expect(resumedTrainer.callbackStateWarnings.isEmpty)
        #expect(try resumed.hyperparameters(as: TinyHyperparameters.self) == TinyHyperparameters(hidden: 8, learningRate: 0.05))
    }

    @Test func checkpointHoldsLightningsSections() throws {
        let trainer = try Trainer(quietOptions(), callbacks: [Counter(what: .batches)])
        let module = TinyClassifier(seed: 2)
        try trainer.fit(module, data: try freshData())
        trainer.module = module
        let checkpoint = try trainer.dumpCheckpoint()
        for pointer in ["/epoch", "/global_step", "/state_dict/hidden.weight", "/optimizer_states/0/param_groups",
                        "/loops/fit_loop/epoch_progress/total/completed", "/loops/fit_loop/epoch_loop.batch_progress/current/processed",
                        "/loops/fit_loop/state_dict/combined_loader/0/position", "/hyper_parameters/hidden",
                        "/rng_states/trainer", "/rng_states/dropout/dropout", "/lr_schedulers"] {
            #expect(checkpoint[pointer] != nil, "missing \(pointer)")
        }
        #expect(integer(checkpoint[JSONPointer(tokens: ["callbacks", #"Counter<"what":"batches">"#, "batches"])]) == 5)
        #expect(integer(checkpoint["/global_step"]) == 5)
    }

    /// A saved state with no live callback and a live stateful callback with no saved state are
    /// both reported by key; the matching callback still gets its state.
    @Test func unmatchedCallbackStatesAreReported() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step3.ckpt")
        try Trainer(resumeOptions(), callbacks: [Counter(what: .epochs), Counter(what: .batches), StopAndSave(step: 3, url: checkpoint)])
            .fit(TinyClassifier(seed: 1), data: try freshData())

        let batches = Counter(what: .batches)
        let trainer = try Trainer(resumeOptions(), callbacks: [batches, LateJoiner()])
        try trainer.fit(TinyClassifier(seed: 1), data: try freshData(), ckptPath: checkpoint)
        #expect(trainer.callbackStateWarnings == [
            CallbackStateWarning(kind: .callbackWithoutSavedState, stateKey: "LateJoiner"),
            CallbackStateWarning(kind: .savedStateWithoutCallback, stateKey: #"Counter<"what":"epochs">"#),
        ])
        #expect(batches.state.batches == 10)
    }

    @Test func automaticCheckpointKeepsTheLatestEpoch() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 0, defaultRootDir: directory.path)
        let trainer = try Trainer(options)
        try trainer.fit(TinyClassifier(seed: 4), data: try freshData())
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("checkpoints").path)
        #expect(files == ["epoch=1-step=10.ckpt"])
    }
}

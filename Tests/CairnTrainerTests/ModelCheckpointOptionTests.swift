import CairnCheckpoint
import CairnData
import CairnNN
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// A clock the test moves by hand, read by ModelCheckpoint's time trigger.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var instant = ContinuousClock.now

    var now: ContinuousClock.Instant { lock.withLock { instant } }
    func advance(by duration: Duration) { lock.withLock { instant += duration } }
}

/// Moves a manual clock on after every train batch (placed before the ModelCheckpoint).
final class ClockAdvancer: Callback, @unchecked Sendable {
    let clock: ManualClock
    let perBatch: Duration

    init(_ clock: ManualClock, perBatch: Duration) {
        self.clock = clock
        self.perBatch = perBatch
    }

    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        clock.advance(by: perBatch)
    }
}

/// Logs its validation loss under a name holding `/`, as `self.log("val/loss", ...)` in Lightning.
final class SlashMetricClassifier: TinyClassifier, @unchecked Sendable {
    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
        log("val/loss", loss)
        return loss
    }
}

@Suite struct ModelCheckpointOptionTests {
    static func names(_ directory: URL) throws -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".ckpt") }.sorted()
    }

    static func fit(_ callbacks: [Callback], _ options: Trainer.Options, module: TrainingModule = TinyClassifier(seed: 4)) throws {
        try Trainer(options, callbacks: callbacks).fit(module, data: try freshData())
    }

    // MARK: File names

    /// Python's format specs as Lightning passes them to `str.format`, and its 0 for an unknown metric.
    @Test func templatesFormatAsLightning() {
        let values = ["epoch": 1.0, "step": 30.0, "val_loss": 0.123456, "acc": 1.12, "lr": 0.000123, "val/loss": 0.5]
        #expect(CheckpointFilename.format("{epoch}-{val_loss:.2f}", values) == "epoch=1-val_loss=0.12")
        #expect(CheckpointFilename.format("checkpoint_{epoch:02d}-{acc:02.0f}", values) == "checkpoint_epoch=01-acc=01")
        #expect(CheckpointFilename.format("{lr:.3e}", values) == "lr=1.230e-04")
        #expect(CheckpointFilename.format("{step:05d}", values) == "step=00030")
        #expect(CheckpointFilename.format("{missing}", values) == "missing=0")
        #expect(CheckpointFilename.format("{missing:d}", values) == "missing=0")
        #expect(CheckpointFilename.format("{missing:.2f}", values) == "missing=0.00")
        #expect(CheckpointFilename.format("{val/loss:.1f}", values) == "val/loss=0.5")
        #expect(CheckpointFilename.format("epoch={epoch}-validation_loss={val_loss:.2f}", values, insertNames: false)
            == "epoch=1-validation_loss=0.12")
        #expect(CheckpointFilename.format("e{epoch:02d}-vl{val/loss:.2f}", values, insertNames: false) == "e01-vl0.50")
    }

    /// A `/` in an inserted metric name makes a subfolder, as Lightning's does; eviction still
    /// finds the files there. Without name insertion the files stay flat.
    @Test func metricNamesWithSlashes() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let nested = try ModelCheckpoint(filename: "{epoch}-{val/loss:.3f}", monitor: "val/loss", saveTopK: 1)
        try Self.fit([nested], ModelCheckpointTests.options(maxEpochs: 4, root: root), module: SlashMetricClassifier(seed: 4))
        let best = try #require(nested.bestModelPath)
        #expect(best.hasPrefix(nested.dirpath.path + "/epoch="))
        #expect(URL(fileURLWithPath: best).deletingLastPathComponent().lastPathComponent.hasSuffix("-val"))
        let walker = try #require(FileManager.default.enumerator(atPath: nested.dirpath.path))
        let files = walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".ckpt") }
        #expect(files.count == 1)
        #expect(files.first.map { nested.dirpath.appendingPathComponent($0).path } == best)

        let flatRoot = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: flatRoot) }
        let flat = try ModelCheckpoint(filename: "epoch{epoch:02d}-val_loss{val/loss:.3f}", monitor: "val/loss", saveTopK: 2,
                                       autoInsertMetricName: false)
        try Self.fit([flat], ModelCheckpointTests.options(maxEpochs: 4, root: flatRoot), module: SlashMetricClassifier(seed: 4))
        let kept = try Self.names(flat.dirpath)
        #expect(kept.count == 2)
        #expect(kept.allSatisfy { $0.hasPrefix("epoch0") && $0.contains("-val_loss0.") })
    }

    // MARK: Triggers

    @Test func triggersAreMutuallyExclusive() throws {
        #expect(throws: TrainerError.self) { try ModelCheckpoint(everyNEpochs: 1, trainTimeInterval: .seconds(60)) }
        #expect(throws: TrainerError.self) { try ModelCheckpoint(everyNTrainSteps: 2, trainTimeInterval: .seconds(60)) }
        #expect(throws: TrainerError.self) { try ModelCheckpoint(trainTimeInterval: .zero) }
        let timed = try ModelCheckpoint(everyNEpochs: 0, trainTimeInterval: .milliseconds(1500))
        #expect(timed.everyNEpochs == 0 && timed.everyNTrainSteps == 0)
        #expect(timed.stateKey
            == #"ModelCheckpoint<"monitor":null,"mode":"min","every_n_train_steps":0,"every_n_epochs":0,"train_time_interval":1.5>"#)
    }

    /// One simulated second per batch, a save every three: steps 3, 6, 9, 12, 15 and no epoch saves.
    @Test func trainTimeIntervalSavesByTheClock() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let clock = ManualClock()
        let timed = try ModelCheckpoint(filename: "{step}", saveTopK: -1, trainTimeInterval: .seconds(3), clock: { clock.now })
        try Self.fit([ClockAdvancer(clock, perBatch: .seconds(1)), timed], ModelCheckpointTests.options(maxEpochs: 3, root: root))
        #expect(try Self.names(timed.dirpath) == ["step=12.ckpt", "step=15.ckpt", "step=3.ckpt", "step=6.ckpt", "step=9.ckpt"])

        // A clock that never moves never saves.
        let stillRoot = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: stillRoot) }
        let still = try ModelCheckpoint(saveTopK: -1, trainTimeInterval: .seconds(3), clock: { clock.now })
        try Self.fit([still], ModelCheckpointTests.options(maxEpochs: 2, root: stillRoot))
        #expect(try Self.names(still.dirpath).isEmpty)
    }

    /// Validation twice an epoch (after batches 2 and 4 of 5): by default the saves follow each
    /// validation; `saveOnTrainEpochEnd` moves them to the epoch's end.
    @Test func saveOnTrainEpochEndChoosesTheHook() throws {
        func steps(_ saveOnTrainEpochEnd: Bool?, limitValBatches: Int? = nil) throws -> [String] {
            let root = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: root) }
            let callback = try ModelCheckpoint(filename: "{step}", saveTopK: -1, saveOnTrainEpochEnd: saveOnTrainEpochEnd)
            let options = Trainer.Options(maxEpochs: 2, limitValBatches: limitValBatches, valCheckInterval: 2, numSanityValSteps: 0,
                                          defaultRootDir: root.path)
            try Self.fit([callback], options)
            return try Self.names(callback.dirpath)
        }
        #expect(try steps(nil) == ["step=2.ckpt", "step=4.ckpt", "step=7.ckpt", "step=9.ckpt"])
        #expect(try steps(true) == ["step=10.ckpt", "step=5.ckpt"])
        #expect(try steps(false) == ["step=2.ckpt", "step=4.ckpt", "step=7.ckpt", "step=9.ckpt"])
        // No validation at all: nil saves at epoch ends, false never saves (as Lightning).
        #expect(try steps(nil, limitValBatches: 0) == ["step=10.ckpt", "step=5.ckpt"])
        #expect(try steps(false, limitValBatches: 0).isEmpty)
    }

    /// Lightning's note: with validation every M epochs the saves come after validation, so only
    /// epochs that both `everyNEpochs` and `checkValEveryNEpoch` divide get a file.
    @Test func everyNEpochsMeetsCheckValEveryNEpoch() throws {
        func epochs(_ saveOnTrainEpochEnd: Bool?) throws -> [String] {
            let root = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: root) }
            let callback = try ModelCheckpoint(filename: "{epoch}", saveTopK: -1, everyNEpochs: 3, saveOnTrainEpochEnd: saveOnTrainEpochEnd)
            let options = Trainer.Options(maxEpochs: 6, checkValEveryNEpoch: 2, numSanityValSteps: 0, defaultRootDir: root.path)
            try Self.fit([callback], options)
            return try Self.names(callback.dirpath)
        }
        #expect(try epochs(nil) == ["epoch=5.ckpt"])
        #expect(try epochs(true) == ["epoch=2.ckpt", "epoch=5.ckpt"])
    }

    // MARK: Weights only

    @Test func weightsOnlyFilesHoldWeightsAndCannotBeResumed() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        func callback() throws -> ModelCheckpoint { try ModelCheckpoint(monitor: "val_loss", saveLast: true, saveWeightsOnly: true) }
        let first = try callback()
        try Self.fit([first], ModelCheckpointTests.options(maxEpochs: 2, root: root))
        let last = first.dirpath.appendingPathComponent("last.ckpt")
        let tree = try Checkpoint.load(last)
        for pointer in ["/state_dict/hidden.weight", "/epoch", "/global_step", "/loops", "/hyper_parameters"] {
            #expect(tree[pointer] != nil, "\(pointer) missing")
        }
        for pointer in ["/optimizer_states", "/callbacks", "/lr_schedulers", "/rng_states"] {
            #expect(tree[pointer] == nil, "\(pointer) present")
        }

        let resuming = try Trainer(ModelCheckpointTests.options(maxEpochs: 4, root: root), callbacks: [try callback()])
        do {
            try resuming.fit(TinyClassifier(seed: 4), data: try freshData(), ckptPath: .last)
            Issue.record("fit resumed from a weights-only file")
        } catch let TrainerError.checkpointFile(path, reason) {
            #expect(path == last.path)
            #expect(reason.contains("optimizer_states or callbacks") && reason.contains("weights-only"))
        }
        #expect(try Self.names(first.dirpath).count == 2)

        // Evaluation needs only the weights: the best file scores what it scored in training.
        let best = try #require(first.bestModelPath)
        let scores = try Trainer(quietOptions()).validate(TinyClassifier(seed: 9), data: try freshData(), ckptPath: URL(fileURLWithPath: best))
        #expect(scores["val_loss"] == first.state.bestModelScore)
    }

    // MARK: Registry

    @Test func registryTakesLightningsArgumentNames() throws {
        let callback = try CallbackRegistry().make("""
            ModelCheckpoint:monitor=val_acc,mode=max,train_time_interval=90,save_on_train_epoch_end=false,\
            save_weights_only=true,auto_insert_metric_name=false,filename={epoch}
            """)
        let checkpoint = try #require(callback as? ModelCheckpoint)
        #expect(checkpoint.trainTimeInterval == .seconds(90))
        #expect(checkpoint.everyNEpochs == 0)
        #expect(checkpoint.saveOnTrainEpochEnd == false)
        #expect(checkpoint.saveWeightsOnly && !checkpoint.autoInsertMetricName)
        #expect(checkpoint.mode == .max && checkpoint.filename == "{epoch}")
        #expect(throws: CallbackSpecError.self) { try CallbackRegistry().make("ModelCheckpoint:train_time_interval=-1") }
        #expect(throws: CallbackSpecError.self) { try CallbackRegistry().make("ModelCheckpoint:train_time_interval=1e300") }
        #expect(throws: CallbackSpecError.self) { try CallbackRegistry().make("ModelCheckpoint:save_on_train_epoch_end=maybe") }
    }
}

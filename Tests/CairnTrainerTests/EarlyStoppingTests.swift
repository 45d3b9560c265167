import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Logs `val_loss` from a fixed schedule indexed by the epoch, so a plateau comes deterministically;
/// past the schedule's end the last value repeats.
final class PlateauModule: TinyClassifier, @unchecked Sendable {
    let schedule: [Double]

    init(schedule: [Double], seed: UInt64 = 1) {
        self.schedule = schedule
        super.init(seed: seed)
    }

    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let epoch = trainer?.currentEpoch ?? 0
        log("val_loss", schedule[min(epoch, schedule.count - 1)])
        return nil
    }
}

@Suite struct EarlyStoppingTests {
    static let plateau: [Double] = [5, 4, 3, 3, 3]

    @Test func stateKeyAndStateMatchLightning() throws {
        let callback = try EarlyStopping(monitor: "val_loss", patience: 4)
        #expect(callback.stateKey == #"EarlyStopping<"monitor":"val_loss","mode":"min">"#)
        let state = try #require(try callback.stateDict())
        for key in ["wait_count", "stopped_epoch", "best_score", "patience"] {
            #expect(state["/\(key)"] != nil, "missing \(key)")
        }
        let restored = try EarlyStopping(monitor: "val_loss")
        try restored.loadStateDict(state)
        #expect(restored.bestScore == .infinity)
        #expect(restored.patience == 4)
    }

    /// Five batches per epoch; the metric improves for three epochs then plateaus, so with
    /// patience 2 the checks of epochs 3 and 4 fail and fit stops after epoch 4.
    @Test func stopsAfterPatienceChecksWithoutImprovement() throws {
        let stopper = try EarlyStopping(monitor: "val_loss", patience: 2)
        let trainer = try Trainer(quietOptions(maxEpochs: 10), callbacks: [stopper])
        try trainer.fit(PlateauModule(schedule: Self.plateau), data: try freshData())
        #expect(trainer.currentEpoch == 5)
        #expect(trainer.globalStep == 25)
        #expect(stopper.stoppedEpoch == 4)
        #expect(stopper.bestScore == 3)
        #expect(stopper.waitCount == 2)
    }

    /// Saved in epoch 4 with one failed check behind it: the resumed run waits only one more
    /// check and stops at the same epoch and step as the uninterrupted run. A fresh callback
    /// (no state) would have needed two more.
    @Test func resumedRunStopsAtTheSameEpoch() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step21.ckpt")

        let straight = try Trainer(quietOptions(maxEpochs: 10), callbacks: [try EarlyStopping(monitor: "val_loss", patience: 2)])
        try straight.fit(PlateauModule(schedule: Self.plateau), data: try freshData())

        let first = try EarlyStopping(monitor: "val_loss", patience: 2)
        try Trainer(quietOptions(maxEpochs: 10), callbacks: [first, StopAndSave(step: 21, url: checkpoint)])
            .fit(PlateauModule(schedule: Self.plateau), data: try freshData())
        let saved = try Checkpoint.load(checkpoint)
        let pointer = JSONPointer(tokens: ["callbacks", first.stateKey])
        let savedState = try CheckpointDecoder().decode(EarlyStopping.State.self, from: try #require(saved[pointer]))
        #expect(savedState == EarlyStopping.State(waitCount: 1, stoppedEpoch: 0, bestScore: 3, patience: 2))

        let resumedStopper = try EarlyStopping(monitor: "val_loss", patience: 2)
        let resumed = try Trainer(quietOptions(maxEpochs: 10), callbacks: [resumedStopper])
        try resumed.fit(PlateauModule(schedule: Self.plateau), data: try freshData(), ckptPath: checkpoint)
        #expect(resumed.currentEpoch == straight.currentEpoch)
        #expect(resumed.globalStep == straight.globalStep)
        #expect(resumedStopper.stoppedEpoch == 4)
        #expect(resumed.callbackStateWarnings.isEmpty)
    }

    @Test func missingMetricNamesTheAvailableOnes() throws {
        let trainer = try Trainer(quietOptions(maxEpochs: 10), callbacks: [try EarlyStopping(monitor: "val_acc")])
        let error = #expect(throws: EarlyStoppingError.self) {
            try trainer.fit(PlateauModule(schedule: Self.plateau), data: try freshData())
        }
        guard case let .missingMetric(monitor, available)? = error else { return }
        #expect(monitor == "val_acc")
        #expect(available.contains("val_loss"))
        #expect(error?.description.contains("val_acc") == true)
        let lenient = try Trainer(quietOptions(maxEpochs: 2), callbacks: [try EarlyStopping(monitor: "val_acc", strict: false)])
        try lenient.fit(PlateauModule(schedule: Self.plateau), data: try freshData())
        #expect(lenient.currentEpoch == 2)
    }

    @Test func thresholdsAndNonFiniteValuesStopAtOnce() throws {
        func stoppedEpoch(_ schedule: [Double], _ stopper: EarlyStopping) throws -> Int {
            let trainer = try Trainer(quietOptions(maxEpochs: 10), callbacks: [stopper])
            try trainer.fit(PlateauModule(schedule: schedule), data: try freshData())
            return trainer.currentEpoch
        }
        #expect(try stoppedEpoch([5, 4, 3, 2, 1], try EarlyStopping(monitor: "val_loss", patience: 9, stoppingThreshold: 3.5)) == 3)
        #expect(try stoppedEpoch([5, 6, 9, 9], try EarlyStopping(monitor: "val_loss", patience: 9, divergenceThreshold: 8)) == 3)
        #expect(try stoppedEpoch([5, .nan, 4], try EarlyStopping(monitor: "val_loss", patience: 9)) == 2)
        // Gains below a min_delta of 1 are no improvement: three checks without one.
        #expect(try stoppedEpoch([5, 4.5, 4.2, 4.1], try EarlyStopping(monitor: "val_loss", minDelta: 1, patience: 3)) == 4)
        // In max mode a falling metric never improves.
        #expect(try stoppedEpoch([5, 4, 3, 2, 1], try EarlyStopping(monitor: "val_loss", patience: 2, mode: .max)) == 3)
    }

    /// With validation every two batches the check follows each validation run.
    @Test func checksAfterEachValidationWhenValidatingWithinEpochs() throws {
        var options = quietOptions(maxEpochs: 10)
        options.valCheckInterval = 2
        let stopper = try EarlyStopping(monitor: "val_loss", patience: 2)
        let trainer = try Trainer(options, callbacks: [stopper])
        try trainer.fit(PlateauModule(schedule: [5]), data: try freshData())
        // Epoch 0: validation after batches 2 (best 5) and 4 (wait 1); epoch 1 after batch 2 (wait 2): stop.
        #expect(trainer.globalStep == 7)
        #expect(stopper.stoppedEpoch == 1)
    }

    @Test func registryBuildsItFromLightningsArgumentNames() throws {
        let callback = try CallbackRegistry().make("EarlyStopping:monitor=val_acc,mode=max,patience=5,min_delta=0.1")
        let stopper = try #require(callback as? EarlyStopping)
        #expect(stopper.stateKey == #"EarlyStopping<"monitor":"val_acc","mode":"max">"#)
        #expect(stopper.patience == 5)
        #expect(stopper.minDelta == 0.1)
        #expect(throws: TrainerError.self) { try CallbackRegistry().make("EarlyStopping:patience=2") }
    }
}

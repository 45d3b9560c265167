import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// ``TinyClassifier`` with the schedulers `makeSchedulers` builds on its optimizer.
final class ScheduledClassifier: TinyClassifier, @unchecked Sendable {
    let makeSchedulers: @Sendable (Optimizer) -> [LRSchedulerConfiguration]

    init(seed: UInt64, makeSchedulers: @escaping @Sendable (Optimizer) -> [LRSchedulerConfiguration]) {
        self.makeSchedulers = makeSchedulers
        super.init(seed: seed)
    }

    override func configureLRSchedulers(optimizer: Optimizer) throws -> [LRSchedulerConfiguration] { makeSchedulers(optimizer) }
}

/// Records the first group's lr after every train batch and at every epoch start, and the
/// epoch's `val_loss` at every train epoch end.
final class LRRecorder: Callback, @unchecked Sendable {
    var afterBatch: [Double] = []
    var atEpochStart: [Double] = []
    var validationLosses: [Double] = []

    override func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        atEpochStart.append(trainer.optimizer?.paramGroups[0].learningRate ?? .nan)
    }

    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        afterBatch.append(trainer.optimizer?.paramGroups[0].learningRate ?? .nan)
    }

    override func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        if let loss = trainer.metrics.callbackMetrics["val_loss"] { validationLosses.append(loss) }
    }
}

/// An optimizer over one throw-away parameter, for running a schedule by hand.
func handOptimizer(lr: Double = 0.05) -> Optimizer {
    SGD([Parameter(Tensor(shape: [1], scalars: [0]))], lr: lr)
}

/// Steps its schedule twice per due step through the `lrSchedulerStep` hook, noting the metrics it got.
final class DoubleStepper: TinyClassifier, @unchecked Sendable {
    var metrics: [Double?] = []
    override func configureLRSchedulers(optimizer: Optimizer) throws -> [LRSchedulerConfiguration] {
        [LRSchedulerConfiguration(ExponentialLR(optimizer, gamma: 0.5))]
    }

    override func lrSchedulerStep(_ scheduler: LRSchedulerConfiguration.Scheduler, metric: Double?) throws {
        metrics.append(metric)
        try super.lrSchedulerStep(scheduler, metric: metric)
        try super.lrSchedulerStep(scheduler, metric: metric)
    }
}

@Suite struct LRSchedulerTests {
    @Test func moduleHookStepsTheScheduler() throws {
        let module = DoubleStepper(seed: 1)
        let trainer = try Trainer(quietOptions(maxEpochs: 2))
        try trainer.fit(module, data: try freshData())
        #expect(module.metrics == [nil, nil])
        #expect(trainer.optimizer?.paramGroups[0].learningRate == 0.05 * 0.5 * 0.5 * 0.5 * 0.5)
        #expect(trainer.progress.schedulerStep.total.completed == 2)
    }

    /// A step-interval StepLR with accumulation 2 steps after each optimizer step only: over two
    /// epochs of five batches (steps after batches 1, 3 and the last, 4) its lrs equal StepLR run by hand.
    @Test func stepIntervalFollowsOptimizerSteps() throws {
        let module = ScheduledClassifier(seed: 1) { [LRSchedulerConfiguration(StepLR($0, stepSize: 2, gamma: 0.5), interval: .step)] }
        let recorder = LRRecorder()
        let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 0, accumulateGradBatches: 2, enableCheckpointing: false)
        let trainer = try Trainer(options, callbacks: [recorder])
        try trainer.fit(module, data: try freshData())

        let hand = handOptimizer()
        let schedule = StepLR(hand, stepSize: 2, gamma: 0.5)
        var expected: [Double] = []
        for stepsAfterBatch in [0, 1, 1, 2, 3, 3, 4, 4, 5, 6] {
            while schedule.lastEpoch < stepsAfterBatch { schedule.step() }
            expected.append(hand.paramGroups[0].learningRate)
        }
        #expect(recorder.afterBatch == expected)
        #expect(trainer.progress.schedulerStep.total.completed == 6)
        #expect(trainer.progress.schedulerStep.current.completed == 3)
    }

    /// An epoch-interval ExponentialLR with frequency 2 steps at the end of epochs 1 and 3 only.
    @Test func epochIntervalHonoursFrequency() throws {
        let module = ScheduledClassifier(seed: 1) { [LRSchedulerConfiguration(ExponentialLR($0, gamma: 0.7), interval: .epoch, frequency: 2)] }
        let recorder = LRRecorder()
        let trainer = try Trainer(quietOptions(maxEpochs: 5), callbacks: [recorder])
        try trainer.fit(module, data: try freshData())

        let hand = handOptimizer()
        let schedule = ExponentialLR(hand, gamma: 0.7)
        var expected: [Double] = []
        for epoch in 0..<5 {
            expected.append(hand.paramGroups[0].learningRate)
            if (epoch + 1) % 2 == 0 { schedule.step() }
        }
        #expect(recorder.atEpochStart == expected)
        #expect(trainer.optimizer?.paramGroups[0].learningRate == hand.paramGroups[0].learningRate)
        #expect(trainer.progress.schedulerStep.total.completed == 2)
    }

    /// ReduceLROnPlateau on val_loss steps once per epoch with that epoch's validation loss: the lrs
    /// equal a plateau monitor fed the same losses by hand (mode max, so falling losses reduce the lr).
    @Test func plateauReadsValidationLoss() throws {
        let module = ScheduledClassifier(seed: 1) {
            [LRSchedulerConfiguration(ReduceLROnPlateau($0, mode: .max, factor: 0.5, patience: 1), monitor: "val_loss")]
        }
        let recorder = LRRecorder()
        let trainer = try Trainer(quietOptions(maxEpochs: 6), callbacks: [recorder])
        try trainer.fit(module, data: try freshData())

        #expect(recorder.validationLosses.count == 6)
        let hand = handOptimizer()
        let plateau = ReduceLROnPlateau(hand, mode: .max, factor: 0.5, patience: 1)
        var expected: [Double] = []
        for loss in recorder.validationLosses {
            expected.append(hand.paramGroups[0].learningRate)
            plateau.step(loss)
        }
        #expect(recorder.atEpochStart == expected)
        #expect(trainer.optimizer?.paramGroups[0].learningRate == hand.paramGroups[0].learningRate)
        #expect(hand.paramGroups[0].learningRate < 0.05, "the losses should have triggered at least one reduction")
        guard case let .plateau(live)? = trainer.lrSchedulerConfigs.first?.scheduler else {
            Issue.record("expected the plateau configuration")
            return
        }
        #expect(live.stateDict() == plateau.stateDict())
    }

    /// A strict plateau monitor on a metric nobody logs stops fit naming the metric; non-strict skips the step.
    @Test func missingMonitoredMetric() throws {
        let strict = ScheduledClassifier(seed: 1) { [LRSchedulerConfiguration(ReduceLROnPlateau($0), monitor: "val_acc")] }
        #expect(throws: TrainerError.missingMonitoredMetric(monitor: "val_acc", available: ["train_loss", "val_loss"])) {
            try Trainer(quietOptions()).fit(strict, data: try freshData())
        }
        let lenient = ScheduledClassifier(seed: 1) {
            [LRSchedulerConfiguration(ReduceLROnPlateau($0, patience: 0), monitor: "val_acc", strict: false)]
        }
        let trainer = try Trainer(quietOptions(maxEpochs: 3))
        try trainer.fit(lenient, data: try freshData())
        #expect(trainer.progress.schedulerStep.total.completed == 0)
        #expect(trainer.optimizer?.paramGroups[0].learningRate == 0.05)
    }

    /// Resuming from a checkpoint written after an epoch's last batch (before the validation due
    /// after it) first runs that validation, so a strict plateau monitor on val_loss takes that
    /// epoch's step, as the uninterrupted run did, instead of failing or skipping it.
    @Test func resumeAtEpochEndRunsTheValidationAndPlateauStep() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("batch5.ckpt")
        let schedulers: @Sendable (Optimizer) -> [LRSchedulerConfiguration] = {
            [LRSchedulerConfiguration(ReduceLROnPlateau($0, patience: 0), monitor: "val_loss")]
        }
        let straight = try Trainer(quietOptions(maxEpochs: 3))
        try straight.fit(ScheduledClassifier(seed: 1, makeSchedulers: schedulers), data: try freshData())
        try Trainer(quietOptions(maxEpochs: 3), callbacks: [StopAndSave(batch: 5, url: checkpoint)])
            .fit(ScheduledClassifier(seed: 1, makeSchedulers: schedulers), data: try freshData())
        #expect(integer(try Checkpoint.load(checkpoint)["/lr_schedulers/0/last_epoch"]) == 0)

        let trainer = try Trainer(quietOptions(maxEpochs: 3))
        try trainer.fit(ScheduledClassifier(seed: 1, makeSchedulers: schedulers), data: try freshData(), ckptPath: checkpoint)
        guard case let .plateau(plateau)? = trainer.lrSchedulerConfigs.first?.scheduler else {
            Issue.record("expected the plateau configuration")
            return
        }
        #expect(plateau.lastEpoch == 3)
        #expect(trainer.currentEpoch == 3)
        #expect(trainer.lrSchedulerConfigs.map { $0.stateDict() } == straight.lrSchedulerConfigs.map { $0.stateDict() })
    }

    /// A run with a step and an epoch schedule on one optimizer, stopped after step 7 (mid-epoch 2)
    /// and resumed with fresh objects, ends with the uninterrupted run's weights, optimizer,
    /// scheduler states and scheduler counters, byte for byte.
    @Test func resumeMidRunIsBitExact() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step7.ckpt")
        let schedulers: @Sendable (Optimizer) -> [LRSchedulerConfiguration] = {
            [LRSchedulerConfiguration(StepLR($0, stepSize: 3, gamma: 0.5), interval: .step),
             LRSchedulerConfiguration(ExponentialLR($0, gamma: 0.9), interval: .epoch),
             LRSchedulerConfiguration(ReduceLROnPlateau($0, mode: .max, patience: 0), monitor: "val_loss")]
        }
        let options = Trainer.Options(maxEpochs: 3, numSanityValSteps: 0, enableCheckpointing: false)

        let straight = ScheduledClassifier(seed: 1, makeSchedulers: schedulers)
        let straightTrainer = try Trainer(options)
        try straightTrainer.fit(straight, data: try freshData())

        try Trainer(options, callbacks: [StopAndSave(step: 7, url: checkpoint)])
            .fit(ScheduledClassifier(seed: 1, makeSchedulers: schedulers), data: try freshData())
        let saved = try Checkpoint.load(checkpoint)
        #expect(integer(saved["/lr_schedulers/0/last_epoch"]) == 7)
        #expect(integer(saved["/lr_schedulers/1/last_epoch"]) == 1)
        #expect(integer(saved["/loops/fit_loop/epoch_loop.scheduler_progress/total/completed"]) == 9)

        let resumed = ScheduledClassifier(seed: 99, makeSchedulers: schedulers)
        let resumedTrainer = try Trainer(options)
        try resumedTrainer.fit(resumed, data: try freshData(), ckptPath: checkpoint)

        #expect(weightBytes(resumed) == weightBytes(straight))
        #expect(resumedTrainer.optimizer?.stateDict() == straightTrainer.optimizer?.stateDict())
        #expect(resumedTrainer.lrSchedulerConfigs.map { $0.stateDict() } == straightTrainer.lrSchedulerConfigs.map { $0.stateDict() })
        #expect(resumedTrainer.progress.schedulerStep == straightTrainer.progress.schedulerStep)
        #expect(resumedTrainer.progress.schedulerStep.total.completed == 15 + 3 + 3)
    }
}

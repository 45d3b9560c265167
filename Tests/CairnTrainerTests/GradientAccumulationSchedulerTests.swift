import CairnData
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Counts optimizer steps per epoch and the factor the trainer held in each.
final class StepsPerEpoch: Callback, @unchecked Sendable {
    var steps: [Int: Int] = [:]
    var factors: [Int: Int] = [:]
    override func onBeforeOptimizerStep(_ trainer: Trainer, _ module: TrainingModule, optimizer: Optimizer) throws {
        steps[trainer.currentEpoch, default: 0] += 1
        factors[trainer.currentEpoch] = trainer.accumulateGradBatches
    }
}

@Suite struct GradientAccumulationSchedulerTests {
    /// Five batches per epoch: factor 1 steps five times; factor 2 at batches 2, 4 and the last;
    /// factor 3 at batch 3 and the last.
    @Test func optimizerStepsFollowTheSchedule() throws {
        let counter = StepsPerEpoch()
        let scheduler = try GradientAccumulationScheduler(scheduling: [1: 2, 3: 3])
        #expect(scheduler.scheduling == [0: 1, 1: 2, 3: 3])
        let trainer = try Trainer(quietOptions(maxEpochs: 4), callbacks: [try GradientAccumulationScheduler(scheduling: [1: 2, 3: 3]), counter])
        try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(counter.steps == [0: 5, 1: 3, 2: 3, 3: 2])
        #expect(counter.factors == [0: 1, 1: 2, 2: 2, 3: 3])
        #expect(trainer.globalStep == 13)
    }

    /// The same weights as a trainer configured with the factor directly, epoch by epoch.
    @Test func matchesTheTrainersOwnAccumulation() throws {
        let scheduled = TinyClassifier(seed: 2)
        try Trainer(quietOptions(maxEpochs: 2), callbacks: [try GradientAccumulationScheduler(scheduling: [0: 2])])
            .fit(scheduled, data: try freshData())
        let direct = TinyClassifier(seed: 2)
        try Trainer(Trainer.Options(maxEpochs: 2, numSanityValSteps: 0, accumulateGradBatches: 2, enableCheckpointing: false))
            .fit(direct, data: try freshData())
        #expect(weightBytes(scheduled) == weightBytes(direct))
    }

    @Test func badSchedulesNameTheEntry() throws {
        #expect(throws: TrainerError.invalidConfiguration(callback: "GradientAccumulationScheduler",
                                                          reason: "epoch -1 (in -1: 2) must be 0 or more")) {
            try GradientAccumulationScheduler(scheduling: [-1: 2])
        }
        #expect(throws: TrainerError.invalidConfiguration(callback: "GradientAccumulationScheduler",
                                                          reason: "factor 0 (in 3: 0) must be at least 1")) {
            try GradientAccumulationScheduler(scheduling: [0: 1, 3: 0])
        }
        #expect(throws: TrainerError.self) { try GradientAccumulationScheduler(scheduling: [:]) }
        let conflicting = try Trainer(Trainer.Options(maxEpochs: 1, numSanityValSteps: 0, accumulateGradBatches: 2, enableCheckpointing: false),
                                      callbacks: [try GradientAccumulationScheduler(scheduling: [0: 2])])
        #expect(throws: TrainerError.self) { try conflicting.fit(TinyClassifier(seed: 1), data: try freshData()) }
    }

    @Test func registryReadsTheSchedule() throws {
        let registry = CallbackRegistry()
        let scheduler = try #require(try registry.make("GradientAccumulationScheduler:scheduling={0:1;4:2;8:4}") as? GradientAccumulationScheduler)
        #expect(scheduler.scheduling == [0: 1, 4: 2, 8: 4])
        #expect(scheduler.accumulateGradBatches(epoch: 6) == 2)
        #expect(scheduler.accumulateGradBatches(epoch: 9) == 4)
        #expect(throws: CallbackSpecError.self) { try registry.make("GradientAccumulationScheduler:scheduling=4-2") }
        #expect(throws: TrainerError.self) { try registry.make("GradientAccumulationScheduler:scheduling=4:0") }
    }
}

import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// A classifier with a batch-norm layer, whose buffers EMA averages too.
final class NormalizedClassifier: TrainingModule, @unchecked Sendable {
    let hidden: Linear
    let norm: BatchNorm1d
    let output: Linear

    init(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        hidden = Linear(3, 8, rng: &rng)
        norm = BatchNorm1d(8)
        output = Linear(8, 2, rng: &rng)
        super.init()
    }

    override func forward(_ input: Tensor) -> Tensor { output(norm(hidden(input)).relu()) }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
    }

    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
        log("val_loss", loss)
        return loss
    }

    override func configureOptimizers() throws -> Optimizer { Adam(parameters(), lr: 0.05) }
}

/// Records the module's weights after every training batch and at every validation epoch start.
final class WeightRecorder: Callback, @unchecked Sendable {
    var afterBatches: [[String: [UInt8]]] = []
    var atValidation: [[String: [UInt8]]] = []

    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        afterBatches.append(weightBytes(module))
    }

    override func onValidationEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        atValidation.append(weightBytes(module))
    }
}

func emaOptions(maxEpochs: Int = 2) -> Trainer.Options {
    Trainer.Options(maxEpochs: maxEpochs, valCheckInterval: 2, numSanityValSteps: 0, enableCheckpointing: false)
}

/// The EMA the callback should hold after `steps`, computed independently in Float32.
func expectedAverage(_ steps: [[String: [Float]]], decay: Double) -> [String: [Float]] {
    var average = steps[0]
    for step in steps.dropFirst() {
        for (name, values) in step {
            average[name] = zip(average[name] ?? [], values).map { Float(decay) * $0 + Float(1 - decay) * $1 }
        }
    }
    return average
}

func floats(_ bytes: [String: [UInt8]]) -> [String: [Float]] {
    bytes.mapValues { raw in
        raw.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}

@Suite struct EMAWeightAveragingTests {
    @Test func averagesEveryStepSwapsForValidationAndEndsWithTheAverage() throws {
        let plain = TinyClassifier(seed: 4)
        let plainRecorder = WeightRecorder()
        try Trainer(emaOptions(), callbacks: [plainRecorder]).fit(plain, data: try freshData())

        let averaged = TinyClassifier(seed: 4)
        let ema = EMAWeightAveraging(decay: 0.75)
        let recorder = WeightRecorder()
        try Trainer(emaOptions(), callbacks: [ema, recorder]).fit(averaged, data: try freshData())

        // Swapping for validation never disturbs training: the trajectory equals the plain run's.
        #expect(recorder.afterBatches == plainRecorder.afterBatches)
        #expect(recorder.afterBatches.count == 10)
        #expect(ema.numAveraged == 10)
        // Validation after batch 2 sees the average of the first two steps.
        let firstValidation = floats(recorder.atValidation[0])
        let expectedAfterTwo = expectedAverage(recorder.afterBatches.prefix(2).map(floats), decay: 0.75)
        #expect(firstValidation == expectedAfterTwo)
        // At the end the model holds the average of all ten steps.
        #expect(floats(weightBytes(averaged)) == expectedAverage(recorder.afterBatches.map(floats), decay: 0.75))
    }

    @Test func updatesFollowEveryNAndStartingStep() {
        let ema = EMAWeightAveraging(updateEveryNSteps: 3, updateStartingAtStep: 4, updateStartingAtEpoch: 2)
        #expect((0..<12).filter { ema.shouldUpdate(stepIndex: $0) } == [6, 9])
        #expect((0..<4).filter { ema.shouldUpdate(epochIndex: $0) } == [2, 3])
    }

    /// Stopped after step 7 (mid-epoch 2, just after a validation) and resumed with fresh objects:
    /// the averaged weights (and batch-norm buffers) come back from the state and end equal to the
    /// uninterrupted run's.
    @Test(arguments: [false, true]) func resumeRestoresTheAverageBitExactly(withBatchNorm: Bool) throws {
        func makeModule(_ seed: UInt64) -> TrainingModule {
            withBatchNorm ? NormalizedClassifier(seed: seed) : TinyClassifier(seed: seed)
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step7.ckpt")

        let straight = makeModule(8)
        let straightEMA = EMAWeightAveraging(decay: 0.9, updateEveryNSteps: 2)
        try Trainer(emaOptions(maxEpochs: 3), callbacks: [straightEMA]).fit(straight, data: try freshData())

        try Trainer(emaOptions(maxEpochs: 3), callbacks: [EMAWeightAveraging(decay: 0.9, updateEveryNSteps: 2),
                                                          StopAndSave(step: 7, url: checkpoint)])
            .fit(makeModule(8), data: try freshData())
        let saved = try Checkpoint.load(checkpoint)
        #expect(integer(saved["/callbacks/EMAWeightAveraging/n_averaged"]) == 4)
        if withBatchNorm {
            #expect(saved["/callbacks/EMAWeightAveraging/average/norm.running_mean"]?.tensor != nil)
            #expect(saved["/callbacks/EMAWeightAveraging/average/norm.num_batches_tracked"]?.tensor?.dtype == .i64)
        }
        #expect(saved["/callbacks/EMAWeightAveraging/average/hidden.weight"]?.tensor != nil)

        let resumed = makeModule(123)
        let resumedEMA = EMAWeightAveraging(decay: 0.9, updateEveryNSteps: 2)
        try Trainer(emaOptions(maxEpochs: 3), callbacks: [resumedEMA]).fit(resumed, data: try freshData(), ckptPath: checkpoint)

        #expect(resumedEMA.numAveraged == straightEMA.numAveraged)
        #expect(resumedEMA.latestUpdateStep == straightEMA.latestUpdateStep)
        let resumedAverage = try #require(resumedEMA.average).mapValues(\.rawBytes)
        let straightAverage = try #require(straightEMA.average).mapValues(\.rawBytes)
        #expect(resumedAverage == straightAverage)
        #expect(weightBytes(resumed) == weightBytes(straight))
    }

    /// A checkpoint taken while the average is swapped in still holds the training weights in `state_dict`.
    @Test func aCheckpointDuringValidationKeepsTrainingWeights() throws {
        final class SaveInValidation: Callback, @unchecked Sendable {
            var checkpoint: CheckpointValue?
            var training: [String: [UInt8]] = [:]
            var trainingAtSave: [String: [UInt8]] = [:]
            override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
                training = weightBytes(module)
            }
            override func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                               batchIndex: Int, dataloaderIndex: Int) throws {
                guard checkpoint == nil, trainer.globalStep == 4 else { return }
                checkpoint = try trainer.dumpCheckpoint()
                trainingAtSave = training
            }
        }
        let saver = SaveInValidation()
        let trainer = try Trainer(emaOptions(), callbacks: [EMAWeightAveraging(decay: 0.5), saver])
        try trainer.fit(TinyClassifier(seed: 2), data: try freshData())
        let checkpoint = try #require(saver.checkpoint)
        let hidden = try #require(checkpoint["/state_dict/hidden.weight"]?.tensor)
        let averageHidden = try #require(checkpoint["/callbacks/EMAWeightAveraging/average/hidden.weight"]?.tensor)
        #expect(try Tensor(hidden).rawBytes == saver.trainingAtSave["hidden.weight"])
        #expect(try Tensor(averageHidden).rawBytes != saver.trainingAtSave["hidden.weight"])
    }
}

import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Records the weights and the first group's learning rate at every epoch start.
final class EpochStartRecorder: Callback, @unchecked Sendable {
    var weights: [[String: [UInt8]]] = []
    var rates: [Double] = []
    override func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        weights.append(weightBytes(module))
        rates.append(trainer.optimizer?.paramGroups[0].learningRate ?? .nan)
    }
}

func swaOptions(maxEpochs: Int = 4) -> Trainer.Options {
    Trainer.Options(maxEpochs: maxEpochs, numSanityValSteps: 0, enableCheckpointing: false)
}

@Suite struct StochasticWeightAveragingTests {
    /// Averaging from epoch 2 of 4 (index 1): the weights at the starts of epochs 1, 2 and 3 are
    /// averaged equally and end in the model; the rate anneals linearly to 0.01 over 2 epochs.
    @Test func averagesEpochStartWeightsAndAnnealsTheRate() throws {
        let module = TinyClassifier(seed: 3)
        let swa = StochasticWeightAveraging(swaLR: 0.01, swaEpochStart: .epoch(2), annealingEpochs: 2, annealingStrategy: .linear)
        let recorder = EpochStartRecorder()
        try Trainer(swaOptions(), callbacks: [swa, recorder]).fit(module, data: try freshData())

        #expect(swa.numAveraged == 3)
        #expect(recorder.rates.count == 4)
        let expectedRates = [0.05, 0.05, 0.03, 0.01]
        for (rate, expected) in zip(recorder.rates, expectedRates) { #expect(abs(rate - expected) < 1e-12) }
        let starts = recorder.weights[1...].map(floats)
        var average = starts[0]
        for (count, weights) in starts.enumerated().dropFirst() {
            for (name, values) in weights {
                average[name] = zip(average[name] ?? [], values).map { $0 + ($1 - $0) / Float(count + 1) }
            }
        }
        #expect(floats(weightBytes(module)) == average)
    }

    @Test func cosineAnnealingFollowsSWALR() {
        let swa = StochasticWeightAveraging(swaLR: 0.1, annealingEpochs: 4)
        var rates = [1.0]
        for step in 1...5 { rates = swa.annealedRates(rates, step: step) }
        // After four steps the rate has reached the SWA rate and stays there.
        #expect(abs(rates[0] - 0.1) < 1e-12)
        let half = StochasticWeightAveraging(swaLR: 0.1, annealingEpochs: 4).annealedRates(
            StochasticWeightAveraging(swaLR: 0.1, annealingEpochs: 4).annealedRates([1], step: 1), step: 2)
        // t = 0.5: alpha = (1 − cos(π/2)) / 2 = 0.5, halfway between 1 and 0.1.
        #expect(abs(half[0] - 0.55) < 1e-12)
    }

    /// Saved mid-epoch 3 (step 12) and resumed with fresh objects: the average, its count and the
    /// annealing step come back, and the run ends byte-identical to the uninterrupted one.
    @Test func resumeIsBitExact() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step12.ckpt")
        func makeSWA() -> StochasticWeightAveraging {
            StochasticWeightAveraging(swaLR: 0.02, swaEpochStart: .fraction(0.25), annealingEpochs: 3)
        }

        let straight = TinyClassifier(seed: 11)
        let straightSWA = makeSWA()
        let straightTrainer = try Trainer(swaOptions(), callbacks: [straightSWA])
        try straightTrainer.fit(straight, data: try freshData())

        try Trainer(swaOptions(), callbacks: [makeSWA(), StopAndSave(step: 12, url: checkpoint)])
            .fit(TinyClassifier(seed: 11), data: try freshData())
        let saved = try Checkpoint.load(checkpoint)
        #expect(integer(saved["/callbacks/StochasticWeightAveraging/n_averaged"]) == 3)
        #expect(saved["/callbacks/StochasticWeightAveraging/average_model_state/hidden.weight"]?.tensor != nil)

        let resumed = TinyClassifier(seed: 50)
        let resumedSWA = makeSWA()
        let resumedTrainer = try Trainer(swaOptions(), callbacks: [resumedSWA])
        try resumedTrainer.fit(resumed, data: try freshData(), ckptPath: checkpoint)

        #expect(resumedSWA.numAveraged == straightSWA.numAveraged)
        #expect(try #require(resumedSWA.average).mapValues(\.rawBytes) == (try #require(straightSWA.average)).mapValues(\.rawBytes))
        #expect(weightBytes(resumed) == weightBytes(straight))
        #expect(resumedTrainer.optimizer?.stateDict() == straightTrainer.optimizer?.stateDict())
    }

    @Test func registryReadsLightningArguments() throws {
        let swa = try #require(try CallbackRegistry().make(
            "StochasticWeightAveraging:swa_lrs=0.01;0.02,swa_epoch_start=3,annealing_epochs=2,annealing_strategy=linear")
            as? StochasticWeightAveraging)
        #expect(swa.swaLRs == [0.01, 0.02] && swa.swaEpochStart == .epoch(3))
        #expect(swa.annealingEpochs == 2 && swa.annealingStrategy == .linear)
        let fraction = try #require(try CallbackRegistry().make("StochasticWeightAveraging:swa_lrs=0.05,swa_epoch_start=0.5")
            as? StochasticWeightAveraging)
        #expect(fraction.swaEpochStart == .fraction(0.5))
        #expect(throws: CallbackSpecError.self) { try CallbackRegistry().make("StochasticWeightAveraging:swa_epoch_start=2") }
    }
}

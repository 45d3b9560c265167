import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// `Fixtures/lightning-tuning.json`, written by `tools/torch-reference/make_tuning_fixtures.py`
/// with Lightning and torch: what their callbacks compute, compared with Cairn's.
struct TuningFixture: Decodable {
    struct Schedule: Decodable {
        var mode: String
        var min_lr: Double
        var max_lr: Double
        var steps: Int
        var rates: [Double]
    }
    struct Smoothing: Decodable {
        var raw: [Double]
        var threshold: Double
        var smoothed: [Double]
        var stopped_at_step: Int?
    }
    struct Suggestion: Decodable {
        var lr: [Double]
        var loss: [Double?]
        var suggestion: Double
        var index: Int
    }
    struct SWALRCase: Decodable {
        var swa_lrs: [Double]
        var anneal_epochs: Int
        var strategy: String
        var rates: [[Double]]
    }
    struct EMA: Decodable {
        var decay: Double
        var average: [String: [Float]]
    }
    struct BufferSet: Decodable {
        var mean: [Float]
        var variance: [Float]
        var tracked: Int
        enum CodingKeys: String, CodingKey {
            case mean = "norm.running_mean", variance = "norm.running_var", tracked = "norm.num_batches_tracked"
        }
    }
    struct EMABuffers: Decodable {
        var decay: Double
        var sets: [BufferSet]
        var average: BufferSet
    }
    struct BackboneCase: Decodable {
        var multiplier: Double
        var should_align: Bool
        var rates: [[Double]]
    }

    var lr_finder_schedules: [Schedule]
    var lr_finder_smoothing: Smoothing
    var lr_finder_suggestion: Suggestion
    var swalr: [SWALRCase]
    var weight_sets: [[String: [Float]]]
    var swa_average: [String: [Float]]
    var ema_average: EMA
    var ema_buffers: EMABuffers
    var backbone_rates: [BackboneCase]

    static func load() throws -> TuningFixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fixtures/lightning-tuning.json").standardized
        return try JSONDecoder().decode(TuningFixture.self, from: Data(contentsOf: url))
    }
}

func close(_ actual: Double, _ expected: Double) -> Bool { abs(actual - expected) <= 1e-12 * max(1, abs(expected)) }

@Suite struct LightningReferenceTests {
    let fixture: TuningFixture
    init() throws { fixture = try TuningFixture.load() }

    @Test func learningRateSweepMatchesLightningsSchedulers() throws {
        for schedule in fixture.lr_finder_schedules {
            let finder = LearningRateFinder(minLR: schedule.min_lr, maxLR: schedule.max_lr, numTrainingSteps: schedule.steps,
                                            mode: try #require(LearningRateFinder.Mode(rawValue: schedule.mode)))
            let rates = (0..<schedule.steps).map { finder.learningRate(atStep: $0) }
            #expect(zip(rates, schedule.rates).allSatisfy { close($0, $1) }, "\(schedule.mode): \(rates) vs \(schedule.rates)")
        }
    }

    @Test func lossSmoothingAndEarlyStopMatchLRCallback() {
        let reference = fixture.lr_finder_smoothing
        var smoothing = LearningRateFinder.LossSmoothing(beta: 0.98, earlyStopThreshold: reference.threshold)
        var smoothed: [Double] = []
        var stoppedAt: Int?
        for (step, loss) in reference.raw.enumerated() {
            // Both sides smooth a float32 loss (Lightning the `.item()` of a float32 tensor).
            let (value, diverged) = smoothing.add(Double(Float(loss)), stepsTaken: step + 1)
            smoothed.append(value)
            if diverged {
                stoppedAt = step
                break
            }
        }
        #expect(smoothed.count == reference.smoothed.count)
        #expect(zip(smoothed, reference.smoothed).allSatisfy { close($0, $1) }, "\(smoothed) vs \(reference.smoothed)")
        #expect(stoppedAt == reference.stopped_at_step)
    }

    @Test func suggestionMatchesLRFinder() {
        let reference = fixture.lr_finder_suggestion
        let finder = LearningRateFinder()
        finder.setResults(.init(lr: reference.lr, loss: reference.loss.map { $0 ?? .nan }))
        #expect(finder.suggestion() == reference.suggestion)
        #expect(reference.lr[reference.index] == reference.suggestion)
    }

    @Test func annealingMatchesSWALR() throws {
        for reference in fixture.swalr {
            let swa = StochasticWeightAveraging(swaLRs: reference.swa_lrs, annealingEpochs: reference.anneal_epochs,
                                                annealingStrategy: try #require(.init(rawValue: reference.strategy)))
            var rates = swa.annealedRates([0.1, 0.05], step: 0)
            var rows = [rates]
            for step in 1..<reference.rates.count {
                rates = swa.annealedRates(rates, step: step)
                rows.append(rates)
            }
            for (row, expected) in zip(rows, reference.rates) {
                #expect(zip(row, expected).allSatisfy { close($0, $1) }, "\(reference.strategy) \(reference.anneal_epochs): \(rows) vs \(reference.rates)")
            }
        }
    }

    @Test func averagesMatchTorchBitForBit() {
        for name in ["layer.weight", "layer.bias"] {
            let sets = fixture.weight_sets.map { $0[name] ?? [] }
            var equal = sets[0]
            var exponential = sets[0]
            for (index, values) in sets.enumerated().dropFirst() {
                equal = StochasticWeightAveraging.fold(equal, values, alreadyAveraged: index)
                exponential = EMAWeightAveraging.blend(exponential, values, decay: fixture.ema_average.decay)
            }
            #expect(equal.map(\.bitPattern) == (fixture.swa_average[name] ?? []).map(\.bitPattern), "SWA \(name)")
            #expect(exponential.map(\.bitPattern) == (fixture.ema_average.average[name] ?? []).map(\.bitPattern), "EMA \(name)")
        }
    }

    /// Batch-norm buffers, num_batches_tracked through Float32 and truncated, as torch's AveragedModel.
    @Test func bufferAveragesMatchTorch() {
        let reference = fixture.ema_buffers
        func tensors(_ set: TuningFixture.BufferSet) -> [Tensor] {
            [Tensor(shape: [2], scalars: set.mean), Tensor(shape: [2], scalars: set.variance), Tensor(indices: [set.tracked], shape: [])]
        }
        var average = tensors(reference.sets[0])
        for set in reference.sets.dropFirst() {
            average = zip(average, tensors(set)).map { EMAWeightAveraging.blend($0, $1, decay: reference.decay) }
        }
        let expected = tensors(reference.average)
        #expect(average.map(\.rawBytes) == expected.map(\.rawBytes), "\(average) vs \(expected)")
        #expect(average[2].dtype == .i64)
    }

    /// The same epochs through Cairn's trainer give BackboneFinetuning's group rates epoch by epoch.
    @Test func backboneRatesMatchFinetuneFunction() throws {
        for reference in fixture.backbone_rates {
            let recorder = GroupRecorder()
            let multiplier = reference.multiplier
            let finetuning = BackboneFinetuning(unfreezeBackboneAtEpoch: 1, lambdaFunc: { _ in multiplier },
                                                shouldAlign: reference.should_align)
            try Trainer(finetuningOptions(maxEpochs: reference.rates.count), callbacks: [finetuning, recorder])
                .fit(BackboneClassifier(seed: 1), data: try freshData())
            let rates = recorder.groups.map { $0.map(\.lr) }
            #expect(rates.count == reference.rates.count)
            for (row, expected) in zip(rates, reference.rates) {
                #expect(row.count == expected.count && zip(row, expected).allSatisfy { close($0, $1) }, "\(rates) vs \(reference.rates)")
            }
        }
    }
}

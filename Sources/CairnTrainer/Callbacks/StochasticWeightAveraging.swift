import CairnCheckpoint
import CairnNN
import CairnOptim
import CairnTensor
import CairnTensorCheckpoint
import Foundation
import OrderedCollections

/// Lightning's StochasticWeightAveraging: from epoch `swaEpochStart` on, the weights at the
/// start of every epoch are folded into an equal-weight running average, the learning rates
/// anneal to `swaLRs` over `annealingEpochs` (torch's SWALR, stepped at each epoch end), and
/// when the last epoch ends the average replaces the model's weights. The average, its count
/// and the annealing step are the callback's state, so a resumed run continues them.
///
/// Once the average is in, batch-norm statistics are recomputed for it, as Lightning's extra
/// epoch does: one forward-only pass in training mode over the next epoch's training batches,
/// with every BatchNorm reset and averaging all batches equally; the train loader's position is
/// put back afterwards. The average is not swapped in for validation (as Lightning).
public final class StochasticWeightAveraging: Callback, @unchecked Sendable {
    /// When averaging starts: an epoch number (from 1) or a fraction of `maxEpochs`.
    public enum EpochStart: Sendable, Equatable {
        case epoch(Int)
        case fraction(Double)
    }

    /// The shape of the learning-rate annealing.
    public enum AnnealingStrategy: String, Sendable { case cos, linear }

    /// The rates annealed to, one for every param group or one per group.
    public let swaLRs: [Double]
    /// When averaging starts.
    public let swaEpochStart: EpochStart
    /// Epochs over which the rates move to ``swaLRs``.
    public let annealingEpochs: Int
    /// Cosine or linear annealing.
    public let annealingStrategy: AnnealingStrategy

    /// The averaged parameters by name, nil before averaging starts.
    public private(set) var average: OrderedDictionary<String, Tensor>?
    /// Epoch-start weights folded in.
    public private(set) var numAveraged = 0
    private var latestUpdateEpoch = -1
    /// SWALR's `_step_count`: 1 once annealing is set up, plus one per epoch end since (nil before).
    private var schedulerStepCount: Int?
    private var swaStart = 0
    private var swaEnd = 0

    /// An SWA callback; `swaLRs` must be positive, `annealingEpochs` non-negative.
    public init(swaLRs: [Double], swaEpochStart: EpochStart = .fraction(0.8), annealingEpochs: Int = 10,
                annealingStrategy: AnnealingStrategy = .cos) {
        precondition(!swaLRs.isEmpty && swaLRs.allSatisfy { $0 > 0 }, "StochasticWeightAveraging: swaLRs \(swaLRs) must be positive")
        precondition(annealingEpochs >= 0, "StochasticWeightAveraging: annealingEpochs \(annealingEpochs) is negative")
        switch swaEpochStart {
        case let .epoch(epoch): precondition(epoch >= 1, "StochasticWeightAveraging: swaEpochStart \(epoch) must be at least 1")
        case let .fraction(share): precondition((0...1).contains(share), "StochasticWeightAveraging: swaEpochStart \(share) is outside 0...1")
        }
        self.swaLRs = swaLRs
        self.swaEpochStart = swaEpochStart
        self.annealingEpochs = annealingEpochs
        self.annealingStrategy = annealingStrategy
        super.init()
    }

    /// One rate for every param group.
    public convenience init(swaLR: Double, swaEpochStart: EpochStart = .fraction(0.8), annealingEpochs: Int = 10,
                            annealingStrategy: AnnealingStrategy = .cos) {
        self.init(swaLRs: [swaLR], swaEpochStart: swaEpochStart, annealingEpochs: annealingEpochs, annealingStrategy: annealingStrategy)
    }

    // MARK: Hooks

    override public func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard let maxEpochs = trainer.maxEpochs else {
            throw TrainerError.invalidConfiguration(callback: "StochasticWeightAveraging", reason: "needs maxEpochs")
        }
        let startEpoch = switch swaEpochStart {
        case let .epoch(epoch): epoch
        case let .fraction(share): Int(Double(maxEpochs) * share)
        }
        swaStart = max(startEpoch - 1, 0)
        swaEnd = maxEpochs - 1
        if let optimizer = trainer.optimizer, swaLRs.count != 1, swaLRs.count != optimizer.paramGroups.count {
            throw TrainerError.invalidConfiguration(callback: "StochasticWeightAveraging",
                                                    reason: "\(swaLRs.count) swa_lrs for \(optimizer.paramGroups.count) param groups")
        }
    }

    override public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        let epoch = trainer.currentEpoch
        guard epoch >= swaStart, epoch <= swaEnd else { return }
        if schedulerStepCount == nil {
            // SWALR's construction takes step 0: no change, except with no annealing epochs
            // (the rates jump to the SWA rates at once).
            schedulerStepCount = 1
            if let optimizer = trainer.optimizer {
                let rates = annealedRates(optimizer.paramGroups.map(\.learningRate), step: 0)
                for (index, rate) in rates.enumerated() { optimizer.paramGroups[index].learningRate = rate }
            }
        }
        if epoch > latestUpdateEpoch {
            fold(module)
            latestUpdateEpoch = epoch
        }
    }

    override public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard let count = schedulerStepCount, let optimizer = trainer.optimizer else { return }
        schedulerStepCount = count + 1
        let rates = annealedRates(optimizer.paramGroups.map(\.learningRate), step: count)
        for (index, rate) in rates.enumerated() { optimizer.paramGroups[index].learningRate = rate }
    }

    override public func onTrainEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard trainer.currentEpoch - 1 == swaEnd, let average else { return }
        for (name, parameter) in module.namedParameters() {
            if let averaged = average[name] { parameter.value = averaged }
        }
        try recomputeBatchNormStatistics(trainer, module)
    }

    /// torch's `update_bn` over the epoch after the last: statistics made by other weights would
    /// not fit the averaged ones.
    private func recomputeBatchNormStatistics(_ trainer: Trainer, _ module: TrainingModule) throws {
        let norms = module.namedModules().compactMap { $0.module as? BatchNorm }
        guard !norms.isEmpty, let loader = trainer.trainLoader else { return }
        let position = loader.stateDict()
        let wasTraining = module.isTraining
        defer {
            for norm in norms { norm.usesCumulativeAverage = false }
            if !wasTraining { module.eval() }
        }
        for norm in norms {
            norm.resetRunningStatistics()
            norm.usesCumulativeAverage = true
        }
        module.train()
        try loader.startEpoch(trainer.currentEpoch)
        let batchLimit = min(loader.batchesPerEpoch, trainer.options.limitTrainBatches ?? Int.max)
        try withNoGrad {
            for _ in 0..<batchLimit {
                guard let batch = try loader.nextBatch() else { break }
                _ = try module.forward(batch: batch)
            }
        }
        try loader.loadStateDict(position)
    }

    /// torch's equal-weight average: the first fold copies, later ones add (w − avg) / (n + 1) in Float32.
    private func fold(_ module: Module) {
        guard numAveraged > 0, let previous = average else {
            average = OrderedDictionary(uniqueKeysWithValues: module.namedParameters().map { ($0.name, $0.parameter.value.detach()) })
            numAveraged += 1
            return
        }
        var updated = OrderedDictionary<String, Tensor>()
        for (name, parameter) in module.namedParameters() {
            let current = parameter.value
            guard let old = previous[name], old.shape == current.shape else {
                preconditionFailure("StochasticWeightAveraging: parameter \(name) \(current.shape) has no average of that shape")
            }
            updated[name] = Tensor(shape: current.shape, scalars: Self.fold(old.scalars, current.scalars, alreadyAveraged: numAveraged))
        }
        average = updated
        numAveraged += 1
    }

    /// Lightning's `avg_fn` on one tensor's values: `average + (current − average) / (n + 1)` in Float32.
    static func fold(_ average: [Float], _ current: [Float], alreadyAveraged count: Int) -> [Float] {
        let divisor = Float(count + 1)
        return zip(average, current).map { $0 + ($1 - $0) / divisor }
    }

    /// torch's `SWALR.get_lr` at `step` (its `_step_count` − 1): undo the previous annealing
    /// fraction to find the starting rate, then blend it with the SWA rate.
    func annealedRates(_ rates: [Double], step rawStep: Int) -> [Double] {
        let step = annealingEpochs == 0 ? max(1, rawStep) : rawStep
        let span = Double(max(1, annealingEpochs))
        let previousAlpha = anneal(min(1, max(0, Double(step - 1) / span)))
        let alpha = anneal(min(1, max(0, Double(step) / span)))
        return rates.enumerated().map { index, rate in
            let target = swaLRs.count == 1 ? swaLRs[0] : swaLRs[index]
            let starting = previousAlpha == 1 ? target : (rate - previousAlpha * target) / (1 - previousAlpha)
            return target * alpha + starting * (1 - alpha)
        }
    }

    private func anneal(_ progress: Double) -> Double {
        switch annealingStrategy {
        case .cos: (1 - cos(Double.pi * progress)) / 2
        case .linear: progress
        }
    }

    // MARK: State

    /// `{"n_averaged", "latest_update_epoch", "scheduler_state": {"_step_count"} or null,
    /// "average_model_state": {parameter name: tensor} or null}`, Lightning's keys.
    override public func stateDict() throws -> CheckpointValue? {
        return .dictionary([
            "n_averaged": .int(Int64(numAveraged)),
            "latest_update_epoch": .int(Int64(latestUpdateEpoch)),
            "scheduler_state": schedulerStepCount.map { .dictionary(["_step_count": .int(Int64($0))]) } ?? .null,
            "average_model_state": average.map { CheckpointValue(tensors: $0) } ?? .null,
        ])
    }

    override public func loadStateDict(_ state: CheckpointValue) throws {
        let path = "callbacks/\(stateKey)"
        func integer(_ key: String) throws -> Int {
            guard case let .int(value)? = state[JSONPointer(tokens: [key])], let number = Int(exactly: value) else {
                throw TrainerError.malformedCheckpoint(path: "\(path)/\(key)", reason: "expected an integer")
            }
            return number
        }
        let count = try integer("n_averaged")
        let epoch = try integer("latest_update_epoch")
        var stepCount: Int?
        if case .dictionary? = state["/scheduler_state"] {
            guard case let .int(value)? = state["/scheduler_state/_step_count"], let number = Int(exactly: value), number >= 1 else {
                throw TrainerError.malformedCheckpoint(path: "\(path)/scheduler_state/_step_count", reason: "expected a positive integer")
            }
            stepCount = number
        }
        let restored: OrderedDictionary<String, Tensor>? = switch state["/average_model_state"] {
        case .null?, nil: nil
        case let saved?: try saved.tensorDictionary(path: "\(path)/average_model_state")
        }
        numAveraged = count
        latestUpdateEpoch = epoch
        schedulerStepCount = stepCount
        average = restored
    }
}

extension StochasticWeightAveraging: RegistrableCallback {
    public static var registryName: String { "StochasticWeightAveraging" }

    /// `swa_lrs` is one rate, or several separated by `;`; `swa_epoch_start` an integer epoch or a fraction.
    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        guard let ratesText = arguments.string("swa_lrs") else {
            throw CallbackSpecError.badValue(callback: registryName, key: "swa_lrs", value: "", expected: "positive number(s), required")
        }
        let rates = ratesText.split(separator: ";").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !rates.isEmpty, rates.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw CallbackSpecError.badValue(callback: registryName, key: "swa_lrs", value: ratesText, expected: "positive number(s) separated by ;")
        }
        let start = try arguments.value("swa_epoch_start", default: EpochStart.fraction(0.8),
                                        expected: "epoch (integer ≥ 1) or fraction in 0...1") { text -> EpochStart? in
            if let epoch = Int(text) { return epoch >= 1 ? .epoch(epoch) : nil }
            if let share = Double(text), (0...1).contains(share) { return .fraction(share) }
            return nil
        }
        let annealing = try arguments.int("annealing_epochs") ?? 10
        guard annealing >= 0 else {
            throw CallbackSpecError.badValue(callback: registryName, key: "annealing_epochs", value: "\(annealing)", expected: "non-negative integer")
        }
        return StochasticWeightAveraging(
            swaLRs: rates.compactMap { $0 }, swaEpochStart: start, annealingEpochs: annealing,
            annealingStrategy: try arguments.value("annealing_strategy", default: .cos, expected: "strategy (cos or linear)") {
                AnnealingStrategy(rawValue: $0)
            })
    }
}

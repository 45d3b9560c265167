import CairnCheckpoint
import CairnOptim
import CairnTensor
import Foundation

/// Lightning's LearningRateFinder: when fit starts, takes `numTrainingSteps` optimizer steps
/// with the learning rate swept from `minLR` to `maxLR`, records the smoothed loss of each,
/// puts the model, optimizer, generators and counters back as they were, and suggests the
/// rate where the loss falls fastest. With `updateAttr` the suggestion becomes the rate of
/// every param group; it is logged as `lr_finder_suggestion`.
///
/// The sweep runs training steps only (no hooks, no validation, no gradient accumulation).
/// A resumed fit (steps already taken) skips the sweep: the restored optimizer holds the rate.
public final class LearningRateFinder: Callback, @unchecked Sendable {
    /// How the rate grows from step to step.
    public enum Mode: String, Sendable { case exponential, linear }

    /// The recorded sweep: the rate each step used and the smoothed loss after it.
    public struct Results: Sendable, Equatable {
        /// The rate of each step.
        public var lr: [Double] = []
        /// The smoothed loss after each step (NaN when the step returned no loss).
        public var loss: [Double] = []

        public init(lr: [Double] = [], loss: [Double] = []) {
            self.lr = lr
            self.loss = loss
        }
    }

    /// The first rate tried.
    public let minLR: Double
    /// The last rate tried.
    public let maxLR: Double
    /// Steps in the sweep.
    public let numTrainingSteps: Int
    /// Exponential or linear growth.
    public let mode: Mode
    /// Stop once the smoothed loss exceeds this multiple of the best one (nil: never).
    public let earlyStopThreshold: Double?
    /// Whether the suggestion is applied to the optimizer.
    public let updateAttr: Bool
    /// The smoothing of the recorded loss (Lightning's `beta`).
    public let beta: Double

    /// The last sweep, empty until one ran.
    public private(set) var results = Results()
    /// The suggestion of the last sweep, or nil.
    public private(set) var optimalLR: Double?

    /// A finder with Lightning's defaults.
    public init(minLR: Double = 1e-8, maxLR: Double = 1, numTrainingSteps: Int = 100, mode: Mode = .exponential,
                earlyStopThreshold: Double? = 4, updateAttr: Bool = true, beta: Double = 0.98) {
        precondition(minLR > 0 && maxLR > minLR, "LearningRateFinder: need 0 < minLR (\(minLR)) < maxLR (\(maxLR))")
        precondition(numTrainingSteps >= 1, "LearningRateFinder: numTrainingSteps \(numTrainingSteps) must be at least 1")
        self.minLR = minLR
        self.maxLR = maxLR
        self.numTrainingSteps = numTrainingSteps
        self.mode = mode
        self.earlyStopThreshold = earlyStopThreshold
        self.updateAttr = updateAttr
        self.beta = beta
        super.init()
    }

    /// The rate of sweep step `step` (from 0), as Lightning's `_ExponentialLR`/`_LinearLR`:
    /// the first step uses `minLR`, step k ≥ 1 the schedule at (k + 1) / numTrainingSteps.
    public func learningRate(atStep step: Int) -> Double {
        guard step > 0 else { return minLR }
        let fraction = Double(step + 1) / Double(numTrainingSteps)
        switch mode {
        case .exponential: return minLR * pow(maxLR / minLR, fraction)
        case .linear: return minLR + fraction * (maxLR - minLR)
        }
    }

    override public func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard trainer.options.fastDevRun == nil else {
            trainer.logger.warning("LearningRateFinder: skipped, fastDevRun is on")
            return
        }
        guard trainer.globalStep == 0 else {
            trainer.logger.notice("LearningRateFinder: skipped, the run resumes at step \(trainer.globalStep)")
            return
        }
        guard let optimizer = trainer.optimizer else { return }
        guard let loader = try trainer.dataModule?.trainLoader() else {
            throw TrainerError.missingLoader(stage: .fit, loader: "train")
        }
        let loaderState = loader.stateDict()
        let snapshot = try trainer.takeTrialSnapshot()
        results = Results()
        do {
            try sweep(trainer, module, optimizer: optimizer, loader: loader)
        } catch {
            try trainer.restoreTrialSnapshot(snapshot, module: module)
            try loader.loadStateDict(loaderState)
            throw error
        }
        try trainer.restoreTrialSnapshot(snapshot, module: module)
        try loader.loadStateDict(loaderState)

        optimalLR = suggestion()
        guard let optimalLR else { return }
        if updateAttr {
            for index in optimizer.paramGroups.indices { optimizer.paramGroups[index].learningRate = optimalLR }
            trainer.logger.info("LearningRateFinder: learning rate set to \(optimalLR)")
        }
        try trainer.logMetrics(["lr_finder_suggestion": optimalLR])
    }

    /// Lightning's `_LRCallback` bookkeeping: the running mean of the loss with its bias
    /// correction (off by one step, as Lightning's), and divergence against the best so far.
    struct LossSmoothing {
        let beta: Double
        let earlyStopThreshold: Double?
        private var runningLoss = 0.0
        private var bestLoss = 0.0

        init(beta: Double, earlyStopThreshold: Double?) {
            self.beta = beta
            self.earlyStopThreshold = earlyStopThreshold
        }

        /// The smoothed loss after the `stepsTaken`-th step (from 1) and whether to stop.
        mutating func add(_ loss: Double, stepsTaken: Int) -> (smoothed: Double, diverged: Bool) {
            runningLoss = beta * runningLoss + (1 - beta) * loss
            let smoothed = runningLoss / (1 - pow(beta, Double(stepsTaken + 1)))
            let diverged = earlyStopThreshold.map { stepsTaken > 1 && smoothed > $0 * bestLoss } ?? false
            if smoothed < bestLoss || stepsTaken == 1 { bestLoss = smoothed }
            return (smoothed, diverged)
        }
    }

    private func sweep(_ trainer: Trainer, _ module: TrainingModule, optimizer: Optimizer, loader: any BatchLoader) throws {
        var smoothing = LossSmoothing(beta: beta, earlyStopThreshold: earlyStopThreshold)
        try trainer.runTrialSteps(module, loader: loader, steps: numTrainingSteps, beforeStep: { step in
            let rate = learningRate(atStep: step)
            for index in optimizer.paramGroups.indices { optimizer.paramGroups[index].learningRate = rate }
            results.lr.append(rate)
        }, afterStep: { step, loss in
            guard let loss else {
                results.loss.append(.nan)
                return true
            }
            let (smoothed, diverged) = smoothing.add(Double(loss), stepsTaken: step + 1)
            results.loss.append(smoothed)
            if diverged { trainer.logger.info("LearningRateFinder: stopped early after \(step + 1) steps, the loss diverges") }
            return !diverged
        })
    }

    /// Replaces the recorded sweep, to compute a suggestion for given results.
    func setResults(_ results: Results) { self.results = results }

    /// Lightning's `suggestion()`: the rate where the gradient of the recorded (smoothed) loss
    /// with respect to the rate is most negative, skipping `skipBegin` and `skipEnd` samples and
    /// any non-finite loss; nil with fewer than two samples left.
    public func suggestion(skipBegin: Int = 10, skipEnd: Int = 1) -> Double? {
        let kept = Array(results.loss.indices.dropFirst(skipBegin).dropLast(skipEnd)).filter { results.loss[$0].isFinite }
        guard kept.count >= 2 else { return nil }
        let gradients = Self.gradient(kept.map { results.loss[$0] }, at: kept.map { results.lr[$0] })
        guard let steepest = gradients.indices.min(by: { gradients[$0] < gradients[$1] }) else { return nil }
        return results.lr[kept[steepest]]
    }

    /// torch.gradient with coordinates: second-order central differences inside, one-sided at the ends.
    static func gradient(_ values: [Double], at points: [Double]) -> [Double] {
        let count = values.count
        return (0..<count).map { index in
            if index == 0 { return (values[1] - values[0]) / (points[1] - points[0]) }
            if index == count - 1 { return (values[index] - values[index - 1]) / (points[index] - points[index - 1]) }
            let left = points[index] - points[index - 1], right = points[index + 1] - points[index]
            return (left * left * values[index + 1] - right * right * values[index - 1]
                + (right * right - left * left) * values[index]) / (left * right * (left + right))
        }
    }
}

extension LearningRateFinder: RegistrableCallback {
    public static var registryName: String { "LearningRateFinder" }

    /// `early_stop_threshold=none` turns early stopping off.
    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let minLR = try arguments.double("min_lr") ?? 1e-8
        let maxLR = try arguments.double("max_lr") ?? 1
        let steps = try arguments.int("num_training_steps") ?? 100
        guard minLR > 0, maxLR > minLR else {
            throw CallbackSpecError.badValue(callback: registryName, key: "max_lr", value: "\(maxLR)", expected: "number above min_lr (\(minLR)) > 0")
        }
        guard steps >= 1 else {
            throw CallbackSpecError.badValue(callback: registryName, key: "num_training_steps", value: "\(steps)", expected: "positive integer")
        }
        let threshold: Double? = try arguments.value("early_stop_threshold", default: 4, expected: "number or none") { text -> Double?? in
            text.lowercased() == "none" ? .some(nil) : Double(text).map { .some($0) }
        }
        return LearningRateFinder(minLR: minLR, maxLR: maxLR, numTrainingSteps: steps,
                                  mode: try arguments.value("mode", default: .exponential, expected: "mode (exponential or linear)") { Mode(rawValue: $0) },
                                  earlyStopThreshold: threshold, updateAttr: try arguments.bool("update_attr", default: true))
    }
}

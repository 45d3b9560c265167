import CairnCheckpoint
import CairnTensor

/// A data module that can change its batch size.
public typealias BatchSizeAdjustableDataModule = DataModule & BatchSizeAdjustable

/// A data module whose batch size can be changed before its loaders are made, so that
/// ``BatchSizeFinder`` can try sizes and apply the one it finds.
public protocol BatchSizeAdjustable: AnyObject {
    /// Rows per batch of the loaders made from now on.
    var batchSize: Int { get set }
}

/// Lightning's BatchSizeFinder: when fit starts, tries ever larger batch sizes for
/// `stepsPerTrial` training steps each, keeps the largest that worked, puts the model,
/// optimizer, generators and counters back as they were, applies the size to the data module
/// (which must be ``BatchSizeAdjustable``) and logs it as `batch_size`.
///
/// On a CPU there is no out-of-memory error, so a trial fails when a training step throws or
/// when the size exceeds `maxBatchSize`; growth also stops once one batch holds the whole
/// training set. `power` doubles until a failure (then halves); `binsearch` doubles until a
/// failure, then bisects between the last success and the failure. Trials run training steps
/// only (no hooks, no validation). The size found is the callback's state, so a resumed fit
/// applies it again without searching.
public final class BatchSizeFinder: Callback, @unchecked Sendable {
    /// How the size grows.
    public enum Mode: String, Sendable { case power, binsearch }

    /// The saved state, `{"optimal_batch_size": n}` (absent before a search).
    public struct State: Codable, Sendable, Equatable {
        public var optimalBatchSize: Int?
        enum CodingKeys: String, CodingKey { case optimalBatchSize = "optimal_batch_size" }
    }

    /// Doubling only, or doubling then bisection.
    public let mode: Mode
    /// Training steps taken with each size.
    public let stepsPerTrial: Int
    /// The first size tried.
    public let initVal: Int
    /// The most sizes tried.
    public let maxTrials: Int
    /// Sizes above this count as failures (nil: no bound).
    public let maxBatchSize: Int?

    /// The size found (or restored), nil before.
    public var optimalBatchSize: Int? { state.optimalBatchSize }
    /// Every size tried, in order, with whether it worked.
    public private(set) var trials: [(size: Int, succeeded: Bool)] = []
    private var state = State()

    /// A finder with Lightning's defaults.
    public init(mode: Mode = .power, stepsPerTrial: Int = 3, initVal: Int = 2, maxTrials: Int = 25, maxBatchSize: Int? = nil) {
        precondition(stepsPerTrial >= 1, "BatchSizeFinder: stepsPerTrial \(stepsPerTrial) must be at least 1")
        precondition(initVal >= 1, "BatchSizeFinder: initVal \(initVal) must be at least 1")
        precondition(maxTrials >= 1, "BatchSizeFinder: maxTrials \(maxTrials) must be at least 1")
        self.mode = mode
        self.stepsPerTrial = stepsPerTrial
        self.initVal = initVal
        self.maxTrials = maxTrials
        self.maxBatchSize = maxBatchSize
        super.init()
    }

    override public func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard let data = trainer.dataModule as? BatchSizeAdjustableDataModule else {
            throw TrainerError.invalidConfiguration(callback: "BatchSizeFinder",
                                                    reason: "the data module \(type(of: trainer.dataModule)) is not BatchSizeAdjustable")
        }
        if let restored = state.optimalBatchSize {
            data.batchSize = restored
            trainer.logger.info("BatchSizeFinder: batch size \(restored) restored from the checkpoint")
            return
        }
        guard trainer.options.fastDevRun == nil else {
            trainer.logger.warning("BatchSizeFinder: skipped, fastDevRun is on")
            return
        }
        let snapshot = try trainer.takeTrialSnapshot()
        let original = data.batchSize
        trials = []
        let found: Int
        do {
            found = try search(trainer, module, data)
        } catch {
            data.batchSize = original
            try trainer.restoreTrialSnapshot(snapshot, module: module)
            throw error
        }
        try trainer.restoreTrialSnapshot(snapshot, module: module)
        data.batchSize = found
        state.optimalBatchSize = found
        trainer.logger.info("BatchSizeFinder: continuing with batch size \(found)")
        try trainer.logMetrics(["batch_size": Double(found)])
    }

    // MARK: Search (Lightning's `_run_power_scaling` and `_run_binary_scaling`)

    private func search(_ trainer: Trainer, _ module: TrainingModule, _ data: BatchSizeAdjustableDataModule) throws -> Int {
        var size = initVal
        switch mode {
        case .power:
            var anySuccess = false
            for _ in 0..<maxTrials {
                if try trial(size, trainer, module, data) {
                    guard let next = grown(size, by: Self.doubled(size), data) else { break }
                    size = next
                    anySuccess = true
                } else {
                    size = max(size / 2, 1)
                    if anySuccess { break }
                }
            }
        case .binsearch:
            var low = 1
            var high: Int?
            var successes = 0
            while true {
                if try trial(size, trainer, module, data) {
                    successes += 1
                    if successes > maxTrials { break }
                    low = size
                    if let high, high - low <= 1 { break }
                    guard let next = grown(size, by: high.map { low + ($0 - low) / 2 } ?? Self.doubled(size), data) else { break }
                    size = next
                } else {
                    high = size
                    size = low + (size - low) / 2
                    if let high, high - low <= 1 { break }
                }
            }
        }
        return size
    }

    /// Twice `size`, or nil when that does not fit in an Int (the search then stops growing).
    private static func doubled(_ size: Int) -> Int? {
        let (twice, overflow) = size.multipliedReportingOverflow(by: 2)
        return overflow ? nil : twice
    }

    /// The next size, or nil when the current one already covers the training set (Lightning's
    /// `_adjust_batch_size` leaves the size unchanged then) or the next equals it.
    private func grown(_ size: Int, by next: Int?, _ data: BatchSizeAdjustableDataModule) -> Int? {
        data.batchSize = size
        if let loader = try? data.trainLoader(), loader.batchesPerEpoch <= 1 { return nil }
        return next == size ? nil : next
    }

    /// Whether `stepsPerTrial` steps with `size` rows per batch succeed.
    private func trial(_ size: Int, _ trainer: Trainer, _ module: TrainingModule, _ data: BatchSizeAdjustableDataModule) throws -> Bool {
        if let maxBatchSize, size > maxBatchSize {
            trials.append((size, false))
            return false
        }
        data.batchSize = size
        guard let loader = try data.trainLoader() else {
            throw TrainerError.missingLoader(stage: .fit, loader: "train")
        }
        do {
            try trainer.runTrialSteps(module, loader: loader, steps: stepsPerTrial) { _, _ in true }
        } catch TrainerError.interrupted(let stage) {
            throw TrainerError.interrupted(stage: stage)
        } catch {
            trainer.logger.info("BatchSizeFinder: batch size \(size) failed: \(error)")
            trials.append((size, false))
            return false
        }
        trials.append((size, true))
        return true
    }

    // MARK: State

    override public func stateDict() throws -> CheckpointValue? { try CheckpointEncoder().encode(state) }

    override public func loadStateDict(_ saved: CheckpointValue) throws {
        state = try CheckpointDecoder().decode(State.self, from: saved)
    }
}

extension BatchSizeFinder: RegistrableCallback {
    public static var registryName: String { "BatchSizeFinder" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let mode = try arguments.value("mode", default: Mode.power, expected: "mode (power or binsearch)") { Mode(rawValue: $0) }
        var counts: [String: Int] = [:]
        for (key, fallback) in [("steps_per_trial", 3), ("init_val", 2), ("max_trials", 25)] {
            let value = try arguments.int(key) ?? fallback
            guard value >= 1 else { throw CallbackSpecError.badValue(callback: registryName, key: key, value: "\(value)", expected: "positive integer") }
            counts[key] = value
        }
        return BatchSizeFinder(mode: mode, stepsPerTrial: counts["steps_per_trial"] ?? 3, initVal: counts["init_val"] ?? 2,
                               maxTrials: counts["max_trials"] ?? 25, maxBatchSize: try arguments.int("max_batch_size"))
    }
}

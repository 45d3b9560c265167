import CairnData
import CairnTensor
import Foundation
import OrderedCollections

/// Lightning's ThroughputMonitor: after each training batch whose step logs, sends `train|time`
/// (seconds since training began), `train|batches`, `train|samples` and, once the window of the
/// last ``windowSize`` batches is full, `train|batches_per_sec` and `train|samples_per_sec` over it.
public final class ThroughputMonitor: Callback, @unchecked Sendable {
    /// Batches the rates are measured over (Lightning's `window_size`).
    public let windowSize: Int
    /// Samples in a batch (Lightning's `batch_size_fn`); defaults to the features' first dimension.
    public let batchSize: @Sendable (Batch) -> Int

    private var startedAt: ContinuousClock.Instant?
    private var batches = 0
    private var samples = 0
    private var stepsAtBatchStart = 0
    /// (seconds, batches, samples) at the end of each recent batch, oldest first.
    private var window: [(time: Double, batches: Int, samples: Int)] = []

    /// A monitor measuring over the last `windowSize` batches.
    public init(windowSize: Int = 100, batchSize: @escaping @Sendable (Batch) -> Int = { $0.size }) {
        precondition(windowSize >= 2, "ThroughputMonitor: windowSize \(windowSize) must be at least 2")
        self.windowSize = windowSize
        self.batchSize = batchSize
        super.init()
    }

    override public func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        guard stage == .fit else { return }
        try trainer.requireLogger(for: self)
        startedAt = nil
        batches = 0
        samples = 0
        window = []
    }

    override public func onTrainStart(_ trainer: Trainer, _ module: TrainingModule) throws { startedAt = .now }

    override public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int) throws {
        stepsAtBatchStart = trainer.progress.batchesThatStepped
    }

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        guard let startedAt else { return }
        // Only batches that took a logging step log, not those that only accumulated gradients.
        let step = trainer.progress.batchesThatStepped
        let logs = step > stepsAtBatchStart && (step % trainer.options.logEveryNSteps == 0 || trainer.shouldStop)
        // The loop's own count, as Lightning's `total_batch_idx + 1`: it continues after a resume.
        batches = trainer.progress.trainBatch.total.processed
        samples += batchSize(batch)
        let elapsed = (ContinuousClock.now - startedAt).seconds
        window.append((elapsed, batches, samples))
        if window.count > windowSize { window.removeFirst(window.count - windowSize) }
        guard logs else { return }
        var metrics: OrderedDictionary<String, Double> = ["train|time": elapsed, "train|batches": Double(batches),
                                                          "train|samples": Double(samples)]
        if window.count == windowSize, let first = window.first, let last = window.last, last.time > first.time {
            let span = last.time - first.time
            metrics["train|batches_per_sec"] = Double(last.batches - first.batches) / span
            metrics["train|samples_per_sec"] = Double(last.samples - first.samples) / span
        }
        // At the step count after this batch's step, as Lightning logs throughput.
        try trainer.logMetrics(metrics, step: step)
    }
}

extension ThroughputMonitor: RegistrableCallback {
    public static var registryName: String { "ThroughputMonitor" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let window = try arguments.int("window_size") ?? 100
        guard window >= 2 else {
            throw CallbackSpecError.badValue(callback: registryName, key: "window_size", value: "\(window)", expected: "count of at least 2")
        }
        return ThroughputMonitor(windowSize: window)
    }
}

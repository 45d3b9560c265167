import CairnCheckpoint
import CairnData
import CairnTensor
import Foundation

/// Lightning's SpikeDetection, kept simple: compares each training loss with the mean of the
/// last ``window`` normal losses; a loss above `mean × (1 + rtol) + atol`, or not finite, is a
/// spike. It is left out of the mean, then reported: a warning through ``Trainer/logger`` and
/// ``spikes`` (mode `warn`), or ``TrainingSpikeError`` ending the run (mode `error`).
/// The window, the batch count and the spikes are its state, so a resumed run judges each loss
/// against the same mean as the uninterrupted run would.
public final class SpikeDetection: Callback, @unchecked Sendable {
    /// What a spike does.
    public enum Mode: String, Sendable { case warn, error }

    /// One detected spike.
    public struct Spike: Sendable, Equatable, Codable {
        /// Training epoch (from 0).
        public var epoch: Int
        /// Batch within the epoch.
        public var batchIndex: Int
        /// Optimizer steps taken, including this batch's.
        public var globalStep: Int
        /// The spiking loss.
        public var loss: Double
        /// The mean it was compared with.
        public var runningMean: Double

        enum CodingKeys: String, CodingKey {
            case epoch, loss
            case batchIndex = "batch_index", globalStep = "global_step", runningMean = "running_mean"
        }
    }

    /// What ``stateDict()`` holds.
    struct State: Codable, Equatable {
        /// The normal losses the running mean covers, oldest first.
        var recentLosses: [Double] = []
        /// Training batches seen, warm-up included.
        var batchesSeen = 0
        /// Spikes found so far.
        var spikes: [Spike] = []

        enum CodingKeys: String, CodingKey {
            case spikes
            case recentLosses = "recent_losses", batchesSeen = "batches_seen"
        }
    }

    /// Warn or stop.
    public let mode: Mode
    /// Losses the running mean covers.
    public let window: Int
    /// Batches seen before any is judged.
    public let warmup: Int
    /// Absolute slack above the scaled mean.
    public let atol: Double
    /// Relative slack: the mean is multiplied by `1 + rtol`.
    public let rtol: Double
    /// Spikes found so far in warn mode (and the one that stopped the run in error mode).
    public var spikes: [Spike] { state.spikes }

    private var state = State()

    /// A detector; Lightning's defaults (window 10, warmup 1, rtol 2).
    public init(mode: Mode = .error, window: Int = 10, warmup: Int = 1, atol: Double = 0, rtol: Double = 2) {
        precondition(window >= 1, "SpikeDetection: window \(window) must be at least 1")
        precondition(warmup >= 0 && atol >= 0 && rtol >= 0, "SpikeDetection: warmup \(warmup), atol \(atol) and rtol \(rtol) must not be negative")
        self.mode = mode
        self.window = window
        self.warmup = warmup
        self.atol = atol
        self.rtol = rtol
        super.init()
    }

    /// One key per window shape, as detectors with different windows keep different histories.
    override public var stateKey: String {
        makeStateKey(["window": .int(Int64(window)), "warmup": .int(Int64(warmup))])
    }

    override public func stateDict() throws -> CheckpointValue? { try CheckpointEncoder().encode(state) }

    override public func loadStateDict(_ saved: CheckpointValue) throws {
        state = try CheckpointDecoder().decode(State.self, from: saved)
        // A checkpoint from a detector with a longer window keeps only what this one covers.
        state.recentLosses = Array(state.recentLosses.suffix(window))
    }

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        guard let outputs, outputs.scalars.count == 1 else { return }
        let loss = Double(outputs.scalars[0])
        state.batchesSeen += 1
        let recent = state.recentLosses
        guard state.batchesSeen > warmup, !recent.isEmpty else {
            if loss.isFinite { remember(loss) }
            return
        }
        let mean = recent.reduce(0, +) / Double(recent.count)
        guard !loss.isFinite || loss > mean * (1 + rtol) + atol else {
            remember(loss)
            return
        }
        let spike = Spike(epoch: trainer.currentEpoch, batchIndex: batchIndex, globalStep: trainer.globalStep, loss: loss, runningMean: mean)
        state.spikes.append(spike)
        switch mode {
        case .warn:
            trainer.logger.warning("\(TrainingSpikeError.spike(spike))")
        case .error:
            throw TrainingSpikeError.spike(spike)
        }
    }

    private func remember(_ loss: Double) {
        state.recentLosses.append(loss)
        if state.recentLosses.count > window { state.recentLosses.removeFirst() }
    }
}

/// A training loss spiked (SpikeDetection in `error` mode; Lightning's TrainingSpikeException).
public enum TrainingSpikeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The spike, with where it happened and the mean it broke away from.
    case spike(SpikeDetection.Spike)

    public var description: String {
        switch self {
        case let .spike(spike):
            "training loss spike at epoch \(spike.epoch), batch \(spike.batchIndex), step \(spike.globalStep): "
                + "loss \(spike.loss) against a running mean of \(spike.runningMean)"
        }
    }
}

extension SpikeDetection: RegistrableCallback {
    public static var registryName: String { "SpikeDetection" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let mode = try arguments.value("mode", default: Mode.error, expected: "mode (warn or error)") { Mode(rawValue: $0) }
        let window = try arguments.int("window") ?? 10
        let warmup = try arguments.int("warmup") ?? 1
        let atol = try arguments.double("atol") ?? 0
        let rtol = try arguments.double("rtol") ?? 2
        for (key, value, minimum) in [("window", Double(window), 1.0), ("warmup", Double(warmup), 0), ("atol", atol, 0), ("rtol", rtol, 0)]
        where !(value >= minimum) {
            throw CallbackSpecError.badValue(callback: registryName, key: key, value: "\(value)", expected: "number of at least \(Int(minimum))")
        }
        return SpikeDetection(mode: mode, window: window, warmup: warmup, atol: atol, rtol: rtol)
    }
}

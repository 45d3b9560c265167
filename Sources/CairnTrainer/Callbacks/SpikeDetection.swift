import CairnData
import CairnTensor
import Foundation

/// Lightning's SpikeDetection, kept simple: compares each training loss with the mean of the
/// last ``window`` normal losses; a loss above `mean × (1 + rtol) + atol`, or not finite, is a
/// spike. It is left out of the mean, then reported: a warning through ``Trainer/logger`` and
/// ``spikes`` (mode `warn`), or ``TrainingSpikeError`` ending the run (mode `error`).
public final class SpikeDetection: Callback, @unchecked Sendable {
    /// What a spike does.
    public enum Mode: String, Sendable { case warn, error }

    /// One detected spike.
    public struct Spike: Sendable, Equatable {
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
    public private(set) var spikes: [Spike] = []

    private var recent: [Double] = []
    private var seen = 0

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

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        guard let outputs, outputs.scalars.count == 1 else { return }
        let loss = Double(outputs.scalars[0])
        seen += 1
        guard seen > warmup, !recent.isEmpty else {
            if loss.isFinite { remember(loss) }
            return
        }
        let mean = recent.reduce(0, +) / Double(recent.count)
        guard !loss.isFinite || loss > mean * (1 + rtol) + atol else {
            remember(loss)
            return
        }
        let spike = Spike(epoch: trainer.currentEpoch, batchIndex: batchIndex, globalStep: trainer.globalStep, loss: loss, runningMean: mean)
        spikes.append(spike)
        switch mode {
        case .warn:
            trainer.logger.warning("\(TrainingSpikeError.spike(spike))")
        case .error:
            throw TrainingSpikeError.spike(spike)
        }
    }

    private func remember(_ loss: Double) {
        recent.append(loss)
        if recent.count > window { recent.removeFirst() }
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

import CairnCheckpoint
import CairnData
import CairnTensor
import Foundation

/// Lightning's SpikeDetection: from batch `warmup` of each epoch on, a training loss that is not
/// lower than the last normal one and differs from the mean of the last ``window`` normal losses
/// by at least `atol` and by at least `rtol × mean` is a spike (so is a loss that is not finite,
/// with `finiteOnly`). A spike is left out of the mean, written with the batch before it to
/// `skip_batches.json` (when ``excludeBatchesPath`` is set), then reported: a warning through
/// ``Trainer/logger`` and ``spikes`` (mode `warn`), or ``TrainingSpikeError`` ending the run
/// (mode `error`, Lightning's only behaviour). The window, the last loss and the spikes are its
/// state, so a resumed run judges each loss as the uninterrupted run would.
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
        /// The mean it was compared with (NaN when no normal loss was seen yet).
        public var runningMean: Double

        enum CodingKeys: String, CodingKey {
            case epoch, loss
            case batchIndex = "batch_index", globalStep = "global_step", runningMean = "running_mean"
        }
    }

    /// What ``stateDict()`` holds; `last_val` and `bad_batches` are Lightning's names.
    struct State: Codable, Equatable {
        /// The normal losses the running mean covers, oldest first.
        var recentLosses: [Double] = []
        /// The last normal loss (Lightning starts from 0).
        var lastValue = 0.0
        /// Batch indices to skip, two per spike (the one before and the spiking one), as Lightning.
        var badBatches: [Int] = []
        /// Spikes found so far.
        var spikes: [Spike] = []

        enum CodingKeys: String, CodingKey {
            case spikes
            case recentLosses = "recent_losses", lastValue = "last_val", badBatches = "bad_batches"
        }
    }

    /// Warn or stop.
    public let mode: Mode
    /// Losses the running mean covers.
    public let window: Int
    /// Batches at the start of each epoch that are not judged (Lightning compares the batch index).
    public let warmup: Int
    /// Least distance from the mean for a spike; nil: no absolute condition.
    public let atol: Double?
    /// Least distance from the mean, as a multiple of the mean, for a spike; nil: no relative condition.
    public let rtol: Double?
    /// Whether a loss that is not finite is a spike.
    public let finiteOnly: Bool
    /// Where `skip_batches.json` goes (a folder, or a path ending in `.json`); nil: no file.
    public let excludeBatchesPath: URL?
    /// Spikes found so far in warn mode (and the one that stopped the run in error mode).
    public var spikes: [Spike] { state.spikes }
    /// Lightning's `bad_batches`: for each spike, the batch index before it and its own.
    public var badBatches: [Int] { state.badBatches }

    private var state = State()

    /// A detector; Lightning's defaults (window 10, warmup 1, no atol, rtol 2, finite only).
    public init(mode: Mode = .error, window: Int = 10, warmup: Int = 1, atol: Double? = nil, rtol: Double? = 2,
                finiteOnly: Bool = true, excludeBatchesPath: URL? = nil) {
        precondition(window >= 1, "SpikeDetection: window \(window) must be at least 1")
        precondition(warmup >= 0, "SpikeDetection: warmup \(warmup) must not be negative")
        self.mode = mode
        self.window = window
        self.warmup = warmup
        self.atol = atol
        self.rtol = rtol
        self.finiteOnly = finiteOnly
        self.excludeBatchesPath = excludeBatchesPath
        super.init()
    }

    /// The JSON file of batches to skip, as Lightning names it.
    public var excludeBatchesFile: URL? {
        guard let excludeBatchesPath else { return nil }
        return excludeBatchesPath.pathExtension == "json" ? excludeBatchesPath
            : excludeBatchesPath.appendingPathComponent("skip_batches.json")
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
        let mean = state.recentLosses.isEmpty ? Double.nan : state.recentLosses.reduce(0, +) / Double(state.recentLosses.count)
        guard batchIndex >= warmup, isSpike(loss, mean: mean) else {
            if loss.isFinite { remember(loss) }
            return
        }
        let spike = Spike(epoch: trainer.currentEpoch, batchIndex: batchIndex, globalStep: trainer.globalStep, loss: loss, runningMean: mean)
        state.spikes.append(spike)
        state.badBatches += [batchIndex - 1, batchIndex]
        try writeBadBatches()
        switch mode {
        case .warn:
            trainer.logger.warning("\(TrainingSpikeError.spike(spike))")
        case .error:
            throw TrainingSpikeError.spike(spike)
        }
    }

    /// Lightning's test: an improvement on the last normal loss is never a spike; otherwise both
    /// tolerances (those given) must be reached. Comparisons with an empty window's NaN mean fail.
    func isSpike(_ loss: Double, mean: Double) -> Bool {
        if finiteOnly && !loss.isFinite { return true }
        if loss - state.lastValue <= 0 { return false }
        let distance = abs(loss - mean)
        let farInAbsolute = atol.map { distance >= abs($0) } ?? true
        let farInRelative = rtol.map { distance >= abs($0 * mean) } ?? true
        return farInAbsolute && farInRelative
    }

    private func remember(_ loss: Double) {
        state.lastValue = loss
        state.recentLosses.append(loss)
        if state.recentLosses.count > window { state.recentLosses.removeFirst() }
    }

    private func writeBadBatches() throws {
        guard let file = excludeBatchesFile else { return }
        do {
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            let text = "[\n" + state.badBatches.map { "    \($0)" }.joined(separator: ",\n") + "\n]"
            try Data(text.utf8).write(to: file, options: .atomic)
        } catch {
            throw SpikeDetectionError.cannotWriteExcludedBatches(path: file.path, reason: "\(error)")
        }
    }
}

/// The batches to skip could not be written.
public enum SpikeDetectionError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Writing `skip_batches.json` failed.
    case cannotWriteExcludedBatches(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotWriteExcludedBatches(path, reason): "SpikeDetection: cannot write the batches to skip to \(path): \(reason)"
        }
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
        let atol = try arguments.double("atol")
        let rtol = try arguments.double("rtol") ?? 2
        let finiteOnly = try arguments.bool("finite_only", default: true)
        let excludeBatchesPath = arguments.string("exclude_batches_path").map { URL(fileURLWithPath: $0) }
        for (key, value, minimum) in [("window", Double(window), 1.0), ("warmup", Double(warmup), 0)] where !(value >= minimum) {
            throw CallbackSpecError.badValue(callback: registryName, key: key, value: "\(value)", expected: "number of at least \(Int(minimum))")
        }
        return SpikeDetection(mode: mode, window: window, warmup: warmup, atol: atol, rtol: rtol, finiteOnly: finiteOnly,
                              excludeBatchesPath: excludeBatchesPath)
    }
}

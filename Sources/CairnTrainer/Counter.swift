import CairnCheckpoint
import CairnData
import CairnTensor

/// The stateful callback of Lightning's callback guide: counts epochs or batches. Several may
/// run at once because the counted unit is part of the state key (`verbose` is not).
public final class Counter: Callback, @unchecked Sendable {
    /// What is counted.
    public enum Unit: String, Sendable { case epochs, batches }

    /// The saved state, `{"epochs": n, "batches": m}`.
    public struct State: Codable, Sendable, Equatable {
        /// Training epochs ended while counting epochs.
        public var epochs = 0
        /// Training batches ended while counting batches.
        public var batches = 0

        public init(epochs: Int = 0, batches: Int = 0) {
            self.epochs = epochs
            self.batches = batches
        }
    }

    /// What this counter counts.
    public let what: Unit
    /// Whether each count is printed; not part of the identity.
    public let verbose: Bool
    /// The counts so far.
    public private(set) var state = State()

    /// A counter of `what`.
    public init(what: Unit = .epochs, verbose: Bool = false) {
        self.what = what
        self.verbose = verbose
        super.init()
    }

    override public var stateKey: String { makeStateKey(["what": .string(what.rawValue)]) }

    override public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard what == .epochs else { return }
        state.epochs += 1
        if verbose { print("\(stateKey): \(state.epochs) epochs") }
    }

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        guard what == .batches else { return }
        state.batches += 1
        if verbose { print("\(stateKey): \(state.batches) batches") }
    }

    override public func stateDict() throws -> CheckpointValue? { try CheckpointEncoder().encode(state) }

    override public func loadStateDict(_ saved: CheckpointValue) throws {
        state = try CheckpointDecoder().decode(State.self, from: saved)
    }
}

extension Counter: RegistrableCallback {
    public static var registryName: String { "Counter" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let unit = try arguments.value("what", default: Unit.epochs, expected: "unit (epochs or batches)") { Unit(rawValue: $0) }
        return Counter(what: unit, verbose: try arguments.bool("verbose", default: false))
    }
}

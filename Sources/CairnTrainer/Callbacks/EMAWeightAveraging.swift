import CairnCheckpoint
import CairnData
import CairnNN
import CairnTensor
import CairnTensorCheckpoint
import OrderedCollections

/// Lightning's EMAWeightAveraging: keeps an exponential moving average of the parameters,
/// updated after optimizer steps (every `updateEveryNSteps`, from `updateStartingAtStep`) or at
/// epoch ends (from `updateStartingAtEpoch`); the average is swapped into the model for each
/// validation epoch during fit (and swapped back for training) and copied into it when training
/// ends. The averaged tensors live in the callback's state, keyed by parameter name, so a
/// resumed run continues the same average. Buffers are not averaged.
public final class EMAWeightAveraging: Callback, @unchecked Sendable {
    /// The weight of the old average in each update: `average = decay·average + (1 − decay)·current`.
    public let decay: Double
    /// Update after every this many optimizer steps (0: never by step).
    public let updateEveryNSteps: Int
    /// The first (zero-based) optimizer step index that updates; nil: from the first.
    public let updateStartingAtStep: Int?
    /// Also update at the end of every epoch from this index on; nil: never by epoch.
    public let updateStartingAtEpoch: Int?

    /// The averaged parameters by name; nil until fit sets the callback up.
    public private(set) var average: OrderedDictionary<String, Tensor>?
    /// Updates folded into the average (torch's `n_averaged`); the first one copies the weights.
    public private(set) var numAveraged = 0
    /// The global step of the last update by step.
    public private(set) var latestUpdateStep = 0
    private var latestUpdateEpoch = -1
    /// Whether the model holds the average (during validation) and ``average`` the training weights.
    private var swapped = false
    private weak var module: TrainingModule?

    /// An EMA callback with Lightning's defaults.
    public init(decay: Double = 0.999, updateEveryNSteps: Int = 1, updateStartingAtStep: Int? = nil,
                updateStartingAtEpoch: Int? = nil) {
        precondition((0...1).contains(decay), "EMAWeightAveraging: decay \(decay) is outside 0...1")
        precondition(updateEveryNSteps >= 0, "EMAWeightAveraging: updateEveryNSteps \(updateEveryNSteps) is negative")
        self.decay = decay
        self.updateEveryNSteps = updateEveryNSteps
        self.updateStartingAtStep = updateStartingAtStep
        self.updateStartingAtEpoch = updateStartingAtEpoch
        super.init()
    }

    /// Lightning's `should_update`: exactly one of the indices is given.
    public func shouldUpdate(stepIndex: Int? = nil, epochIndex: Int? = nil) -> Bool {
        if let stepIndex, stepIndex >= (updateStartingAtStep ?? 0), updateEveryNSteps > 0, stepIndex % updateEveryNSteps == 0 {
            return true
        }
        if let epochIndex, let start = updateStartingAtEpoch, epochIndex >= start { return true }
        return false
    }

    // MARK: Averaging

    private static func copies(of module: Module) -> OrderedDictionary<String, Tensor> {
        OrderedDictionary(uniqueKeysWithValues: module.namedParameters().map { ($0.name, $0.parameter.value.detach()) })
    }

    /// torch's AveragedModel with `get_ema_avg_fn`: the first update copies, later ones blend in Float32.
    private func update(from module: Module) {
        guard !swapped else { return }
        guard numAveraged > 0, let previous = average else {
            average = Self.copies(of: module)
            numAveraged += 1
            return
        }
        var blended = OrderedDictionary<String, Tensor>()
        for (name, parameter) in module.namedParameters() {
            let current = parameter.value
            guard let old = previous[name], old.shape == current.shape else {
                preconditionFailure("EMAWeightAveraging: parameter \(name) \(current.shape) has no average of that shape")
            }
            blended[name] = Tensor(shape: current.shape, scalars: Self.blend(old.scalars, current.scalars, decay: decay))
        }
        average = blended
        numAveraged += 1
    }

    /// torch's `get_ema_avg_fn` on one tensor's values: `decay·average + (1 − decay)·current`,
    /// both factors rounded to Float32 as torch does with a Python scalar.
    static func blend(_ average: [Float], _ current: [Float], decay: Double) -> [Float] {
        let keep = Float(decay), take = Float(1 - decay)
        return zip(average, current).map { keep * $0 + take * $1 }
    }

    /// Exchanges the model's parameters with ``average`` (gradients stay with the model).
    private func swap(_ module: Module) {
        guard let held = average else { return }
        var outgoing = OrderedDictionary<String, Tensor>()
        for (name, parameter) in module.namedParameters() {
            guard let incoming = held[name] else { continue }
            outgoing[name] = parameter.value.detach()
            let gradient = parameter.grad
            parameter.value = incoming
            parameter.grad = gradient
        }
        average = outgoing
        swapped.toggle()
    }

    // MARK: Hooks

    override public func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        guard stage == .fit else { return }
        self.module = module
        average = Self.copies(of: module)
        numAveraged = 0
        latestUpdateStep = 0
        latestUpdateEpoch = -1
        swapped = false
    }

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        let step = trainer.globalStep
        guard step > latestUpdateStep, shouldUpdate(stepIndex: step - 1) else { return }
        update(from: module)
        latestUpdateStep = step
    }

    override public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        let epoch = trainer.currentEpoch
        guard epoch > latestUpdateEpoch, shouldUpdate(epochIndex: epoch) else { return }
        update(from: module)
        latestUpdateEpoch = epoch
    }

    override public func onValidationEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        if trainer.stage == .fit, !swapped { swap(module) }
    }

    override public func onValidationEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        if swapped { swap(module) }
    }

    override public func onTrainEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        if swapped { swap(module) }
        guard let average else { return }
        for (name, parameter) in module.namedParameters() {
            if let averaged = average[name] { parameter.value = averaged }
        }
    }

    override public func onException(_ trainer: Trainer, _ module: TrainingModule, error: any Error) throws {
        if swapped { swap(module) }
    }

    // MARK: State

    /// A checkpoint taken while the average is swapped in gets the training weights in `state_dict`.
    override public func onSaveCheckpoint(_ trainer: Trainer, _ module: TrainingModule, checkpoint: inout CheckpointValue) throws {
        guard swapped, let training = average, case var .dictionary(tree) = checkpoint,
              case var .dictionary(weights)? = tree["state_dict"] else { return }
        for (name, tensor) in training { weights[.string(name)] = .tensor(CheckpointTensor(tensor)) }
        tree["state_dict"] = .dictionary(weights)
        checkpoint = .dictionary(tree)
    }

    /// A checkpoint saved without this callback starts the average from its weights, as Lightning.
    override public func onLoadCheckpoint(_ trainer: Trainer, _ module: TrainingModule, checkpoint: CheckpointValue) throws {
        guard trainer.stage == .fit else { return }
        average = Self.copies(of: module)
        numAveraged = 0
    }

    /// `{"latest_update_step": n, "n_averaged": k, "average": {parameter name: tensor}}`.
    override public func stateDict() throws -> CheckpointValue? {
        let averaged = swapped ? module.map(Self.copies(of:)) : average
        return .dictionary([
            "latest_update_step": .int(Int64(latestUpdateStep)),
            "n_averaged": .int(Int64(numAveraged)),
            "average": CheckpointValue(tensors: averaged ?? [:]),
        ])
    }

    override public func loadStateDict(_ state: CheckpointValue) throws {
        let path = "callbacks/\(stateKey)"
        guard case let .int(step)? = state["/latest_update_step"], case let .int(count)? = state["/n_averaged"],
              step >= 0, count >= 0, step <= Int64(Int.max), count <= Int64(Int.max) else {
            throw TrainerError.malformedCheckpoint(path: path, reason: "latest_update_step and n_averaged must be non-negative integers")
        }
        let restored = try (state["/average"] ?? .null).tensorDictionary(path: "\(path)/average")
        if let module {
            for (name, parameter) in module.namedParameters() where restored[name]?.shape != parameter.value.shape {
                throw TrainerError.malformedCheckpoint(path: "\(path)/average/\(name)",
                                                       reason: "missing or not of the parameter's shape \(parameter.value.shape)")
            }
        }
        latestUpdateStep = Int(step)
        numAveraged = Int(count)
        average = restored
        swapped = false
    }
}

extension EMAWeightAveraging: RegistrableCallback {
    public static var registryName: String { "EMAWeightAveraging" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let decay = try arguments.double("decay") ?? 0.999
        let every = try arguments.int("update_every_n_steps") ?? 1
        guard (0...1).contains(decay) else {
            throw CallbackSpecError.badValue(callback: registryName, key: "decay", value: "\(decay)", expected: "number in 0...1")
        }
        guard every >= 0 else {
            throw CallbackSpecError.badValue(callback: registryName, key: "update_every_n_steps", value: "\(every)",
                                             expected: "non-negative integer")
        }
        return EMAWeightAveraging(decay: decay, updateEveryNSteps: every,
                                  updateStartingAtStep: try arguments.int("update_starting_at_step"),
                                  updateStartingAtEpoch: try arguments.int("update_starting_at_epoch"))
    }
}

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
/// ends. With `useBuffers` (the default) buffers such as batch-norm statistics are averaged and
/// swapped too. The averaged tensors live in the callback's state, keyed by `state_dict` name,
/// so a resumed run continues the same average.
public final class EMAWeightAveraging: Callback, @unchecked Sendable {
    /// The weight of the old average in each update: `average = decay·average + (1 − decay)·current`.
    public let decay: Double
    /// Update after every this many optimizer steps (0: never by step).
    public let updateEveryNSteps: Int
    /// The first (zero-based) optimizer step index that updates; nil: from the first.
    public let updateStartingAtStep: Int?
    /// Also update at the end of every epoch from this index on; nil: never by epoch.
    public let updateStartingAtEpoch: Int?
    /// Whether buffers (batch-norm statistics) are averaged and swapped too, as Lightning's default.
    public let useBuffers: Bool

    /// The averaged parameters (and buffers) by name; nil until fit sets the callback up.
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
                updateStartingAtEpoch: Int? = nil, useBuffers: Bool = true) {
        precondition((0...1).contains(decay), "EMAWeightAveraging: decay \(decay) is outside 0...1")
        precondition(updateEveryNSteps >= 0, "EMAWeightAveraging: updateEveryNSteps \(updateEveryNSteps) is negative")
        self.decay = decay
        self.updateEveryNSteps = updateEveryNSteps
        self.updateStartingAtStep = updateStartingAtStep
        self.updateStartingAtEpoch = updateStartingAtEpoch
        self.useBuffers = useBuffers
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

    /// What is averaged, by `state_dict` name: the parameters, then (with `useBuffers`) the buffers.
    private func averagedTensors(of module: Module) -> OrderedDictionary<String, Tensor> {
        var tensors = OrderedDictionary(uniqueKeysWithValues: module.namedParameters().map { ($0.name, $0.parameter.value.detach()) })
        if useBuffers {
            for (name, buffer) in module.namedBuffers() { tensors[name] = buffer.value }
        }
        return tensors
    }

    /// Puts `tensors` into the module by name; parameters keep their gradients.
    private func assign(_ tensors: OrderedDictionary<String, Tensor>, to module: Module) {
        for (name, parameter) in module.namedParameters() {
            guard let incoming = tensors[name] else { continue }
            let gradient = parameter.grad
            parameter.value = incoming
            parameter.grad = gradient
        }
        guard useBuffers else { return }
        for (name, buffer) in module.namedBuffers() {
            if let incoming = tensors[name] { buffer.value = incoming }
        }
    }

    /// torch's AveragedModel with `get_ema_avg_fn`: the first update copies, later ones blend.
    private func update(from module: Module) {
        guard !swapped else { return }
        let current = averagedTensors(of: module)
        guard numAveraged > 0, let previous = average else {
            average = current
            numAveraged += 1
            return
        }
        var blended = OrderedDictionary<String, Tensor>()
        for (name, tensor) in current {
            guard let old = previous[name], old.shape == tensor.shape, old.dtype == tensor.dtype else {
                preconditionFailure("EMAWeightAveraging: \(name) \(tensor.dtype.rawValue) \(tensor.shape) has no average of that type and shape")
            }
            blended[name] = Self.blend(old, tensor, decay: decay)
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

    /// The blend of one tensor: Float32 values directly; integer buffers (`num_batches_tracked`)
    /// through Float32 and truncated back, as torch's `copy_` into an int64 tensor; other
    /// types follow the model.
    static func blend(_ average: Tensor, _ current: Tensor, decay: Double) -> Tensor {
        switch current.dtype {
        case .f32:
            return Tensor(shape: current.shape, scalars: blend(average.scalars, current.scalars, decay: decay))
        case let dtype where !dtype.isFloatingPoint && dtype != .bool:
            let mixed = blend(average.integers.map { Float($0) }, current.integers.map { Float($0) }, decay: decay)
            return Tensor(indices: mixed.map { Int(clamping: Int64(exactly: $0.rounded(.towardZero)) ?? 0) }, shape: current.shape, dtype: dtype)
        default:
            return current
        }
    }

    /// Exchanges the model's tensors with ``average``.
    private func swap(_ module: Module) {
        guard let held = average else { return }
        let outgoing = averagedTensors(of: module)
        assign(held, to: module)
        average = outgoing
        swapped.toggle()
    }

    // MARK: Hooks

    override public func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        guard stage == .fit else { return }
        self.module = module
        average = averagedTensors(of: module)
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
        if let average { assign(average, to: module) }
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
        average = averagedTensors(of: module)
        numAveraged = 0
    }

    /// `{"latest_update_step": n, "n_averaged": k, "average": {parameter name: tensor}}`.
    override public func stateDict() throws -> CheckpointValue? {
        let averaged = swapped ? module.map(averagedTensors(of:)) : average
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
            for (name, tensor) in averagedTensors(of: module)
            where restored[name]?.shape != tensor.shape || restored[name]?.dtype != tensor.dtype {
                throw TrainerError.malformedCheckpoint(path: "\(path)/average/\(name)",
                                                       reason: "missing or not \(tensor.dtype.rawValue) \(tensor.shape) as in the model")
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
                                  updateStartingAtEpoch: try arguments.int("update_starting_at_epoch"),
                                  useBuffers: try arguments.bool("use_buffers", default: true))
    }
}

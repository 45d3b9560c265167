import CairnCheckpoint
import CairnNN
import CairnTensor
import CairnTensorCheckpoint
import OrderedCollections

extension Trainer {
    /// The checkpoint key of the gradients summed so far in an unfinished accumulation window.
    /// Lightning has no such entry (its checkpoints lose them); Cairn adds it only mid-window, so
    /// checkpoints taken between optimizer steps are unchanged.
    static let accumulatedGradientsKey = "accumulated_gradients"

    /// `{parameter name: gradient}` for every parameter holding one, while a window is open.
    /// Between a batch's backward and the end of its processing the resume redoes that batch, so
    /// the sum saved is the one from before its backward pass.
    func accumulatedGradientsEntry(of module: TrainingModule) -> CheckpointValue? {
        guard accumulationWindowOpen else { return nil }
        var gradients = OrderedDictionary<CheckpointKey, CheckpointValue>()
        if batchGradientPending {
            guard let before = gradientsBeforeBatch else {
                logger.warning("checkpoint taken between backward and the end of a training batch in an open accumulation window, with no record of the gradients before it: they are not saved; a resume restarts the window's sum at that batch")
                return nil
            }
            for (name, gradient) in before { gradients[.string(name)] = .tensor(CheckpointTensor(gradient)) }
            return .dictionary(gradients)
        }
        for (name, parameter) in module.namedParameters() {
            if let gradient = parameter.grad { gradients[.string(name)] = .tensor(CheckpointTensor(gradient)) }
        }
        return .dictionary(gradients)
    }

    /// The window's gradients as they stand before a mid-window batch's backward pass. Backward
    /// replaces each gradient with a new tensor rather than adding in place, so keeping the
    /// references costs no copy.
    func recordGradientsBeforeBatch(of module: TrainingModule) {
        var gradients = OrderedDictionary<String, Tensor>()
        for (name, parameter) in module.namedParameters() {
            if let gradient = parameter.grad { gradients[name] = gradient }
        }
        gradientsBeforeBatch = gradients
    }

    /// Puts saved mid-window gradients back on the parameters, so the window continues where it
    /// stopped; throws naming the entry when a name or shape does not match the module.
    func restoreAccumulatedGradients(from checkpoint: CheckpointValue) throws {
        guard let module, let saved = checkpoint[JSONPointer(tokens: [Self.accumulatedGradientsKey])] else { return }
        let root = "/\(Self.accumulatedGradientsKey)"
        guard case let .dictionary(entries) = saved else {
            throw TrainerError.malformedCheckpoint(path: root, reason: "expected a dictionary of gradients by parameter name")
        }
        let parameters = Dictionary(module.namedParameters().map { ($0.name, $0.parameter) }, uniquingKeysWith: { first, _ in first })
        var restored: [(Parameter, Tensor)] = []
        for (key, value) in entries {
            let path = "\(root)/\(key.token)"
            guard let parameter = parameters[key.token] else {
                throw TrainerError.malformedCheckpoint(path: path, reason: "the module has no parameter \(key.token)")
            }
            guard case let .tensor(stored) = value else { throw TrainerError.malformedCheckpoint(path: path, reason: "expected a tensor") }
            let gradient = try Tensor(stored, name: path)
            guard gradient.shape == parameter.value.shape else {
                throw TrainerError.malformedCheckpoint(path: path, reason: "gradient shape \(gradient.shape), parameter shape \(parameter.value.shape)")
            }
            restored.append((parameter, gradient))
        }
        // Nothing changes until every entry has been checked.
        for (parameter, gradient) in restored { parameter.grad = gradient }
        accumulationWindowOpen = true
    }
}

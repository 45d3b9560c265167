import CairnCheckpoint
import CairnNN
import CairnOptim
import CairnTensor
import CairnTensorCheckpoint
import OrderedCollections

/// Lightning's BackboneFinetuning: freezes the parameters under a named submodule when a stage
/// is set up, and at `unfreezeBackboneAtEpoch` unfreezes them into a new optimizer param group
/// whose learning rate then grows by `lambdaFunc` each epoch (capped at the main rate with
/// `shouldAlign`). The param groups are saved by parameter name, so a resumed run rebuilds them
/// before the optimizer state is loaded.
///
/// Give `configureOptimizers` only `Module.trainableParameters()`: a backbone
/// parameter already in the optimizer is not added again (a warning is logged), as in Lightning.
public final class BackboneFinetuning: Callback, OptimizerLayoutRestoring, @unchecked Sendable {
    /// The parameter-path prefix of the backbone (`backbone` matches `backbone` and `backbone.*`).
    public let backbone: String
    /// The epoch at whose start the backbone joins training.
    public let unfreezeBackboneAtEpoch: Int
    /// The factor applied to the backbone's learning rate at the start of each later epoch, given `epoch + 1`.
    public let lambdaFunc: @Sendable (Int) -> Double
    /// The backbone's first learning rate as a fraction of the first group's.
    public let backboneInitialRatioLR: Double
    /// The backbone's first learning rate, overriding the ratio.
    public let backboneInitialLR: Double?
    /// Whether the backbone's rate stops growing once it reaches the first group's.
    public let shouldAlign: Bool
    /// Lightning's divisor when no rate is given; kept for its argument list (a rate is always given here).
    public let initialDenomLR: Double
    /// Whether batch-norm layers of the backbone keep training while the rest is frozen.
    public let trainBN: Bool
    /// Whether each change of rate is logged at `info` level.
    public let verbose: Bool

    /// Saved param groups per optimizer index: options and parameter names (Lightning's
    /// `internal_optimizer_metadata`).
    private var internalOptimizerMetadata: OrderedDictionary<Int, [CheckpointValue]> = [:]
    /// The backbone's learning rate after its last change, nil until it is unfrozen.
    public private(set) var previousBackboneLR: Double?
    /// Set by ``loadStateDict(_:)``: the next fit re-creates the saved groups.
    private var restarting = false

    /// A finetuning callback; Lightning's defaults (the multiplier `lambdaFunc` returns 2).
    public init(unfreezeBackboneAtEpoch: Int = 10, lambdaFunc: @escaping @Sendable (Int) -> Double = { _ in 2 },
                backboneInitialRatioLR: Double = 0.1, backboneInitialLR: Double? = nil, shouldAlign: Bool = true,
                initialDenomLR: Double = 10, trainBN: Bool = true, verbose: Bool = false, backbone: String = "backbone") {
        precondition(unfreezeBackboneAtEpoch >= 0, "BackboneFinetuning: unfreezeBackboneAtEpoch \(unfreezeBackboneAtEpoch) is negative")
        self.backbone = backbone
        self.unfreezeBackboneAtEpoch = unfreezeBackboneAtEpoch
        self.lambdaFunc = lambdaFunc
        self.backboneInitialRatioLR = backboneInitialRatioLR
        self.backboneInitialLR = backboneInitialLR
        self.shouldAlign = shouldAlign
        self.initialDenomLR = initialDenomLR
        self.trainBN = trainBN
        self.verbose = verbose
        super.init()
    }

    // MARK: Backbone parameters

    private func isBackbone(_ name: String) -> Bool { name == backbone || name.hasPrefix(backbone + ".") }

    /// The backbone's parameters in module order, with or without those of its batch-norm layers
    /// (which keep training while the rest is frozen when `trainBN`, and stay frozen otherwise).
    private func backboneParameters(of module: TrainingModule, includingBatchNorm: Bool) throws -> [Parameter] {
        var batchNormParameters = Set<ObjectIdentifier>()
        if !includingBatchNorm {
            for (_, child) in module.namedModules() where child is BatchNorm {
                for parameter in child.parameters() { batchNormParameters.insert(ObjectIdentifier(parameter)) }
            }
        }
        let found = module.namedParameters().filter { isBackbone($0.name) }
        guard !found.isEmpty else {
            throw TrainerError.invalidConfiguration(callback: "BackboneFinetuning",
                                                    reason: "the module has no parameters under '\(backbone)'")
        }
        return found.map(\.parameter).filter { !batchNormParameters.contains(ObjectIdentifier($0)) }
    }

    // MARK: Hooks

    /// Lightning's `freeze_before_training`: runs before `configureOptimizers`.
    override public func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        for parameter in try backboneParameters(of: module, includingBatchNorm: !trainBN) { parameter.isFrozen = true }
    }

    func restoreOptimizerLayout(_ optimizer: Optimizer, module: TrainingModule) throws {
        guard restarting else { return }
        restarting = false
        guard let saved = internalOptimizerMetadata[0] else { return }
        let named = Dictionary(module.namedParameters().map { ($0.name, $0.parameter) }) { first, _ in first }
        optimizer.paramGroups = try saved.enumerated().map { index, group in
            try Self.paramGroup(group, parameters: named, path: "\(stateKey)/internal_optimizer_metadata/0/\(index)")
        }
        // Lightning leaves a restored backbone frozen; it was trainable when the run was saved.
        if previousBackboneLR != nil {
            for parameter in try backboneParameters(of: module, includingBatchNorm: false) { parameter.isFrozen = false }
        }
    }

    override public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard let optimizer = trainer.optimizer else { return }
        let groupsBefore = optimizer.paramGroups.count
        // A run resumed mid-epoch already made this epoch's change before it was saved.
        if !trainer.restartingMidEpoch {
            try finetune(trainer, module, epoch: trainer.currentEpoch, optimizer: optimizer)
        }
        store(module, optimizer: optimizer, groupsBefore: groupsBefore)
    }

    /// Lightning's `finetune_function`.
    private func finetune(_ trainer: Trainer, _ module: TrainingModule, epoch: Int, optimizer: Optimizer) throws {
        let currentLR = optimizer.paramGroups[0].learningRate
        if epoch == unfreezeBackboneAtEpoch {
            let initialLR = backboneInitialLR ?? currentLR * backboneInitialRatioLR
            previousBackboneLR = initialLR
            let parameters = try backboneParameters(of: module, includingBatchNorm: false)
            for parameter in parameters { parameter.isFrozen = false }
            let fresh = parameters.filter { !optimizer.contains($0) }
            if fresh.count < parameters.count {
                trainer.logger.warning("BackboneFinetuning: \(parameters.count - fresh.count) backbone parameters are already in the optimizer and are skipped; build it from trainableParameters()")
            }
            if !fresh.isEmpty {
                var group = ParamGroup(fresh)
                group.learningRate = initialLR
                optimizer.addParamGroup(group)
            }
            if verbose { trainer.logger.info("BackboneFinetuning: current lr \(currentLR), backbone lr \(initialLR)") }
        } else if epoch > unfreezeBackboneAtEpoch, let previous = previousBackboneLR, hasBackboneGroup(optimizer, module) {
            var next = lambdaFunc(epoch + 1) * previous
            if shouldAlign, next > currentLR { next = currentLR }
            optimizer.paramGroups[optimizer.paramGroups.count - 1].learningRate = next
            previousBackboneLR = next
            if verbose { trainer.logger.info("BackboneFinetuning: current lr \(currentLR), backbone lr \(next)") }
        }
    }

    /// Whether the last group is the backbone's (it is not when the backbone was already in group 0).
    private func hasBackboneGroup(_ optimizer: Optimizer, _ module: TrainingModule) -> Bool {
        guard optimizer.paramGroups.count > 1, let last = optimizer.paramGroups.last else { return false }
        let backboneSet = Set(module.namedParameters().filter { isBackbone($0.name) }.map { ObjectIdentifier($0.parameter) })
        return last.parameters.allSatisfy { backboneSet.contains(ObjectIdentifier($0)) }
    }

    /// Lightning's `_store`: the groups by parameter name, the first time whole, later only the added ones.
    private func store(_ module: TrainingModule, optimizer: Optimizer, groupsBefore: Int) {
        let names = Dictionary(module.namedParameters().map { (ObjectIdentifier($0.parameter), $0.name) }) { first, _ in first }
        func describe(_ groups: ArraySlice<ParamGroup>) -> [CheckpointValue] {
            groups.map { group in
                var entries = OrderedDictionary<CheckpointKey, CheckpointValue>()
                for (key, value) in group.options { entries[.string(key)] = CheckpointValue(value) }
                entries["params"] = .list(group.parameters.map { .string(names[ObjectIdentifier($0)] ?? "") })
                return .dictionary(entries)
            }
        }
        if internalOptimizerMetadata[0] == nil {
            internalOptimizerMetadata[0] = describe(optimizer.paramGroups[...])
        } else if optimizer.paramGroups.count != groupsBefore {
            internalOptimizerMetadata[0]?.append(contentsOf: describe(optimizer.paramGroups[groupsBefore...]))
        }
    }

    /// One saved group turned back into a param group of the live parameters.
    private static func paramGroup(_ saved: CheckpointValue, parameters: [String: Parameter], path: String) throws -> ParamGroup {
        guard case let .dictionary(entries) = saved, case let .list(names)? = entries["params"] else {
            throw TrainerError.malformedCheckpoint(path: path, reason: "expected a dictionary with a params list")
        }
        let members: [Parameter] = try names.map { name in
            guard case let .string(text) = name, let parameter = parameters[text] else {
                throw TrainerError.malformedCheckpoint(path: "\(path)/params", reason: "no parameter named \(name)")
            }
            return parameter
        }
        var options = OrderedDictionary<String, StateValue>()
        for (key, value) in entries where key != "params" {
            options[key.description] = try StateValue(value, path: "\(path)/\(key)")
        }
        return ParamGroup(members, options: options)
    }

    // MARK: State

    /// `{"internal_optimizer_metadata": {0: [{options…, "params": [names]}]}, "previous_backbone_lr": x}`.
    override public func stateDict() throws -> CheckpointValue? {
        var metadata = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for (index, groups) in internalOptimizerMetadata { metadata[.int(Int64(index))] = .list(groups) }
        return .dictionary([
            "internal_optimizer_metadata": .dictionary(metadata),
            "previous_backbone_lr": previousBackboneLR.map { .double($0) } ?? .null,
        ])
    }

    override public func loadStateDict(_ state: CheckpointValue) throws {
        let path = "callbacks/\(stateKey)"
        guard case let .dictionary(metadata)? = state["/internal_optimizer_metadata"] else {
            throw TrainerError.malformedCheckpoint(path: "\(path)/internal_optimizer_metadata", reason: "missing or not a dictionary")
        }
        var restored = OrderedDictionary<Int, [CheckpointValue]>()
        for (key, groups) in metadata {
            guard let index = Int(key.description), case let .list(items) = groups else {
                throw TrainerError.malformedCheckpoint(path: "\(path)/internal_optimizer_metadata/\(key)",
                                                       reason: "expected an optimizer index and a list of groups")
            }
            restored[index] = items
        }
        switch state["/previous_backbone_lr"] {
        case let .double(rate)?: previousBackboneLR = rate
        case let .int(rate)?: previousBackboneLR = Double(rate)
        case .null?, nil: previousBackboneLR = nil
        default: throw TrainerError.malformedCheckpoint(path: "\(path)/previous_backbone_lr", reason: "expected a number or null")
        }
        internalOptimizerMetadata = restored
        restarting = true
    }
}

extension BackboneFinetuning: RegistrableCallback {
    public static var registryName: String { "BackboneFinetuning" }

    /// `lambda_func` takes a constant multiplier (a closure cannot be written as `key=value`).
    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let multiplier = try arguments.double("lambda_func") ?? 2
        return BackboneFinetuning(
            unfreezeBackboneAtEpoch: try arguments.int("unfreeze_backbone_at_epoch") ?? 10,
            lambdaFunc: { _ in multiplier },
            backboneInitialRatioLR: try arguments.double("backbone_initial_ratio_lr") ?? 0.1,
            backboneInitialLR: try arguments.double("backbone_initial_lr"),
            shouldAlign: try arguments.bool("should_align", default: true),
            initialDenomLR: try arguments.double("initial_denom_lr") ?? 10,
            trainBN: try arguments.bool("train_bn", default: true),
            verbose: try arguments.bool("verbose", default: false),
            backbone: arguments.string("backbone") ?? "backbone")
    }
}

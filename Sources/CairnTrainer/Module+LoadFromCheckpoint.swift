import CairnCheckpoint
import CairnNN
import Foundation
import OrderedCollections
import CairnTensor

extension Module {
    /// Loads the weights a checkpoint holds under `/state_dict` into this module, as
    /// `model.load_state_dict(torch.load(path)["state_dict"])` does.
    ///
    /// With `strict` (the default) every missing, unexpected or mis-shaped key is reported in
    /// one error and nothing changes; without it, only the keys both sides have are loaded.
    public func loadFromCheckpoint(_ url: URL, strict: Bool = true) throws {
        let checkpoint = try Checkpoint.load(url)
        try loadStateDict(try Self.savedWeights(in: checkpoint, file: url.path), strict: strict)
    }

    /// The tensors under `/state_dict`, by name; `file` names the checkpoint in errors.
    static func savedWeights(in checkpoint: CheckpointValue, file: String) throws -> OrderedDictionary<String, Tensor> {
        guard let weights = checkpoint["/state_dict"] else {
            throw TrainerError.checkpointFile(path: file, reason: "has no /state_dict (weights)")
        }
        return try weights.tensorDictionary(path: "/state_dict")
    }
}

/// A training module that can be rebuilt from the hyper-parameters it saved, so
/// ``loadFromCheckpoint(_:strict:)`` returns a ready module as Lightning's
/// `LightningModule.load_from_checkpoint` does.
public protocol CheckpointLoadable: TrainingModule {
    /// What the module passes to ``TrainingModule/saveHyperparameters(_:)``.
    associatedtype Hyperparameters: Codable
    /// The module built from its hyper-parameters (weights still initial).
    init(hyperparameters: Hyperparameters)
}

extension CheckpointLoadable {
    /// A module built from the checkpoint's `/hyper_parameters` (changed by `override` first,
    /// as Lightning's keyword overrides), holding the checkpoint's weights, with its
    /// `onLoadCheckpoint` hook run. As in Lightning, it is left in training mode: call
    /// `eval()` before inference so dropout and batch norm stop training behaviour.
    public static func loadFromCheckpoint(_ url: URL, strict: Bool = true,
                                          override: (inout Hyperparameters) -> Void = { _ in }) throws -> Self {
        let checkpoint = try Checkpoint.load(url)
        guard let saved = checkpoint["/hyper_parameters"] else {
            throw TrainerError.checkpointFile(path: url.path, reason: "has no /hyper_parameters to build \(Self.self) from")
        }
        var hyperparameters: Hyperparameters
        do {
            hyperparameters = try CheckpointDecoder().decode(Hyperparameters.self, from: saved)
        } catch {
            throw TrainerError.checkpointFile(path: url.path, reason: "/hyper_parameters do not decode as \(Hyperparameters.self): \(error)")
        }
        override(&hyperparameters)
        let module = Self(hyperparameters: hyperparameters)
        try module.onLoadCheckpoint(checkpoint: checkpoint)
        try module.loadStateDict(try savedWeights(in: checkpoint, file: url.path), strict: strict)
        return module
    }
}

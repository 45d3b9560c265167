import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// A module with a `backbone` and a `head`, whose optimizer holds only the trainable parameters.
final class BackboneClassifier: TrainingModule, @unchecked Sendable {
    let backbone: Linear
    let head: Linear

    init(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        backbone = Linear(3, 6, rng: &rng)
        head = Linear(6, 2, rng: &rng)
        super.init()
    }

    override func forward(_ input: Tensor) -> Tensor { head(backbone(input).relu()) }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
    }

    override func configureOptimizers() throws -> Optimizer { Adam(trainableParameters(), lr: 0.05) }
}

/// Records the param groups' sizes and learning rates at each epoch start (after the finetuner's change).
final class GroupRecorder: Callback, @unchecked Sendable {
    var groups: [[(count: Int, lr: Double)]] = []
    var backboneFrozen: [Bool] = []

    override func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        groups.append(trainer.optimizer?.paramGroups.map { ($0.parameters.count, $0.learningRate) } ?? [])
        backboneFrozen.append((module as? BackboneClassifier)?.backbone.weight.isFrozen ?? false)
    }
}

/// A backbone of a linear layer and a batch-norm layer (`backbone.0`, `backbone.1`).
final class NormalizedBackboneClassifier: TrainingModule, @unchecked Sendable {
    let backbone: [Module]
    let head: Linear

    init(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        backbone = [Linear(3, 6, rng: &rng), BatchNorm1d(6)]
        head = Linear(6, 2, rng: &rng)
        super.init()
    }

    override func forward(_ input: Tensor) -> Tensor { head(backbone[1](backbone[0](input)).relu()) }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
    }

    override func configureOptimizers() throws -> Optimizer { Adam(trainableParameters(), lr: 0.05) }
}

func finetuningOptions(maxEpochs: Int) -> Trainer.Options {
    Trainer.Options(maxEpochs: maxEpochs, numSanityValSteps: 0, enableCheckpointing: false)
}

@Suite struct BackboneFinetuningTests {
    @Test func freezesThenUnfreezesIntoANewGroupWithGrowingRate() throws {
        let module = BackboneClassifier(seed: 3)
        let initialBackbone = module.backbone.weight.value.rawBytes
        let finetuning = BackboneFinetuning(unfreezeBackboneAtEpoch: 1)
        // Runs after the finetuner, so it sees each epoch's groups.
        let recorder = GroupRecorder()
        let trainer = try Trainer(finetuningOptions(maxEpochs: 1), callbacks: [finetuning, recorder])
        try trainer.fit(module, data: try freshData())
        #expect(module.backbone.weight.value.rawBytes == initialBackbone)
        #expect(trainer.optimizer?.paramGroups.count == 1)

        let longer = BackboneClassifier(seed: 3)
        let longerRecorder = GroupRecorder()
        try Trainer(finetuningOptions(maxEpochs: 4), callbacks: [BackboneFinetuning(unfreezeBackboneAtEpoch: 1), longerRecorder])
            .fit(longer, data: try freshData())
        #expect(longer.backbone.weight.value.rawBytes != initialBackbone)
        #expect(longerRecorder.backboneFrozen == [true, false, false, false])
        let sizes = longerRecorder.groups.map { $0.map(\.count) }
        #expect(sizes == [[2], [2, 2], [2, 2], [2, 2]])
        // 0.05 × 0.1, then doubled each epoch until it reaches the head's 0.05.
        let backboneRates = longerRecorder.groups.dropFirst().map { $0[1].lr }
        #expect(backboneRates.count == 3)
        #expect(abs(backboneRates[0] - 0.005) < 1e-12)
        #expect(abs(backboneRates[1] - 0.01) < 1e-12)
        #expect(abs(backboneRates[2] - 0.02) < 1e-12)
    }

    /// With train_bn the backbone's batch norm trains from the start (in the first group); without
    /// it the batch norm stays frozen, and only the linear layer joins at the unfreeze.
    @Test(arguments: [true, false]) func batchNormFollowsTrainBN(trainBN: Bool) throws {
        let module = NormalizedBackboneClassifier(seed: 2)
        let trainer = try Trainer(finetuningOptions(maxEpochs: 2),
                                  callbacks: [BackboneFinetuning(unfreezeBackboneAtEpoch: 1, trainBN: trainBN)])
        try trainer.fit(module, data: try freshData())
        let groups = try #require(trainer.optimizer).paramGroups
        let names = Dictionary(module.namedParameters().map { (ObjectIdentifier($0.parameter), $0.name) }) { first, _ in first }
        let groupNames = groups.map { $0.parameters.compactMap { names[ObjectIdentifier($0)] } }
        if trainBN {
            #expect(groupNames == [["backbone.1.weight", "backbone.1.bias", "head.weight", "head.bias"], ["backbone.0.weight", "backbone.0.bias"]])
        } else {
            #expect(groupNames == [["head.weight", "head.bias"], ["backbone.0.weight", "backbone.0.bias"]])
        }
        let batchNorm = try #require(module.backbone[1] as? BatchNorm1d)
        #expect(batchNorm.weight?.isFrozen == !trainBN)
    }

    @Test func aMissingBackboneIsAConfigurationError() throws {
        let trainer = try Trainer(finetuningOptions(maxEpochs: 1), callbacks: [BackboneFinetuning(backbone: "encoder")])
        #expect(throws: TrainerError.invalidConfiguration(callback: "BackboneFinetuning",
                                                          reason: "the module has no parameters under 'encoder'")) {
            try trainer.fit(BackboneClassifier(seed: 1), data: try freshData())
        }
    }

    /// Unfrozen at epoch 1, saved mid-epoch 2 (step 12 of 5-batch epochs) and resumed with fresh
    /// objects: the param groups are rebuilt by name and the run ends byte-identical.
    @Test func resumeAfterTheUnfreezeIsBitExact() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step12.ckpt")

        let straight = BackboneClassifier(seed: 5)
        let straightFinetuning = BackboneFinetuning(unfreezeBackboneAtEpoch: 1, lambdaFunc: { _ in 1.5 })
        let straightTrainer = try Trainer(finetuningOptions(maxEpochs: 4), callbacks: [straightFinetuning])
        try straightTrainer.fit(straight, data: try freshData())

        try Trainer(finetuningOptions(maxEpochs: 4),
                    callbacks: [BackboneFinetuning(unfreezeBackboneAtEpoch: 1, lambdaFunc: { _ in 1.5 }), StopAndSave(step: 12, url: checkpoint)])
            .fit(BackboneClassifier(seed: 5), data: try freshData())
        let saved = try Checkpoint.load(checkpoint)
        guard case let .list(groups)? = saved["/callbacks/BackboneFinetuning/internal_optimizer_metadata/0"] else {
            Issue.record("no param-group metadata saved")
            return
        }
        #expect(groups.count == 2)
        guard case let .list(names)? = groups[1]["/params"] else {
            Issue.record("no parameter names in the backbone group")
            return
        }
        #expect(names.compactMap { if case let .string(name) = $0 { name } else { nil } } == ["backbone.weight", "backbone.bias"])

        let resumed = BackboneClassifier(seed: 77)
        let resumedFinetuning = BackboneFinetuning(unfreezeBackboneAtEpoch: 1, lambdaFunc: { _ in 1.5 })
        let resumedTrainer = try Trainer(finetuningOptions(maxEpochs: 4), callbacks: [resumedFinetuning])
        try resumedTrainer.fit(resumed, data: try freshData(), ckptPath: checkpoint)

        #expect(resumedTrainer.globalStep == straightTrainer.globalStep)
        #expect(weightBytes(resumed) == weightBytes(straight))
        #expect(resumedTrainer.optimizer?.stateDict() == straightTrainer.optimizer?.stateDict())
        #expect(resumedFinetuning.previousBackboneLR == straightFinetuning.previousBackboneLR)
        #expect(!resumed.backbone.weight.isFrozen)
    }

    @Test func registryBuildsItFromLightningArguments() throws {
        let callback = try CallbackRegistry().make(
            "BackboneFinetuning:unfreeze_backbone_at_epoch=3,lambda_func=1.5,backbone_initial_lr=0.01,should_align=false")
        let finetuning = try #require(callback as? BackboneFinetuning)
        #expect(finetuning.unfreezeBackboneAtEpoch == 3)
        #expect(finetuning.lambdaFunc(7) == 1.5)
        #expect(finetuning.backboneInitialLR == 0.01)
        #expect(!finetuning.shouldAlign)
    }
}

import CairnNN
import CairnTensor
import OrderedCollections
import Testing

/// Two nested levels, an optional bias and an array of children, to exercise reflection.
final class TinyNet: Module, @unchecked Sendable {
    let encoder: Sequential
    let bn: BatchNorm1d
    let heads: [Module]

    init(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        encoder = Sequential([Linear(3, 4, rng: &rng), ReLU(), Linear(4, 4, bias: false, rng: &rng)])
        bn = BatchNorm1d(4)
        heads = [Linear(4, 2, rng: &rng)]
        super.init()
    }

    override func forward(_ input: Tensor) -> Tensor { heads[0](bn(encoder(input))) }
}

func sameValues(_ a: OrderedDictionary<String, Tensor>, _ b: OrderedDictionary<String, Tensor>) -> Bool {
    a.keys.elementsEqual(b.keys) && zip(a.values, b.values).allSatisfy {
        $0.shape == $1.shape && $0.dtype == $1.dtype && $0.rawBytes == $1.rawBytes
    }
}

@Suite struct ModuleTests {
    @Test func namesFollowDeclarationAndTorchOrder() {
        let net = TinyNet(seed: 1)
        #expect(Array(net.stateDict().keys) == [
            "encoder.0.weight", "encoder.0.bias", "encoder.2.weight",
            "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
            "heads.0.weight", "heads.0.bias",
        ])
        #expect(net.namedParameters().map(\.name).count == 7)
        #expect(net.namedBuffers().map(\.name) == ["bn.running_mean", "bn.running_var", "bn.num_batches_tracked"])
        #expect(net.stateDict()["bn.num_batches_tracked"]?.dtype == .i64)
    }

    @Test func digitsModelKeysMatchTorchSequential() {
        #expect(Array(DigitsMLP().stateDict().keys) == [
            "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked",
            "4.weight", "4.bias",
        ])
    }

    @Test func strictLoadReportsEveryProblemAtOnceAndChangesNothing() throws {
        let net = TinyNet(seed: 1)
        let before = net.stateDict()
        var broken = TinyNet(seed: 2).stateDict()
        broken.removeValue(forKey: "bn.bias")
        broken["extra.weight"] = Tensor.zeros([2])
        broken["encoder.0.weight"] = Tensor.zeros([5, 3])
        let error = try #require(throws: StateDictError.self) { try net.loadStateDict(broken) }
        #expect(error.missing == ["bn.bias"])
        #expect(error.unexpected == ["extra.weight"])
        #expect(error.mismatched.map(\.key) == ["encoder.0.weight"])
        #expect(error.mismatched.first?.actualShape == [5, 3] && error.mismatched.first?.expectedShape == [4, 3])
        #expect(error.description.contains("bn.bias") && error.description.contains("extra.weight"))
        #expect(sameValues(net.stateDict(), before))
    }

    @Test func nonStrictLoadSkipsMissingButStillRejectsShapes() throws {
        let net = TinyNet(seed: 1)
        var partial = TinyNet(seed: 2).stateDict()
        partial.removeValue(forKey: "bn.bias")
        partial["unused"] = Tensor.zeros([1])
        try net.loadStateDict(partial, strict: false)
        #expect(net.stateDict()["encoder.0.weight"]?.scalars == partial["encoder.0.weight"]?.scalars)
        partial["bn.weight"] = Tensor.zeros([3])
        #expect(throws: StateDictError.self) { try net.loadStateDict(partial, strict: false) }
    }

    @Test func dtypeMismatchIsReported() {
        let net = TinyNet(seed: 1)
        var state = net.stateDict()
        state["bn.num_batches_tracked"] = Tensor(0)
        #expect(throws: StateDictError.self) { try net.loadStateDict(state) }
    }

    @Test func everyModuleRoundTripsItsStateDict() throws {
        func pair(_ make: (inout RandomGenerator) -> Module) -> (Module, Module) {
            var first = RandomGenerator(seed: 10), second = RandomGenerator(seed: 20)
            return (make(&first), make(&second))
        }
        let cases: [(Module, Module)] = [
            pair { Linear(3, 2, rng: &$0) },
            pair { Conv2d(2, 3, kernelSize: 3, padding: 1, rng: &$0) },
            pair { Embedding(5, 3, rng: &$0) },
            pair { _ in BatchNorm1d(3) }, pair { _ in BatchNorm2d(3) }, pair { _ in LayerNorm([4]) },
            pair { Sequential([Linear(3, 3, rng: &$0), GELU(), Dropout(p: 0.2), Tanh(), Sigmoid(), Flatten()]) },
            pair { Residual(Linear(3, 3, rng: &$0)) },
            (TinyNet(seed: 1), TinyNet(seed: 2)),
        ]
        for (source, target) in cases {
            // Make buffers differ too, so the load visibly changes them.
            if let batchNorm = source as? BatchNorm {
                batchNorm.runningMean.value = Tensor.full(batchNorm.runningMean.value.shape, value: 0.5)
                batchNorm.numBatchesTracked.value = Tensor(indices: [7], shape: [])
            }
            let saved = source.stateDict()
            try target.loadStateDict(saved)
            #expect(sameValues(target.stateDict(), saved), "\(type(of: source))")
            #expect(target.parameters().allSatisfy { $0.value.requiresGrad })
        }
    }

    @Test func sharedLayersAreSavedUnderEveryPathButTrainedOnce() throws {
        var rng = RandomGenerator(seed: 8)
        let shared = Linear(2, 2, rng: &rng)
        let model = Sequential([shared, ReLU(), shared])
        #expect(Array(model.stateDict().keys) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(model.namedParameters().map(\.name) == ["0.weight", "0.bias"])
        #expect(model.namedModules().count == 3)
        try model.loadStateDict(model.stateDict())
    }

    @Test func loadedTensorsAreNotSharedWithTheStateDict() throws {
        let source = TinyNet(seed: 1).stateDict()
        let first = TinyNet(seed: 2), second = TinyNet(seed: 3)
        try first.loadStateDict(source)
        try second.loadStateDict(source)
        first(Tensor.ones([2, 3])).sum().backward()
        #expect(source.values.allSatisfy { $0.grad == nil && !$0.requiresGrad })
        #expect(second.parameters().allSatisfy { $0.grad == nil })
    }

    @Test func trainEvalAndFreezeReachDescendants() {
        let net = TinyNet(seed: 3)
        net.eval()
        #expect(net.namedModules().allSatisfy { !$0.module.isTraining })
        net.train()
        #expect(net.bn.isTraining)
        net.encoder.freeze()
        #expect(net.trainableParameters().count == 4)
        #expect(net.encoder.parameters().allSatisfy { !$0.value.requiresGrad })
        let loss = net(Tensor.ones([2, 3])).sum()
        loss.backward()
        #expect(net.encoder.parameters().allSatisfy { $0.grad == nil })
        #expect(net.heads[0].parameters().allSatisfy { $0.grad != nil })
    }

    @Test func defaultInitStaysWithinTorchBounds() {
        var rng = RandomGenerator(seed: 4)
        let layer = Linear(100, 200, rng: &rng)
        let bound: Float = 0.1
        let weights = layer.weight.value.scalars
        #expect(weights.allSatisfy { abs($0) <= bound })
        // U(-b, b) has variance b²/3.
        let variance = weights.reduce(0) { $0 + $1 * $1 } / Float(weights.count)
        #expect(abs(variance - bound * bound / 3) < 0.0005)
        #expect(layer.bias!.value.scalars.allSatisfy { abs($0) <= bound })
        let conv = Conv2d(4, 8, kernelSize: 3, rng: &rng)
        #expect(conv.weight.value.scalars.allSatisfy { abs($0) <= 1 / Float(36).squareRoot() })
    }

    @Test func batchNormTracksUnbiasedRunningVarianceAndUsesItInEval() {
        let norm = BatchNorm1d(2)
        let input = Tensor(shape: [4, 2], scalars: [1, 10, 2, 20, 3, 30, 4, 40])
        let output = norm(input)
        // Column 0: mean 2.5, biased var 1.25, unbiased 5/3.
        #expect(abs(output.scalars[0] - (1 - 2.5) / (1.25 + 1e-5).squareRoot()) < 1e-5)
        #expect(abs(norm.runningMean.value.scalars[0] - 0.25) < 1e-6)
        #expect(abs(norm.runningVar.value.scalars[0] - (0.9 + 0.1 * 5 / 3)) < 1e-6)
        #expect(norm.numBatchesTracked.value.integers == [1])
        norm.eval()
        let evaluated = norm(input)
        #expect(abs(evaluated.scalars[0] - (1 - 0.25) / (norm.runningVar.value.scalars[0] + 1e-5).squareRoot()) < 1e-5)
        #expect(norm.numBatchesTracked.value.integers == [1])
    }

    @Test func dropoutMasksResumeFromTheRandomState() throws {
        let model = DigitsMLP(seed: 1)
        let input = Tensor.ones([4, 64])
        _ = model(input)
        let saved = model.randomStateDict()
        let expected = model(input).scalars
        let resumed = DigitsMLP(seed: 99)
        try resumed.loadStateDict(model.stateDict())
        try resumed.loadRandomStateDict(saved)
        #expect(resumed(input).scalars == expected)
        #expect(throws: StateValueError.missing(path: "random.3")) { try resumed.loadRandomStateDict(.dict([:])) }
    }

    @Test func dropoutIsIdentityInEval() {
        let dropout = Dropout(p: 0.5, seed: 1)
        let input = Tensor.ones([100])
        #expect(dropout(input).scalars.contains(0))
        dropout.eval()
        #expect(dropout(input).scalars == input.scalars)
    }

    @Test func summaryListsShapesCountsAndSize() {
        let net = TinyNet(seed: 5)
        net.heads[0].freeze()
        let summary = ModelSummary(net, sampleInput: Tensor.ones([6, 3]))
        #expect(summary.totalParameters == (12 + 4) + 16 + 8 + (8 + 2))
        #expect(summary.trainableParameters == summary.totalParameters - 10)
        #expect(summary.sizeInBytes == summary.totalParameters * 4 + 8 * 4 + 8)
        let head = summary.rows.first { $0.name == "heads.0" }
        #expect(head?.outputShape == [6, 2] && head?.isTrainable == false && head?.type == "Linear")
        #expect(summary.rows.first { $0.name == "encoder.1" }?.outputShape == [6, 4])
        #expect(summary.description.contains("encoder.0"))
    }
}

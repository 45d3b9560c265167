import CairnNN
import CairnTensor
import Testing

/// The sequence layers load torch's own state_dicts strictly (so every name and shape is
/// torch's) and give torch's outputs and gradients (Fixtures/torch-sequence.json).
@Suite struct TorchSequenceLayerTests {
    static let cases = TorchFixture.sequence["cases"].array

    @Test func fixtureHasEveryLayer() {
        #expect(Set(Self.cases.map { $0["config"]["layer"].string }) == ["mha", "encoder", "decoder", "rmsnorm", "lstm", "gru"])
    }

    /// The layer a case describes, and how to run it on an input.
    static func make(_ config: JSONValue) -> (Module, (Module, Tensor) -> [Tensor])? {
        var rng = RandomGenerator(seed: 0)
        func integer(_ key: String) -> Int { config[key].number.isNaN ? 0 : Int(config[key].number) }
        let embed = integer("embed"), heads = integer("heads")
        let batchFirst = config["batch_first"].isTrue
        let causal = integer("causal") > 0 ? MultiheadAttention.causalMask(integer("causal")) : nil
        let padding = config["padding"]["shape"].ints.isEmpty ? nil : config["padding"].tensor.to(.bool)
        switch config["layer"].string {
        case "mha":
            let layer = MultiheadAttention(embedDim: embed, numHeads: heads, batchFirst: batchFirst, rng: &rng)
            return (layer, { module, x in
                let result = (module as? MultiheadAttention)?.attend(query: x, key: x, value: x, keyPaddingMask: padding,
                                                                      attentionMask: causal, needWeights: causal != nil)
                return [result?.output, result?.weights].compactMap { $0 }
            })
        case "encoder":
            let layer = TransformerEncoderLayer(dModel: embed, nhead: heads, dimFeedforward: integer("feedforward"), dropout: 0,
                                                activation: TransformerActivation(rawValue: config["activation"].string) ?? .relu,
                                                batchFirst: batchFirst, normFirst: config["norm_first"].isTrue, rng: &rng)
            return (layer, { module, x in
                [(module as? TransformerEncoderLayer)?.encode(x, attentionMask: causal, keyPaddingMask: padding)].compactMap { $0 }
            })
        case "decoder":
            let layer = TransformerDecoderLayer(dModel: embed, nhead: heads, dimFeedforward: integer("feedforward"), dropout: 0,
                                                batchFirst: batchFirst, normFirst: config["norm_first"].isTrue, rng: &rng)
            let memory = config["memory"].tensor
            return (layer, { module, x in
                [(module as? TransformerDecoderLayer)?.decode(x, memory: memory, targetMask: causal)].compactMap { $0 }
            })
        case "lstm", "gru":
            let layers = RecurrentLayers(config["layer"].string == "lstm" ? .lstm : .gru, inputSize: integer("input"),
                                         hiddenSize: integer("hidden"), numLayers: integer("layers"), batchFirst: batchFirst, rng: &rng)
            return (layers, { module, x in
                guard let result = (module as? RecurrentLayers)?.run(x) else { return [] }
                return [result.output, result.h, result.c].compactMap { $0 }
            })
        case "rmsnorm":
            return (RMSNorm(config["shape"].ints), { module, x in [module(x)] })
        default:
            return nil
        }
    }

    @Test(arguments: cases.indices)
    func matchesTorch(_ which: Int) throws {
        let fixture = Self.cases[which]
        let name = fixture["name"].string
        let (layer, run) = try #require(Self.make(fixture["config"]), "\(name): unknown layer")
        try layer.loadStateDict(fixture["state"].stateDict)
        let input = fixture["input"].tensor
        input.requiresGrad = true
        let outputs = run(layer, input)
        #expect(outputs.count == fixture["outputs"].array.count, "\(name): outputs")
        for (index, (output, expected)) in zip(outputs, fixture["outputs"].array).enumerated() {
            expectClose(output, expected, "\(name) output \(index)")
        }
        guard let first = outputs.first else { return }
        (first * fixture["upstream"].tensor).sum().backward()
        expectClose(try #require(input.grad), fixture["input_gradient"], "\(name) input gradient")
        for (key, parameter) in layer.namedParameters() {
            expectClose(try #require(parameter.grad, "\(name) \(key): no gradient"), fixture["parameter_gradients"][key], "\(name) \(key) gradient")
        }
    }

    func expectClose(_ actual: Tensor, _ expected: JSONValue, _ label: String) {
        #expect(actual.shape == expected["shape"].ints, "\(label): shape \(actual.shape)")
        let ratio = TorchFixture.toleranceRatio(actual.scalars, expected["values"].floats, atol: 1e-5, rtol: 1e-4)
        #expect(ratio <= 1, "\(label): \(ratio)× tolerance")
    }
}

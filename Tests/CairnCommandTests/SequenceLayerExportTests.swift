import Cairn
import CairnTestSupport
import Foundation
import OrderedCollections
import Testing

/// State dicts exported from Cairn's sequence layers load into torch's own modules with
/// `strict=True` and give Cairn's outputs (`tools/python-interop/sequence_parity.py`).
@Suite struct SequenceLayerExportTests {
    /// One exported case: the torch module's configuration, the Cairn layer's state, an input and Cairn's output.
    static func exported(_ config: [String: CheckpointValue], _ module: Module, input: Tensor, output: Tensor) -> CheckpointValue {
        var state = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for (name, tensor) in module.stateDict() { state[.string(name)] = .tensor(CheckpointTensor(tensor)) }
        var configuration = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for (key, value) in config.sorted(by: { $0.key < $1.key }) { configuration[.string(key)] = value }
        return .dictionary(["config": .dictionary(configuration), "state_dict": .dictionary(state),
                            "input": .tensor(CheckpointTensor(input)), "output": .tensor(CheckpointTensor(output))])
    }

    @Test(.enabled(if: InteropPython.isAvailable, Comment(rawValue: InteropPython.skipMessage)))
    func exportedStateDictsLoadStrictlyIntoTorchModulesWithTheSameOutputs() throws {
        var rng = RandomGenerator(seed: 11)
        let x = Tensor.randn([2, 5, 8], rng: &rng)
        let sequence = Tensor.randn([2, 4, 3], rng: &rng)
        var cases = OrderedDictionary<CheckpointKey, CheckpointValue>()

        let attention = MultiheadAttention(embedDim: 8, numHeads: 2, batchFirst: true, rng: &rng)
        cases["multihead_attention"] = Self.exported(["layer": .string("mha"), "embed": .int(8), "heads": .int(2), "batch_first": .bool(true)],
                                                     attention, input: x, output: attention(x))
        for (normFirst, activation) in [(false, TransformerActivation.relu), (true, .gelu)] {
            let layer = TransformerEncoderLayer(dModel: 8, nhead: 2, dimFeedforward: 16, dropout: 0, activation: activation,
                                                batchFirst: true, normFirst: normFirst, rng: &rng)
            cases[.string("encoder_\(activation.rawValue)\(normFirst ? "_pre_norm" : "")")] = Self.exported(
                ["layer": .string("encoder"), "embed": .int(8), "heads": .int(2), "feedforward": .int(16),
                 "activation": .string(activation.rawValue), "norm_first": .bool(normFirst)], layer, input: x, output: layer(x))
        }
        let lstm = LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, batchFirst: true, rng: &rng)
        let gru = GRU(inputSize: 3, hiddenSize: 5, numLayers: 2, batchFirst: true, rng: &rng)
        for (name, layer) in [("lstm", lstm as RecurrentLayers), ("gru", gru)] {
            cases[.string(name)] = Self.exported(["layer": .string(name), "input": .int(3), "hidden": .int(5), "layers": .int(2)],
                                                 layer, input: sequence, output: layer(sequence))
        }

        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let file = scratch.file("sequence-layers.pt")
        try TorchCheckpoint.write(.dictionary(cases), to: file, lightning: false)
        let differences = try #require(try InteropPython.runJSON("sequence_parity.py", [file.path]) as? [String: Double])
        #expect(Set(differences.keys) == Set(cases.keys.map(\.description)))
        for (name, difference) in differences {
            #expect(difference <= 1e-5, "\(name): torch and Cairn differ by \(difference)")
        }
    }
}

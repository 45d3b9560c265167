import Cairn
import CairnTestSupport
import Foundation
import OrderedCollections
import Testing

/// The transformer language model of `tools/python-interop/sequence_training_parity.py`, under torch's names.
final class ParityTransformerLM: Module, @unchecked Sendable {
    let embedding: Embedding
    let positions: Embedding
    let blocks: [TransformerEncoderLayer]
    let norm: LayerNorm
    let head: Linear

    init(vocabulary: Int, rng: inout RandomGenerator) {
        embedding = Embedding(vocabulary, 64, rng: &rng)
        positions = Embedding(64, 64, rng: &rng)
        blocks = (0..<2).map { _ in
            TransformerEncoderLayer(dModel: 64, nhead: 4, dimFeedforward: 256, dropout: 0, activation: .gelu,
                                    batchFirst: true, normFirst: true, rng: &rng)
        }
        norm = LayerNorm([64])
        head = Linear(tying: embedding.weight)
        super.init()
    }

    override func forward(_ tokens: Tensor) -> Tensor {
        let length = tokens.shape[1]
        var x = embedding(tokens) + positions(Tensor(indices: Array(0..<length)))
        let mask = MultiheadAttention.causalMask(length)
        for block in blocks { x = block.encode(x, attentionMask: mask) }
        return head(norm(x))
    }
}

/// The LSTM language model of the same script.
final class ParityLSTMLM: Module, @unchecked Sendable {
    let embedding: Embedding
    let lstm: LSTM
    let head: Linear

    init(vocabulary: Int, rng: inout RandomGenerator) {
        embedding = Embedding(vocabulary, 32, rng: &rng)
        lstm = LSTM(inputSize: 32, hiddenSize: 64, numLayers: 2, batchFirst: true, rng: &rng)
        head = Linear(64, vocabulary, rng: &rng)
        super.init()
    }

    override func forward(_ tokens: Tensor) -> Tensor { head(lstm(embedding(tokens))) }
}

/// A transformer and an LSTM language model start from torch's weights moved through
/// `ckpt-inspect convert`, train 50 AdamW steps on the same batches as torch with the same
/// losses, and their final weights, converted back, load into torch's modules strictly.
@Suite struct SequenceTrainingParityTests {
    static let vocabulary = 40
    static let steps = 50

    /// Ten [4, 64] windows of a seeded token stream, and their next-token targets.
    static func batches() throws -> [Batch] {
        var rng = RandomGenerator(seed: 21)
        // A stream with structure to learn: mostly the previous token plus one, sometimes random.
        var tokens: [Int64] = [0]
        for _ in 0..<2_700 {
            tokens.append(rng.nextUniform() < 0.8 ? (tokens[tokens.count - 1] + 1) % Int64(vocabulary) : Int64(rng.nextInt(below: vocabulary)))
        }
        let loader = DataLoader(try TokenWindowDataset(tokens: tokens, window: 64), batchSize: 4, shuffle: true, seed: 3)
        return Array(try loader.epochBatches().prefix(10))
    }

    static func stateDict(_ tree: CheckpointValue?, _ name: String) throws -> OrderedDictionary<String, Tensor> {
        guard case let .dictionary(entries)? = tree else { throw CocoaError(.fileReadCorruptFile) }
        var state = OrderedDictionary<String, Tensor>()
        for (key, value) in entries {
            guard case let .tensor(tensor) = value else { continue }
            state[key.description] = try Tensor(tensor, name: "\(name).\(key)")
        }
        return state
    }

    static func tree(_ module: Module) -> CheckpointValue {
        var state = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for (name, tensor) in module.stateDict() { state[.string(name)] = .tensor(CheckpointTensor(tensor)) }
        return .dictionary(state)
    }

    @Test(.enabled(if: InteropPython.isAvailable, Comment(rawValue: InteropPython.skipMessage)))
    func bothModelsTrainLikeTorchAndExportBack() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.cleanUp() }
        let initial = scratch.file("init.pt"), converted = scratch.file("init.ckpt")
        let made = try InteropPython.run("sequence_training_parity.py", ["init", initial.path])
        try #require(made.status == 0, "\(made.stderr)")
        let convert = try TorchParityTests.ckptInspect.run(["convert", initial.path, converted.path, "--to", "cairn"])
        try #require(convert.status == 0, "\(convert.stderr)")

        var rng = RandomGenerator(seed: 99)
        let transformer = ParityTransformerLM(vocabulary: Self.vocabulary, rng: &rng)
        let lstm = ParityLSTMLM(vocabulary: Self.vocabulary, rng: &rng)
        let start = try Checkpoint.open(converted).tree()
        try transformer.loadStateDict(try Self.stateDict(start["transformer"], "transformer"))
        try lstm.loadStateDict(try Self.stateDict(start["lstm"], "lstm"))

        let batches = try Self.batches()
        var json: [String: [String: [[[Int64]]]]] = [:]
        for name in ["transformer", "lstm"] {
            json[name] = ["tokens": try batches.map { try rows($0.tensor("tokens")) },
                          "targets": try batches.map { try rows($0.tensor("targets")) }]
        }
        let batchFile = scratch.file("batches.json")
        try JSONSerialization.data(withJSONObject: json).write(to: batchFile)

        var cairnLosses: [String: [Double]] = [:]
        for (name, model) in [("transformer", transformer as Module), ("lstm", lstm)] {
            let optimizer = AdamW(model.parameters(), lr: 3e-3, weightDecay: 0.1)
            var losses: [Double] = []
            for step in 0..<Self.steps {
                let batch = batches[step % batches.count]
                optimizer.zeroGrad()
                let loss = Loss.sequenceCrossEntropy(model(try batch.tensor("tokens")), try batch.tensor("targets"))
                loss.backward()
                optimizer.step()
                losses.append(Double(loss.item))
            }
            cairnLosses[name] = losses
        }
        let torchLosses = try #require(try InteropPython.runJSON("sequence_training_parity.py",
                                                                  ["train", initial.path, batchFile.path, String(Self.steps)]) as? [String: [Double]])
        for name in ["transformer", "lstm"] {
            let ours = cairnLosses[name] ?? [], theirs = torchLosses[name] ?? []
            #expect(ours.count == Self.steps && theirs.count == Self.steps, "\(name)")
            let worst = zip(ours, theirs).map { abs($0 - $1) / abs($1) }.max() ?? .infinity
            print("sequence training parity, \(name): loss \(theirs.first ?? 0) → \(theirs.last ?? 0) in torch, largest relative difference \(worst)")
            #expect(worst <= 1e-4, "\(name): losses differ by \(worst) relative; Cairn \(ours.last ?? 0), torch \(theirs.last ?? 0)")
            #expect((ours.last ?? 0) < (ours.first ?? 0), "\(name) did not learn")
        }

        let final = scratch.file("final.ckpt"), exported = scratch.file("final.pt")
        try Checkpoint.save(.dictionary(["transformer": Self.tree(transformer), "lstm": Self.tree(lstm)]), to: final)
        let back = try TorchParityTests.ckptInspect.run(["convert", final.path, exported.path, "--to", "torch"])
        try #require(back.status == 0, "\(back.stderr)")
        let loaded = try InteropPython.runJSON("sequence_training_parity.py", ["load", exported.path]) as? [String: [String]]
        #expect(loaded?["loaded"] == ["transformer", "lstm"])

        // The tied weight is one tensor: one storage in a torch export, as torch.save writes it.
        let tied = scratch.file("tied.pt")
        try TorchCheckpoint.write(Self.tree(transformer), to: tied, lightning: false)
        let storages = try InteropPython.runJSON("roundtrip.py", ["torch-storages", tied.path]) as? [String: Int]
        #expect(storages?["/embedding.weight"] != nil && storages?["/embedding.weight"] == storages?["/head.weight"])
        #expect(Set(storages?.values.map { $0 } ?? []).count == transformer.parameters().count)
    }
}

/// The rows of a `[B, T]` integer tensor.
private func rows(_ tensor: Tensor) throws -> [[Int64]] {
    let values = tensor.integers, width = tensor.shape[1]
    return (0..<tensor.shape[0]).map { Array(values[($0 * width)..<(($0 + 1) * width)]) }
}

import CairnNN
import CairnTensor
import Foundation
import Testing

// The SequenceModels article's example is this file's two marked parts, compiled and run here.

// article:part1
final class TinyLanguageModel: Module, @unchecked Sendable {
    let embedding: Embedding
    let positions: PositionalEmbedding
    let blocks: [TransformerEncoderLayer]
    let norm: LayerNorm
    let head: Linear

    init(vocabulary: Int, width: Int, heads: Int, layers: Int, context: Int, rng: inout RandomGenerator) {
        embedding = Embedding(vocabulary, width, rng: &rng)
        positions = PositionalEmbedding(maxLength: context, dimension: width, rng: &rng)
        blocks = (0..<layers).map { _ in
            TransformerEncoderLayer(dModel: width, nhead: heads, dimFeedforward: 4 * width, dropout: 0.1,
                                    activation: .gelu, batchFirst: true, normFirst: true, rng: &rng)
        }
        norm = LayerNorm([width])
        head = Linear(tying: embedding.weight)
        super.init()
    }

    /// Logits [B, T, V] for token ids [B, T].
    override func forward(_ tokens: Tensor) -> Tensor {
        let mask = MultiheadAttention.causalMask(tokens.shape[1])
        var x = positions(embedding(tokens))
        for block in blocks { x = block.encode(x, attentionMask: mask) }
        return head(norm(x))
    }
}
// article:end

@Suite struct SequenceModelArticleTests {
    @Test func theArticleExampleIsThisCodeAndTrains() throws {
        // article:part2
        var rng = RandomGenerator(seed: 0)
        let model = TinyLanguageModel(vocabulary: 20, width: 16, heads: 2, layers: 2, context: 8, rng: &rng)
        let tokens = Tensor(indices: (0..<16).map { $0 % 20 }, shape: [2, 8])
        let targets = Tensor(indices: (0..<16).map { ($0 + 1) % 20 }, shape: [2, 8])
        let loss = Loss.sequenceCrossEntropy(model(tokens), targets, labelSmoothing: 0.1)
        loss.backward()
        // article:end
        #expect(model(tokens).shape == [2, 8, 20])
        #expect(loss.item.isFinite && loss.item > 0)
        // Tied: one parameter, updated once, saved under both names.
        #expect(model.parameters().filter { $0 === model.embedding.weight }.count == 1)
        #expect(model.stateDict()["head.weight"]?.scalars == model.stateDict()["embedding.weight"]?.scalars)
        #expect(model.embedding.weight.value.grad != nil)
        #expect(Array(model.stateDict().keys).contains("blocks.1.self_attn.in_proj_weight"))

        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let first = source.components(separatedBy: "// article:part1\n")[1].components(separatedBy: "// article:end")[0]
        let second = source.components(separatedBy: "// article:part2\n")[1].components(separatedBy: "        // article:end")[0]
        let dedented = second.split(separator: "\n", omittingEmptySubsequences: false).map { $0.dropFirst(8) }.joined(separator: "\n")
        let article = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/CairnNN/Documentation.docc/SequenceModels.md"), encoding: .utf8)
        #expect(article.contains("```swift\n" + first + "\n" + dedented + "```"), "the article's example differs from this test's code")
    }
}

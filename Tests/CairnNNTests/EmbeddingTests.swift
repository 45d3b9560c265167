import CairnNN
import CairnTensor
import Foundation
import Testing

@Suite struct EmbeddingTests {
    @Test func integerTokenIdsLookUpRows() {
        var rng = RandomGenerator(seed: 3)
        let embedding = Embedding(5, 3, rng: &rng)
        let output = embedding(Tensor(indices: [4, 0, 4], shape: [1, 3]))
        #expect(output.shape == [1, 3, 3])
        let table = embedding.weight.value.scalars
        #expect(Array(output.scalars[0..<3]) == Array(table[12..<15]))
        #expect(Array(output.scalars[3..<6]) == Array(table[0..<3]))
    }

    /// torch raises on float indices; silently truncating 2.7 to token 2 would train on wrong ids.
    @Test func floatTokenIdsStopNamingTheDType() async throws {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            var rng = RandomGenerator(seed: 3)
            _ = Embedding(5, 3, rng: &rng)(Tensor(shape: [2], scalars: [2.7, 1]))
        }
        let message = String(decoding: try #require(result).standardErrorContent, as: UTF8.self)
        #expect(message.contains("Embedding: token ids must be an integer tensor"))
        #expect(message.contains("got F32"))
    }
}

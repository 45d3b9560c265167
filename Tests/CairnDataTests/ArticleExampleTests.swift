import CairnData
import CairnTensor
import Foundation
import Testing

/// The CairnData article's example is this file's code between the markers, compiled and run
/// here; the test fails when the two drift apart.
@Suite struct DataArticleExampleTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// The article's relative path, resolved here without changing the whole test process's directory.
    static let digitsCSV = repository.appendingPathComponent("Fixtures/digits.csv").path

    @Test func theArticleExampleIsThisCodeAndRuns() throws {
        // article:begin
        let data = try CSVDataset(contentsOfFile: Self.digitsCSV).scaled(by: 1 / 16)
        let splits = data.split(validationFraction: 0.1, testFraction: 0.2, seed: 42)
        let loader = DataLoader(splits.train, batchSize: 64, shuffle: true, seed: 7)
        while let batch = try loader.nextBatch() {
            let pixels = try batch.tensor("features")  // [64, 64] F32
            let digits = try batch.tensor("target")    // [64] I64
            _ = (pixels, digits)
        }

        let text = try TokenWindowDataset(tokens: [5, 1, 4, 1, 5, 9, 2, 6, 5, 3], window: 4, stride: 2)
        let windows = DataLoader(text, batchSize: 2, shuffle: false)
        let first = try windows.nextBatch()            // tokens and targets: [2, 4] I64
        // article:end
        #expect(loader.epoch == 1)
        #expect(first?["tokens"]?.shape == [2, 4] && first?["targets"]?.integers == [1, 4, 1, 5, 1, 5, 9, 2])

        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        let marked = source.components(separatedBy: "// article:begin\n")[1].components(separatedBy: "        // article:end")[0]
        let code = marked.split(separator: "\n", omittingEmptySubsequences: false).map { $0.dropFirst(8) }.joined(separator: "\n")
            .replacingOccurrences(of: "Self.digitsCSV", with: "\"Fixtures/digits.csv\"")
        let article = try String(contentsOf: Self.repository.appendingPathComponent("Sources/CairnData/Documentation.docc/CairnData.md"), encoding: .utf8)
        #expect(article.contains("```swift\n" + code + "```"), "the article's example differs from this test's code")
    }
}

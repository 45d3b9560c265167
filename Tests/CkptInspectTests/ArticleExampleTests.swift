import CairnTestSupport
import Foundation
import Testing

/// The examples of the `ckpt-inspect` article that use the repository's own fixtures are run
/// as written, and their output must match the article's line for line.
@Suite struct ArticleExampleTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
    static let article = repository.appendingPathComponent("Sources/CkptInspect/Documentation.docc/ckpt-inspect.md")

    /// One `$ ckpt-inspect …` line and the output printed under it.
    struct Example {
        var arguments: [String]
        var output: String
    }

    /// The code blocks whose first command names a file under `Fixtures/`.
    static func fixtureBlocks() throws -> [[Example]] {
        let text = try String(contentsOf: article, encoding: .utf8)
        var blocks: [[Example]] = []
        var inBlock = false
        var current: [Example] = []
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("```") {
                if inBlock, let first = current.first, first.arguments.contains(where: { $0.hasPrefix("Fixtures/") }) {
                    blocks.append(current)
                }
                inBlock.toggle()
                current = []
            } else if inBlock, line.hasPrefix("$ ckpt-inspect ") {
                current.append(Example(arguments: line.dropFirst("$ ckpt-inspect ".count).split(separator: " ").map(String.init), output: ""))
            } else if inBlock, !current.isEmpty {
                current[current.count - 1].output += (current[current.count - 1].output.isEmpty ? "" : "\n") + line
            }
        }
        return blocks
    }

    @Test func fixtureExamplesPrintWhatTheArticleShows() throws {
        let blocks = try Self.fixtureBlocks()
        #expect(blocks.count >= 2, "the article's fixture examples were not found")
        for block in blocks {
            let scratch = try ScratchDirectory()
            defer { scratch.cleanUp() }
            try FileManager.default.createSymbolicLink(at: scratch.file("Fixtures"), withDestinationURL: Self.repository.appendingPathComponent("Fixtures"))
            for example in block {
                let result = try Inspector.executable.run(example.arguments + ["--no-color"], currentDirectory: scratch.url)
                #expect(result.stderr.isEmpty, "\(example.arguments): \(result.stderr)")
                #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == example.output.trimmingCharacters(in: .whitespacesAndNewlines),
                        "ckpt-inspect \(example.arguments.joined(separator: " "))")
            }
        }
    }
}

import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

@Suite struct PredictionWriterTests {
    /// 10 rows in batches of 4 (4, 4, 2) of TinyClassifier's two logits.
    static func predict(with writer: PredictionWriter) throws -> [Tensor] {
        let data = LoaderDataModule(predict: DataLoader(try syntheticDataset(rows: 10), batchSize: 4, shuffle: false))
        return try Trainer(quietOptions(), callbacks: [writer]).predict(TinyClassifier(seed: 7), data: data)
    }

    /// The CSV's cells after the header, as numbers, and the header.
    static func table(_ url: URL) throws -> (header: String, rows: [[Float]]) {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        return (lines[0], lines.dropFirst().map { $0.split(separator: ",").map { Float(String($0)) ?? .nan } })
    }

    @Test func epochFileRowsEqualThePredictions() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = PredictionWriter(outputDirectory: directory.appendingPathComponent("out"), writeInterval: .epoch)
        let predictions = try Self.predict(with: writer)
        let (header, rows) = try Self.table(writer.epochFileURL)
        #expect(header == "row,output_0,output_1")
        let expected = predictions.flatMap { PredictionWriter.rows(of: $0) }
        #expect(expected.count == 10)
        #expect(rows.map { Array($0.dropFirst()) } == expected)
        #expect(rows.map { Int($0[0]) } == Array(0..<10))
        #expect(!FileManager.default.fileExists(atPath: writer.batchFileURL.path))
    }

    @Test func batchFileGrowsPerBatchAndBothIntervalsAgree() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = PredictionWriter(outputDirectory: directory, writeInterval: .batchAndEpoch)
        let predictions = try Self.predict(with: writer)
        let (header, rows) = try Self.table(writer.batchFileURL)
        #expect(header == "batch_index,row,output_0,output_1")
        #expect(rows.map { Int($0[0]) } == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
        #expect(rows.map { Int($0[1]) } == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1])
        #expect(rows.map { Array($0.dropFirst(2)) } == predictions.flatMap { PredictionWriter.rows(of: $0) })
        #expect(try Self.table(writer.epochFileURL).rows.map { Array($0.dropFirst()) } == rows.map { Array($0.dropFirst(2)) })

        // A second run replaces the file rather than appending to it.
        _ = try Self.predict(with: writer)
        #expect(try Self.table(writer.batchFileURL).rows.count == 10)
    }

    @Test func unwritableFolderIsATypedErrorNamingThePath() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let blocker = directory.appendingPathComponent("file")
        FileManager.default.createFile(atPath: blocker.path, contents: Data("x".utf8))
        let writer = PredictionWriter(outputDirectory: blocker.appendingPathComponent("sub"))
        #expect {
            try Self.predict(with: writer)
        } throws: { error in
            guard case let PredictionWriterError.cannotWrite(path, _) = error else { return false }
            return path.hasSuffix("file/sub")
        }
    }

    @Test func registryBuildsTheWriter() throws {
        let writer = try #require(try CallbackRegistry().make("PredictionWriter:output_dir=/tmp/x,write_interval=batch_and_epoch") as? PredictionWriter)
        #expect(writer.writeInterval == .batchAndEpoch && writer.outputDirectory.path == "/tmp/x")
        #expect(throws: CallbackSpecError.self) { try CallbackRegistry().make("PredictionWriter:write_interval=never") }
    }
}

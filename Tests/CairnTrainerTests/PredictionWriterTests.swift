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

    /// The SQLite tables, read back by the `sqlite3` program, hold exactly the predictions.
    @Test func sqliteTablesHoldThePredictions() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") else {
            print("skipping sqliteTablesHoldThePredictions: /usr/bin/sqlite3 is not installed")
            return
        }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let writer = PredictionWriter(outputDirectory: directory, writeInterval: .batchAndEpoch, format: .sqlite)
        let predictions = try Self.predict(with: writer)
        _ = try Self.predict(with: writer)  // A second run starts the file afresh.
        func query(_ sql: String) throws -> [[Float]] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
            // Seventeen significant digits print every Double, hence every Float, exactly.
            process.arguments = ["-csv", writer.databaseURL.path, sql]
            let out = Pipe()
            process.standardOutput = out
            try process.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.split(separator: ",").map { Float(String($0)) ?? .nan } }
        }
        let expected = predictions.flatMap { PredictionWriter.rows(of: $0) }
        let epoch = try query("SELECT row, printf('%.17g', output_0), printf('%.17g', output_1) FROM predictions ORDER BY row")
        #expect(epoch.map { Array($0.dropFirst()) } == expected)
        #expect(epoch.map { Int($0[0]) } == Array(0..<10))
        let batches = try query("SELECT batch_index, row, printf('%.17g', output_0), printf('%.17g', output_1) FROM batch_predictions ORDER BY rowid")
        #expect(batches.map { Array($0.dropFirst(2)) } == expected)
        #expect(batches.map { Int($0[0]) } == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
        #expect(!FileManager.default.fileExists(atPath: writer.epochFileURL.path))
    }

    @Test func registryBuildsTheWriter() throws {
        let writer = try #require(try CallbackRegistry().make("PredictionWriter:output_dir=/tmp/x,write_interval=batch_and_epoch") as? PredictionWriter)
        #expect(writer.writeInterval == .batchAndEpoch && writer.outputDirectory.path == "/tmp/x" && writer.format == .csv)
        #expect((try CallbackRegistry().make("PredictionWriter:format=sqlite") as? PredictionWriter)?.format == .sqlite)
        #expect(throws: CallbackSpecError.self) { try CallbackRegistry().make("PredictionWriter:write_interval=never") }
    }
}

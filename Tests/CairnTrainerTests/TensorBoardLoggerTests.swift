import CairnCheckpoint
@testable import CairnTrainer
import Foundation
import Testing

/// The repository's `tools/python-interop/<name>`.
func pythonInteropTool(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../tools/python-interop/\(name)").standardized
}

/// Runs a program; its exit status, standard output and standard error.
func runTool(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    // Read before waiting: a full pipe would block the child.
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
}

let python3Available = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
    || FileManager.default.isExecutableFile(atPath: "/usr/local/bin/python3")

/// What `read_tensorboard.py` found in a run folder.
struct TensorBoardReadBack: Decodable {
    var records: [String: Int]
    var fileVersion: Double
    var scalars: [String: [[Double]]]
    var text: [String: [[TextCell]]]
    var hparams: [String: HyperparameterCell]

    enum CodingKeys: String, CodingKey { case records, fileVersion = "file_version", scalars, text, hparams }

    /// A `[step, text]` pair's cell.
    enum TextCell: Decodable, Equatable {
        case step(Int), text(String)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let step = try? container.decode(Int.self) { self = .step(step) } else { self = .text(try container.decode(String.self)) }
        }
    }

    /// A hyper-parameter as the hparams plugin holds it.
    enum HyperparameterCell: Decodable, Equatable {
        case number(Double), text(String), flag(Bool)
        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let flag = try? container.decode(Bool.self) {
                self = .flag(flag)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else {
                self = .text(try container.decode(String.self))
            }
        }
    }

    /// Reads `runDirectory` with the venv's tensorboard (installed by `ensure-venv.sh`).
    static func read(_ runDirectory: URL) throws -> TensorBoardReadBack {
        let venv = try runTool("/bin/sh", [pythonInteropTool("ensure-venv.sh").path])
        try #require(venv.status == 0, "ensure-venv.sh failed: \(venv.errors)")
        let python = venv.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let result = try runTool(python, [pythonInteropTool("read_tensorboard.py").path, runDirectory.path])
        try #require(result.status == 0, "read_tensorboard.py failed: \(result.errors)")
        return try JSONDecoder().decode(TensorBoardReadBack.self, from: Data(result.output.utf8))
    }
}

@Suite struct TensorBoardLoggerTests {
    /// Known CRC-32C values: the classic check string and RFC 3720's iSCSI test patterns.
    @Test func crc32cMatchesKnownVectors() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
        let crc: UInt32 = 0xE306_9283
        #expect(CRC32C.masked(Array("123456789".utf8)) == ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8)
    }

    /// Protocol-buffers encodings from the format's documentation: 150 as a varint field 1, a
    /// string field 2, a negative int64 in ten bytes.
    @Test func protobufFieldsEncodeAsDocumented() {
        var message = ProtobufMessage()
        message.int(1, 150)
        #expect(message.bytes == [0x08, 0x96, 0x01])
        message = ProtobufMessage()
        message.string(2, "testing")
        #expect(message.bytes == [0x12, 0x07] + Array("testing".utf8))
        message = ProtobufMessage()
        message.int(2, -1)
        #expect(message.bytes == [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        message = ProtobufMessage()
        message.float(2, 1)
        #expect(message.bytes == [0x15, 0x00, 0x00, 0x80, 0x3F])
        #expect(TFRecord.frame([]) == [UInt8](repeating: 0, count: 8) + TFRecord.littleEndianBytes(CRC32C.masked([UInt8](repeating: 0, count: 8)))
            + TFRecord.littleEndianBytes(CRC32C.masked([UInt8]())))
    }

    /// The hparams plugin shows scalars only: nested names are joined with `/`, the rest is text.
    @Test func hyperparametersFlattenForThePlugin() {
        var flat: [(name: String, value: TensorBoardEvent.HyperparameterValue)] = []
        TensorBoardLogger.flatten(.dictionary(["optimizer": .dictionary(["lr": .double(0.1), "name": .string("adam")]),
                                               "layers": .list([.int(8), .int(4)]), "seed": .null, "shuffle": .bool(true)]),
                                  name: "", into: &flat)
        #expect(flat.map(\.name) == ["optimizer/lr", "optimizer/name", "layers", "seed", "shuffle"])
        #expect(flat.map(\.value) == [.number(0.1), .string("adam"), .string("[8, 4]"), .string("None"), .bool(true)])
    }

    /// The read-back test: a fit logging to a TensorBoardLogger and a CSVLogger, plus a text
    /// entry; TensorBoard's reader checks every record's CRCs and finds the CSV's values as
    /// float32 scalars at the same steps, the hyper-parameters and the text.
    @Test(.enabled(if: python3Available, "python3 is missing: the TensorBoard read-back test needs it"))
    func tensorboardReadsTheEventFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let board = TensorBoardLogger(saveDirectory: directory), table = CSVLogger(saveDirectory: directory.appendingPathComponent("csv"))
        let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 1, logEveryNSteps: 2, enableCheckpointing: false)
        try Trainer(options, loggers: [board, table]).fit(TinyClassifier(seed: 1), data: try freshData())
        try board.logText("Résumé: *two* epochs, 10 steps", tag: "notes", step: 10)
        try board.finalize(status: LoggerStatus.success)

        let eventFile = try #require(board.eventFile)
        #expect(eventFile.lastPathComponent.hasPrefix("events.out.tfevents."))
        #expect(eventFile.deletingLastPathComponent().lastPathComponent == "version_0")
        let readBack = try TensorBoardReadBack.read(try #require(board.logDirectory))
        #expect(readBack.fileVersion == 2)  // EventAccumulator keeps the number of "brain.Event:2"
        let csv = try CSVTable(contentsOf: table.metricsFile)
        var expected: [String: [[Double]]] = [:]
        for row in csv.rows {
            let step = try #require(Double(row[1]))
            for (column, cell) in zip(csv.header, row) where column != "step" && !cell.isEmpty {
                expected[column, default: []].append([step, Double(Float(try #require(Double(cell))))])
            }
        }
        #expect(readBack.scalars == expected)
        #expect(readBack.scalars["train_loss"]?.map { $0[0] } == [1, 3, 5, 7, 9])
        #expect(readBack.hparams == ["hidden": .number(8), "learningRate": .number(0.05)])
        #expect(readBack.text == ["notes": [[.step(10), .text("Résumé: *two* epochs, 10 steps")]]])
        let scalarCount = expected.values.map(\.count).reduce(0, +)
        #expect(readBack.records == [eventFile.lastPathComponent: 1 + 1 + scalarCount + 1])
    }

    /// Stopped after step 7 with a checkpoint and resumed: one event file in the same version
    /// folder, cut back to the checkpoint, holding the same scalars as an uninterrupted run.
    @Test(.enabled(if: python3Available, "python3 is missing: the TensorBoard read-back test needs it"))
    func resumedRunContinuesTheEventFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let straightRoot = directory.appendingPathComponent("straight"), resumedRoot = directory.appendingPathComponent("resumed")
        let checkpoint = directory.appendingPathComponent("step7.ckpt")
        let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 1, logEveryNSteps: 1, enableCheckpointing: false)
        let straight = TensorBoardLogger(saveDirectory: straightRoot)
        try Trainer(options, loggers: [straight]).fit(EpochMeanClassifier(seed: 1), data: try freshData())
        let stopped = TensorBoardLogger(saveDirectory: resumedRoot)
        try Trainer(options, callbacks: [StopAndSave(step: 7, url: checkpoint)], loggers: [stopped])
            .fit(EpochMeanClassifier(seed: 1), data: try freshData())
        let resumed = TensorBoardLogger(saveDirectory: resumedRoot)
        try Trainer(options, loggers: [resumed]).fit(EpochMeanClassifier(seed: 3), data: try freshData(), ckptPath: checkpoint)

        #expect(resumed.eventFile == stopped.eventFile)
        let expected = try TensorBoardReadBack.read(try #require(straight.logDirectory))
        let actual = try TensorBoardReadBack.read(try #require(resumed.logDirectory))
        #expect(actual.scalars == expected.scalars)
        #expect(actual.hparams == expected.hparams)
        #expect(actual.records.values.sorted() == expected.records.values.sorted())
    }
}

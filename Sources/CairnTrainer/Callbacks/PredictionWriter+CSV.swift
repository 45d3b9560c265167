import Foundation

/// CSV files: the batch file is appended to as batches end; the epoch file is written atomically.
/// Values are Swift's shortest text that reads back to the same Float.
final class CSVPredictionStore: PredictionStore {
    private let batchFile: URL?
    private let epochFile: URL
    private var batchHandle: FileHandle?

    init(batchFile: URL?, epochFile: URL) throws {
        self.batchFile = batchFile
        self.epochFile = epochFile
        if let batchFile {
            guard FileManager.default.createFile(atPath: batchFile.path, contents: nil),
                  let handle = FileHandle(forWritingAtPath: batchFile.path) else {
                throw PredictionWriterError.cannotWrite(path: batchFile.path, reason: "cannot create the file")
            }
            batchHandle = handle
        }
    }

    func appendBatch(_ batchIndex: Int, rows: [[Float]], columns: [String]) throws {
        guard let batchHandle, let batchFile else { return }
        var text = batchIndex == 0 ? (["batch_index", "row"] + columns).joined(separator: ",") + "\n" : ""
        for (row, values) in rows.enumerated() { text += Self.line([batchIndex, row], values) }
        do { try batchHandle.write(contentsOf: Data(text.utf8)) } catch {
            throw PredictionWriterError.cannotWrite(path: batchFile.path, reason: "\(error)")
        }
    }

    func writeEpoch(rows: [[Float]], columns: [String]) throws {
        var text = (["row"] + columns).joined(separator: ",") + "\n"
        for (row, values) in rows.enumerated() { text += Self.line([row], values) }
        do { try Data(text.utf8).write(to: epochFile, options: .atomic) } catch {
            throw PredictionWriterError.cannotWrite(path: epochFile.path, reason: "\(error)")
        }
    }

    func close() throws {
        defer { batchHandle = nil }
        do { try batchHandle?.close() } catch {
            throw PredictionWriterError.cannotWrite(path: batchFile?.path ?? "", reason: "\(error)")
        }
    }

    private static func line(_ indices: [Int], _ values: [Float]) -> String {
        (indices.map(String.init) + values.map { "\($0)" }).joined(separator: ",") + "\n"
    }
}

import ArgumentParser
import CairnCheckpoint
import CairnInterop
import Foundation

extension CkptInspect {
    /// `ckpt-inspect sql FILE QUERY`: a read-only query printed as a table.
    struct SQL: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sql",
            abstract: "Run one read-only SQL query over the file and print an aligned table.",
            discussion: """
                The file is opened read-only with SQLite's defensive settings and query_only on; \
                statements that would write are refused. BLOB cells print as their length.

                Example:
                  $ ckpt-inspect sql last.ckpt 'SELECT dtype, count(*) AS n FROM tensors GROUP BY dtype'
                  dtype  n
                  F32    10
                  I64     2
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The checkpoint file.") var file: String
        @Argument(help: "One SQL statement that only reads.") var query: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let url = URL(fileURLWithPath: file)
            if try CheckpointFileFormat(of: url) != .cairn {
                throw InspectionError(file: file, message: "sql reads Cairn's SQLite checkpoints only; this is a PyTorch or safetensors file")
            }
            let result = try CheckpointQuery.run(query, on: url)
            try output.emit(json: .object([
                ("columns", .array(result.columns.map(JSONValue.string))),
                ("rows", .array(result.rows.map { .array($0.map(Self.json)) })),
            ])) { style in
                var table = TextTable(headers: result.columns)
                for row in result.rows { table.add(row.map(Self.text)) }
                for (column, _) in result.columns.enumerated()
                where !result.rows.isEmpty && result.rows.allSatisfy({ Self.isNumber($0[column]) }) {
                    table.rightAligned.insert(column)
                }
                return table.rendered(style)
            }
        }

        static func isNumber(_ value: CheckpointQueryValue) -> Bool {
            switch value {
            case .integer, .real, .null: return true
            default: return false
            }
        }

        static func text(_ value: CheckpointQueryValue) -> String {
            switch value {
            case .null: return "NULL"
            case let .integer(number): return String(number)
            case let .real(number): return "\(number)"
            case let .text(text): return text
            case let .blob(count): return "<blob \(humanBytes(count))>"
            }
        }

        static func json(_ value: CheckpointQueryValue) -> JSONValue {
            switch value {
            case .null: return .null
            case let .integer(number): return .int(number)
            case let .real(number): return .double(number)
            case let .text(text): return .string(text)
            case let .blob(count): return .object([("blob_bytes", .int(count))])
            }
        }
    }
}

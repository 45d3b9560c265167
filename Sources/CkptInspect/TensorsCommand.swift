import ArgumentParser
import CairnCheckpoint
import CairnInterop
import Foundation

extension CkptInspect {
    /// `ckpt-inspect tensors FILE`: a table of every tensor, optionally with streamed statistics.
    struct Tensors: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List tensors: path, dtype, shape, elements, bytes; --stats adds min, max, mean, std, NaN/Inf counts.",
            discussion: """
                Without --stats reads no tensor bytes; with it, streams each tensor one chunk at a time.

                Example:
                  $ ckpt-inspect tensors last.ckpt --filter '/state_dict/*' --stats
                  path                      dtype  shape   elements  bytes  min   max   mean      std  nan  inf
                  /state_dict/layer.weight  F32    [4, 4]        16   64 B    0  3.75  1.875  1.15244    0    0
                  /state_dict/layer.bias    F32    [4]            4   16 B    0     3    1.5  1.11803    0    0
                  /state_dict/half          F16    [3]            3    6 B   -2     1   -0.5      1.5    0    1
                  3 tensors, 86 B
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The checkpoint file.") var file: String
        @Option(help: "Only tensors whose JSON Pointer matches this glob ('*' also matches '/').") var filter: String?
        @Flag(help: "Read every tensor and add statistics.") var stats = false
        @OptionGroup var output: OutputOptions

        func run() throws {
            let reader = try openCheckpointForReading(file)
            let selected = reader.tensors.indices.filter { index in
                filter.map { fnmatch($0, reader.tensors[index].path.description, 0) == 0 } ?? true
            }
            let infos = selected.map { reader.tensors[$0] }
            // Only the listed tensors are read, one at a time.
            let statistics = try stats ? selected.map { try reader.statistics(of: $0) } : nil
            let totalBytes = infos.reduce(0) { $0 + $1.byteCount }
            try output.emit(json: .object([
                ("file", .string(file)),
                ("count", .int(infos.count)),
                ("total_bytes", .int(totalBytes)),
                ("tensors", .array(infos.enumerated().map { index, info in Self.json(info, statistics?[index]) })),
            ])) { style in
                var headers = ["path", "dtype", "shape", "elements", "bytes"]
                if stats { headers += ["min", "max", "mean", "std", "nan", "inf"] }
                var table = TextTable(headers: headers, rightAligned: Set(3..<headers.count))
                for (index, info) in infos.enumerated() {
                    var row = [info.path.description, info.dtype.rawValue, shapeText(info.shape),
                               String(info.shape.reduce(1, *)), humanBytes(info.byteCount)]
                    if let statistic = statistics?[index] {
                        row += [statistic.minimum, statistic.maximum, statistic.mean, statistic.standardDeviation].map(shortNumber)
                        row += [String(statistic.nanCount), String(statistic.infinityCount)]
                    }
                    table.add(row)
                }
                return table.rendered(style) + "\n\(infos.count) tensors, \(humanBytes(totalBytes))"
            }
        }

        static func json(_ info: ReadableTensor, _ statistics: TensorStatistics?) -> JSONValue {
            var fields: [(String, JSONValue)] = [
                ("path", .string(info.path.description)), ("dtype", .string(info.dtype.rawValue)),
                ("shape", .array(info.shape.map { .int($0) })), ("elements", .int(info.shape.reduce(1, *))),
                ("bytes", .int(info.byteCount)), ("sha256", info.sha256.map(JSONValue.string) ?? .null),
            ]
            if let statistics {
                fields.append(("stats", .object([
                    ("min", .optional(statistics.minimum)), ("max", .optional(statistics.maximum)),
                    ("mean", .optional(statistics.mean)), ("std", .optional(statistics.standardDeviation)),
                    ("nan", .int(statistics.nanCount)), ("inf", .int(statistics.infinityCount)),
                ])))
            }
            return .object(fields)
        }
    }
}

import ArgumentParser
import CairnCheckpoint
import CairnInterop

extension CkptInspect {
    /// `ckpt-inspect tree FILE [POINTER]`: the nested structure, without reading tensor bytes.
    struct Tree: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the nested structure with kinds, shapes and sizes.",
            discussion: """
                Starts at the root, or at a JSON Pointer. Reads no tensor bytes.

                Example:
                  $ ckpt-inspect tree last.ckpt /state_dict
                  /state_dict  dict (2 keys)  96 B
                    layer.weight  tensor F32 [4, 4]  64 B
                    layer.bias    tensor F32 [4]     16 B
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The checkpoint file.") var file: String
        @Argument(help: "JSON Pointer of the subtree to print (default: the root).") var pointer: String = ""
        @OptionGroup var output: OutputOptions

        func run() throws {
            let reader = try openCheckpointForReading(file)
            let start = try parsePointer(pointer, file: file)
            let node = try value(at: start, in: try reader.tree(), file: file)
            try output.emit(json: Self.json(node, name: start.tokens.last ?? "", path: start)) { style in
                var table = TextTable(headers: ["name", "kind", "size"], rightAligned: [2])
                Self.addRows(node, name: start.tokens.isEmpty ? "/" : start.description, depth: 0, to: &table)
                return table.rendered(style)
            }
        }

        static func addRows(_ node: CheckpointValue, name: String, depth: Int, to table: inout TextTable) {
            let kind = CheckpointDiff.kindName(node)
            let detail: String
            switch node {
            case .tensor, .dictionary, .list: detail = node.inlineText.hasPrefix(kind) ? node.inlineText : "\(kind) \(node.inlineText)"
            default: detail = "\(kind) \(node.inlineText)"
            }
            let size = node.isScalar ? "" : humanBytes(node.tensorBytes)
            table.add([String(repeating: "  ", count: depth) + name, detail, size])
            switch node {
            case let .dictionary(entries):
                for (key, child) in entries { addRows(child, name: key.token, depth: depth + 1, to: &table) }
            case let .list(items):
                for (index, child) in items.enumerated() { addRows(child, name: String(index), depth: depth + 1, to: &table) }
            default: break
            }
        }

        static func json(_ node: CheckpointValue, name: String, path: JSONPointer) -> JSONValue {
            var fields: [(String, JSONValue)] = [("name", .string(name)), ("path", .string(path.description)), ("kind", .string(CheckpointDiff.kindName(node)))]
            switch node {
            case let .tensor(tensor):
                fields += [("dtype", .string(tensor.dtype.rawValue)), ("shape", .array(tensor.shape.map { .int($0) })), ("bytes", .int(tensor.byteCount))]
            case let .dictionary(entries):
                fields.append(("bytes", .int(node.tensorBytes)))
                fields.append(("children", .array(entries.map { json($0.value, name: $0.key.token, path: path.appending($0.key)) })))
            case let .list(items):
                fields.append(("bytes", .int(node.tensorBytes)))
                fields.append(("children", .array(items.enumerated().map { json($1, name: String($0), path: path.appending(String($0))) })))
            default:
                fields.append(("value", node.summaryJSON))
            }
            return .object(fields)
        }
    }
}

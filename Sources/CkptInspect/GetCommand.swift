import ArgumentParser
import CairnCheckpoint
import CairnInterop

extension CkptInspect {
    /// `ckpt-inspect get FILE POINTER`: one value or subtree.
    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one value or subtree; tensors as a short preview unless --full.",
            discussion: """
                With --json prints plain JSON: dictionaries as objects, lists as arrays, scalars as \
                JSON scalars, tensors as {"dtype", "shape", "data"} with every element (row-major, flat).

                Examples:
                  $ ckpt-inspect get last.ckpt /global_step --json
                  300
                  $ ckpt-inspect get last.ckpt '/callbacks/Counter<"what":"batches">'
                  {
                    "count": 300
                  }
                  $ ckpt-inspect get last.ckpt /state_dict/layer.bias
                  F32 [4] (16 B): [0, 1, 2, 3]
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The checkpoint file.") var file: String
        @Argument(help: "JSON Pointer of the value, e.g. /optimizer_states/0/param_groups/0/lr.") var pointer: String
        @Flag(help: "Print every tensor element instead of a preview.") var full = false
        @OptionGroup var output: OutputOptions

        /// Elements shown when a tensor is previewed.
        static let previewCount = 8

        func run() throws {
            let reader = try openCheckpointForReading(file)
            let node = try value(at: try parsePointer(pointer, file: file), in: try reader.tree(), file: file)
            try output.emit(json: try node.json(tensors: .data)) { _ in
                switch node {
                case let .tensor(tensor):
                    return try Self.tensorText(tensor, full: full)
                case .dictionary, .list:
                    return try Self.previewJSON(node, full: full).rendered()
                case let .string(text):
                    return text
                default:
                    return node.inlineText
                }
            }
        }

        static func tensorText(_ tensor: CheckpointTensor, full: Bool) throws -> String {
            // Only the shown elements are decoded (and, for a mapped file, read).
            let count = tensor.elementCount
            let shown = try tensor.values(limit: full ? nil : previewCount)
            let more = shown.count < count ? ", … (\(count - shown.count) more)" : ""
            return "\(tensor.dtype.rawValue) \(shapeText(tensor.shape)) (\(humanBytes(tensor.byteCount))): ["
                + shown.map(\.text).joined(separator: ", ") + more + "]"
        }

        /// A subtree as JSON where each tensor is one preview string.
        static func previewJSON(_ node: CheckpointValue, full: Bool) throws -> JSONValue {
            switch node {
            case let .dictionary(entries): return .object(try entries.map { ($0.key.token, try previewJSON($0.value, full: full)) })
            case let .list(items): return .array(try items.map { try previewJSON($0, full: full) })
            case let .tensor(tensor): return .string(try tensorText(tensor, full: full))
            default: return try node.json(tensors: .summary)
            }
        }
    }

    /// `ckpt-inspect callbacks FILE`: the callback states by state key.
    struct Callbacks: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each callback's state by its state key.",
            discussion: """
                Reads no tensor bytes; tensors in a state print as dtype and shape.

                Example:
                  $ ckpt-inspect callbacks last.ckpt
                  Counter<"what":"batches">
                    count = 300
                  ModelCheckpoint<"monitor":"val_loss">
                    best_model_path = "epoch=1.ckpt"
                    current_score = 0.25
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The checkpoint file.") var file: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let reader = try openCheckpointForReading(file)
            let callbacks = try reader.tree()["/callbacks"] ?? .dictionary([:])
            try output.emit(json: .object([("file", .string(file)), ("callbacks", try callbacks.json(tensors: .summary))])) { style in
                guard case let .dictionary(entries) = callbacks, !entries.isEmpty else { return "no callback states" }
                var lines: [String] = []
                for (key, state) in entries {
                    lines.append(style.bold(key.token))
                    if case let .dictionary(fields) = state {
                        for (name, value) in fields {
                            let text = value.isScalar ? value.inlineText : value.summaryJSON.rendered(pretty: false)
                            lines.append("  \(name.token) = \(text)")
                        }
                    } else {
                        lines.append("  \(state.inlineText)")
                    }
                }
                return lines.joined(separator: "\n")
            }
        }
    }
}

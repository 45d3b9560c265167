import ArgumentParser
import CairnCheckpoint
import CairnInterop
import Foundation

extension CkptInspect {
    /// `ckpt-inspect show FILE`: the summary of a checkpoint, without reading tensor bytes.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarise a checkpoint: versions, progress, sections, hyper-parameters, callbacks, optimizers.",
            discussion: """
                Reads no tensor bytes.

                Example:
                  $ ckpt-inspect show epoch=2.ckpt
                  file         epoch=2.ckpt
                  format       1 (engine 0.1.0, producer cairn 0.1.0)
                  created      2026-11-29T04:50:00Z
                  epoch        2
                  global_step  300
                  tensors      12 (1.2 MiB)
                  ...
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The checkpoint file.") var file: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            let summary = try CheckpointSummary(file: file, reader: try openCheckpointForReading(file))
            try output.emit(json: try summary.json()) { style in summary.text(style) }
        }
    }
}

/// What `show` prints, gathered from the tree and the metadata only.
struct CheckpointSummary {
    let file: String
    let metadata: CheckpointMetadata
    let engineVersion: String
    let tree: CheckpointValue

    init(file: String, reader: any ReadableCheckpoint) throws {
        self.file = file
        metadata = reader.metadata
        engineVersion = try reader.engineVersion()
        tree = try reader.tree()
    }

    /// Top-level keys with their kind and the bytes of the tensors below them.
    var sections: [(key: String, value: CheckpointValue)] {
        guard case let .dictionary(entries) = tree else { return [] }
        return entries.map { ($0.key.token, $0.value) }
    }

    /// One line per optimizer or scheduler: its scalar settings and how much state it holds.
    func summaries(of key: String) -> [(index: Int, text: String, json: JSONValue)] {
        guard case let .list(items)? = tree["/" + key] else { return [] }
        return items.enumerated().map { index, item in
            var scalars: [(String, CheckpointValue)] = []
            var groups = 0, states = 0
            if case let .dictionary(entries) = item {
                for (entryKey, value) in entries {
                    switch value {
                    case .dictionary, .list, .tensor, .bytes: break
                    default: scalars.append((entryKey.token, value))
                    }
                }
                if case let .list(paramGroups)? = entries["param_groups"] {
                    groups = paramGroups.count
                    if case let .dictionary(first)? = paramGroups.first {
                        for (groupKey, value) in first where value.isScalar { scalars.append((groupKey.token, value)) }
                    }
                }
                if case let .dictionary(state)? = entries["state"] { states = state.count }
            }
            var parts = scalars.map { "\($0.0)=\($0.1.inlineText)" }
            if key == "optimizer_states" {
                parts.insert("\(groups) param group(s), \(states) parameter state(s), \(humanBytes(item.tensorBytes))", at: 0)
            }
            var fields: [(String, JSONValue)] = scalars.map { ($0.0, $0.1.summaryJSON) }
            if key == "optimizer_states" {
                fields = [("param_groups", .int(groups)), ("parameter_states", .int(states)), ("tensor_bytes", .int(item.tensorBytes))] + fields
            }
            return (index, parts.joined(separator: ", "), .object(fields))
        }
    }

    func json() throws -> JSONValue {
        .object([
            ("file", .string(file)),
            ("format_version", .int(metadata.formatVersion)),
            ("engine_version", .string(engineVersion)),
            ("producer", .string(metadata.producer)),
            ("producer_version", .string(metadata.producerVersion)),
            ("created_at", .string(metadata.createdAt)),
            ("epoch", metadata.epoch.map(JSONValue.int) ?? .null),
            ("global_step", metadata.globalStep.map(JSONValue.int) ?? .null),
            ("tensor_count", .int(metadata.tensorCount)),
            ("total_bytes", .int(metadata.totalBytes)),
            ("sections", .array(sections.map { section in
                .object([("key", .string(section.key)), ("kind", .string(CheckpointDiff.kindName(section.value))),
                         ("tensor_bytes", .int(section.value.tensorBytes))])
            })),
            ("hyper_parameters", try tree["/hyper_parameters"]?.json(tensors: .summary) ?? .null),
            ("callbacks", try tree["/callbacks"]?.json(tensors: .summary) ?? .null),
            ("optimizers", .array(summaries(of: "optimizer_states").map(\.json))),
            ("lr_schedulers", .array(summaries(of: "lr_schedulers").map(\.json))),
        ])
    }

    func text(_ style: TextStyle) -> String {
        var lines: [String] = []
        func field(_ name: String, _ value: String) { lines.append(style.bold(name.padding(toLength: 12, withPad: " ", startingAt: 0)) + " " + value) }
        field("file", file)
        let producer = ([metadata.producer, metadata.producerVersion].filter { !$0.isEmpty }).joined(separator: " ")
        field("format", "\(metadata.formatVersion) (engine \(engineVersion), producer \(producer))")
        field("created", metadata.createdAt)
        field("epoch", metadata.epoch.map(String.init) ?? "-")
        field("global_step", metadata.globalStep.map(String.init) ?? "-")
        field("tensors", "\(metadata.tensorCount) (\(humanBytes(metadata.totalBytes)))")
        lines.append("")
        var table = TextTable(headers: ["section", "content", "tensor bytes"], rightAligned: [2])
        for section in sections {
            table.add([section.key, section.value.inlineText, humanBytes(section.value.tensorBytes)])
        }
        lines.append(table.rendered(style))
        if case let .dictionary(hyper)? = tree["/hyper_parameters"], !hyper.isEmpty {
            lines.append("")
            lines.append(style.bold("hyper_parameters"))
            for (key, value) in hyper { lines.append("  \(key.token) = \(value.isScalar ? value.inlineText : value.summaryJSON.rendered(pretty: false))") }
        }
        if case let .dictionary(callbacks)? = tree["/callbacks"], !callbacks.isEmpty {
            lines.append("")
            lines.append(style.bold("callbacks"))
            for (key, value) in callbacks { lines.append("  \(key.token) = \(value.summaryJSON.rendered(pretty: false))") }
        }
        for (key, title) in [("optimizer_states", "optimizers"), ("lr_schedulers", "lr_schedulers")] {
            let entries = summaries(of: key)
            guard !entries.isEmpty else { continue }
            lines.append("")
            lines.append(style.bold(title))
            for entry in entries { lines.append("  [\(entry.index)] \(entry.text)") }
        }
        return lines.joined(separator: "\n")
    }
}

extension CheckpointValue {
    var isScalar: Bool {
        switch self {
        case .int, .double, .string, .bool, .null: return true
        default: return false
        }
    }
}

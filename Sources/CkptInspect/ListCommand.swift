import ArgumentParser
import CairnCheckpoint
import CairnInterop
import Foundation

extension CkptInspect {
    /// `ckpt-inspect ls DIR`: the checkpoints of a run directory.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls",
            abstract: "List the checkpoints of a run directory with epoch, step, monitored score, size, best and last.",
            discussion: """
                Reads no tensor bytes. The monitored metric comes from a ModelCheckpoint callback \
                state (keys starting with "ModelCheckpoint"): its monitor and current_score; "best" \
                is the file named by best_model_path in the newest checkpoint, "last" is last.ckpt.

                Example:
                  $ cairn fit --max-epochs 3 --default-root-dir /tmp/run
                  $ ckpt-inspect ls /tmp/run/checkpoints
                  file                  epoch  step  monitor   score          size  flags
                  epoch=0-step=20.ckpt      0    20  val_loss  1.04535   172.0 KiB
                  epoch=1-step=40.ckpt      1    40  val_loss  0.229667  172.0 KiB
                  epoch=2-step=60.ckpt      2    60  val_loss  0.12044   172.0 KiB  best
                  last.ckpt                 2    60  val_loss  0.12044   172.0 KiB  last
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The run directory.") var directory: String
        @OptionGroup var output: OutputOptions

        /// One file of the directory.
        struct Entry {
            var file: String
            var bytes: Int
            var epoch: Int64?
            var step: Int64?
            var monitor: String?
            var score: Double?
            var bestModelPath: String?
            var isBest = false
            var isLast = false
            var error: String?
        }

        func run() throws {
            let entries = try Self.entries(in: directory)
            try output.emit(json: .object([
                ("directory", .string(directory)),
                ("checkpoints", .array(entries.map { entry in
                    .object([
                        ("file", .string(entry.file)), ("bytes", .int(entry.bytes)),
                        ("epoch", entry.epoch.map(JSONValue.int) ?? .null), ("global_step", entry.step.map(JSONValue.int) ?? .null),
                        ("monitor", entry.monitor.map(JSONValue.string) ?? .null), ("score", .optional(entry.score)),
                        ("best", .bool(entry.isBest)), ("last", .bool(entry.isLast)),
                        ("error", entry.error.map(JSONValue.string) ?? .null),
                    ])
                })),
            ])) { style in
                var table = TextTable(headers: ["file", "epoch", "step", "monitor", "score", "size", "flags"], rightAligned: [1, 2, 5])
                for entry in entries {
                    let flags = entry.error.map { "error: \($0)" } ?? [entry.isBest ? "best" : nil, entry.isLast ? "last" : nil].compactMap { $0 }.joined(separator: ",")
                    table.add([entry.file, entry.epoch.map(String.init) ?? "-", entry.step.map(String.init) ?? "-",
                               entry.monitor ?? "-", entry.score.map { shortNumber($0) } ?? "-", humanBytes(entry.bytes),
                               entry.isBest || entry.isLast || entry.error != nil ? style.bold(flags) : flags])
                }
                return entries.isEmpty ? "no checkpoints in \(directory)" : table.rendered(style)
            }
        }

        static func entries(in directory: String) throws -> [Entry] {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw InspectionError(file: directory, message: "not a directory")
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".ckpt") && !$0.hasPrefix(".") }
            var entries = names.map { entry(URL(fileURLWithPath: directory).appendingPathComponent($0)) }
            entries.sort { ($0.step ?? -1, $0.isLast ? 1 : 0, $0.file) < ($1.step ?? -1, $1.isLast ? 1 : 0, $1.file) }
            // The newest checkpoint knows the best one so far.
            if let best = entries.last(where: { $0.bestModelPath != nil })?.bestModelPath {
                let bestName = URL(fileURLWithPath: best).lastPathComponent
                for index in entries.indices where entries[index].file == bestName { entries[index].isBest = true }
            }
            return entries
        }

        static func entry(_ url: URL) -> Entry {
            let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            var entry = Entry(file: url.lastPathComponent, bytes: size, isLast: url.lastPathComponent == "last.ckpt")
            do {
                let reader = try openCheckpointForReading(url.path)
                entry.epoch = reader.metadata.epoch
                entry.step = reader.metadata.globalStep
                if case let .dictionary(callbacks)? = try reader.tree()["/callbacks"],
                   let state = callbacks.first(where: { $0.key.token.hasPrefix("ModelCheckpoint") })?.value {
                    if case let .string(monitor)? = state["/monitor"] { entry.monitor = monitor }
                    entry.score = number(state["/current_score"])
                    if case let .string(path)? = state["/best_model_path"], !path.isEmpty { entry.bestModelPath = path }
                }
            } catch {
                entry.error = "\(error)"
            }
            return entry
        }

        static func number(_ value: CheckpointValue?) -> Double? {
            switch value {
            case let .double(number)?: return number
            case let .int(number)?: return Double(number)
            case let .tensor(tensor)? where tensor.elementCount == 1: return try? tensor.elements().first
            default: return nil
            }
        }
    }
}

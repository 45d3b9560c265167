import ArgumentParser
import CairnCheckpoint
import CairnInterop

extension CkptInspect {
    /// `ckpt-inspect verify FILE…`: schema, version and every checksum.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check schema, format version, tree and every tensor checksum.",
            discussion: """
                Streams every tensor one chunk at a time. Exit 0 when all files are good, 1 when a \
                file is damaged (each bad tensor is named), 2 when a file cannot be read at all.

                Example:
                  $ ckpt-inspect verify epoch=1.ckpt epoch=2.ckpt
                  epoch=1.ckpt: OK (12 tensors, 1.2 MiB)
                  epoch=2.ckpt: BAD
                    /state_dict/layer.weight: sha256 mismatch, stored 3f…, computed 9a…
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The checkpoint files.") var files: [String]
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard !files.isEmpty else { throw ValidationError("give at least one checkpoint file") }
        }

        /// The outcome for one file.
        struct Report {
            var file: String
            var tensorCount = 0
            var totalBytes = 0
            /// Damage found: pointer (empty for the file as a whole) and what is wrong.
            var problems: [(path: String, message: String)] = []
            /// Set when the file could not be checked at all.
            var error: String?
        }

        static func check(_ file: String) -> Report {
            var report = Report(file: file)
            do {
                let reader = try openCheckpoint(file)
                report.tensorCount = reader.metadata.tensorCount
                report.totalBytes = reader.metadata.totalBytes
                _ = try reader.tree()
                if reader.tensorInfos.count != reader.metadata.tensorCount {
                    report.problems.append(("", "snapshot says \(reader.metadata.tensorCount) tensors, \(reader.tensorInfos.count) stored"))
                }
                for failure in reader.verifyChecksums() {
                    report.problems.append(problem(failure))
                }
            } catch let error as CheckpointError {
                if case .corrupt = error { report.problems.append(problem(error)) } else { report.error = error.description }
            } catch let error as InteropError {
                // It names the file at fault already (a shard, an index).
                report.error = error.description
            } catch {
                report.error = "\(file): \(error)"
            }
            return report
        }

        static func problem(_ error: CheckpointError) -> (path: String, message: String) {
            switch error {
            case let .checksumMismatch(_, path, expected, actual):
                return (path, "sha256 mismatch, stored \(expected), computed \(actual)")
            case let .corrupt(_, path, reason):
                return (path, reason)
            default:
                return ("", error.description)
            }
        }

        func run() throws {
            let reports = files.map(Self.check)
            try output.emit(json: .object([
                ("ok", .bool(reports.allSatisfy { $0.problems.isEmpty && $0.error == nil })),
                ("files", .array(reports.map { report in
                    .object([
                        ("file", .string(report.file)),
                        ("ok", .bool(report.problems.isEmpty && report.error == nil)),
                        ("tensor_count", .int(report.tensorCount)),
                        ("total_bytes", .int(report.totalBytes)),
                        ("problems", .array(report.problems.map { .object([("path", .string($0.path)), ("message", .string($0.message))]) })),
                        ("error", report.error.map(JSONValue.string) ?? .null),
                    ])
                })),
            ])) { style in
                reports.map { report in
                    if let error = report.error { return "\(report.file): \(style.red("ERROR")) \(error)" }
                    if report.problems.isEmpty {
                        return "\(report.file): \(style.green("OK")) (\(report.tensorCount) tensors, \(humanBytes(report.totalBytes)))"
                    }
                    return (["\(report.file): \(style.red("BAD"))"] + report.problems.map { "  \($0.path.isEmpty ? "(file)" : $0.path): \($0.message)" })
                        .joined(separator: "\n")
                }.joined(separator: "\n")
            }
            if let error = reports.compactMap(\.error).first { CkptInspect.failAndExit(error) }
            if reports.contains(where: { !$0.problems.isEmpty }) { throw ExitCode(1) }
        }
    }
}

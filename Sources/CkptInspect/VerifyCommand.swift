import ArgumentParser
import CairnCheckpoint
import CairnInterop

extension CkptInspect {
    /// `ckpt-inspect verify FILE…`: schema, version and every checksum.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check schema, format version, tree and every tensor checksum.",
            discussion: """
                Streams every tensor one chunk at a time. Foreign files are checked in place as far \
                as their format allows: a torch zip file's members against their CRC-32s (read \
                through a small buffer, inflating deflated ones), a safetensors file's header and \
                every tensor's byte range (the format stores no checksums), a legacy torch file's \
                pickles and storage records; a sharded folder shard by shard. Exit 0 when all \
                files are good, 1 when a file is damaged (each bad tensor or member is named), 2 \
                when a file cannot be read at all.

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
            /// What the check covered, for a foreign file (whose format may carry no checksums).
            var coverage: String?
            /// Damage found: pointer (empty for the file as a whole) and what is wrong.
            var problems: [(path: String, message: String)] = []
            /// Set when the file could not be checked at all.
            var error: String?
        }

        static func check(_ file: String) -> Report {
            var report = Report(file: file)
            do {
                let checkpoint = try openCheckpointForReading(file)
                guard let stored = checkpoint as? StoredCheckpoint else {
                    try checkInPlace(checkpoint, into: &report)
                    return report
                }
                let reader = stored.reader
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

        /// A foreign file: reading it in place already checked its structure (header, byte ranges,
        /// zip directory, pickles, index); what is left are the zip members' CRC-32s.
        static func checkInPlace(_ checkpoint: any ReadableCheckpoint, into report: inout Report) throws {
            report.tensorCount = checkpoint.metadata.tensorCount
            report.totalBytes = checkpoint.metadata.totalBytes
            let zipFiles = (checkpoint as? InPlaceCheckpoint)?.zipFiles ?? []
            var members = 0
            for zip in zipFiles {
                let integrity = try TorchCheckpoint.checkIntegrity(zip)
                members += integrity.checkedMembers
                let prefix = zipFiles.count > 1 || zip.path != checkpoint.file ? "\(zip.lastPathComponent): " : ""
                report.problems += integrity.damage.map { ("", prefix + $0) }
            }
            report.coverage = members > 0
                ? "\(members) zip members CRC-checked"
                : "structure checked; the format stores no checksums"
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
                        ("checked", report.coverage.map(JSONValue.string) ?? .string("every tensor's SHA-256")),
                        ("problems", .array(report.problems.map { .object([("path", .string($0.path)), ("message", .string($0.message))]) })),
                        ("error", report.error.map(JSONValue.string) ?? .null),
                    ])
                })),
            ])) { style in
                reports.map { report in
                    if let error = report.error { return "\(report.file): \(style.red("ERROR")) \(error)" }
                    if report.problems.isEmpty {
                        let coverage = report.coverage.map { "; \($0)" } ?? ""
                        return "\(report.file): \(style.green("OK")) (\(report.tensorCount) tensors, \(humanBytes(report.totalBytes))\(coverage))"
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

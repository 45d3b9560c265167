import ArgumentParser
import CairnCheckpoint
import CairnInterop

extension CkptInspect {
    /// `ckpt-inspect diff A B`: structural and value differences, exit status like `diff`.
    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare two checkpoints: structure, scalars, and tensors within tolerances.",
            discussion: """
                Either side may be a Cairn file, a safetensors or torch file, or a sharded folder; \
                foreign files are read in place. Between Cairn files, tensors with equal stored SHA-256 \
                are skipped without reading them; within the others, \
                chunks with equal hashes are not read from B. The rest is streamed and compared element-wise with torch.isclose semantics: elements differ \
                when |a - b| > atol + rtol·|b| (NaN differs from everything). \
                Exit 0 when equal, 1 when different, 2 on error.

                Example:
                  $ ckpt-inspect diff epoch=1.ckpt epoch=2.ckpt --ignore /hyper_parameters
                  ~ /global_step: 100 → 200
                  ~ /state_dict/layer.weight: F32 [4, 4]: max |Δ| 0.05, rel L2 0.012, 16 of 16 elements differ
                  + /callbacks/EarlyStopping (dict)
                  3 differences
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The old checkpoint.") var old: String
        @Argument(help: "The new checkpoint.") var new: String
        @Option(help: "Compare only below this JSON Pointer (repeatable); /callbacks/<Class> names every state key of that class.") var only: [String] = []
        @Option(help: "Skip everything below this JSON Pointer (repeatable); /callbacks/<Class> names every state key of that class.") var ignore: [String] = []
        @Option(help: "Absolute tolerance for tensor elements.") var atol: Double = 0
        @Option(help: "Relative tolerance for tensor elements.") var rtol: Double = 0
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard atol >= 0, rtol >= 0, atol.isFinite, rtol.isFinite else { throw ValidationError("--atol and --rtol must be finite and non-negative") }
        }

        func run() throws {
            let oldReader = try openCheckpointForReading(old).diffSide
            let newReader = try openCheckpointForReading(new).diffSide
            let diff = CheckpointDiff(
                only: try only.map { try parsePointer($0, file: old) },
                ignore: try ignore.map { try parsePointer($0, file: old) },
                tolerance: TensorTolerance(absolute: atol, relative: rtol))
            let differences = try diff.differences(from: oldReader, to: newReader)
            try output.emit(json: .object([
                ("old", .string(old)), ("new", .string(new)),
                ("equal", .bool(differences.isEmpty)),
                ("differences", .array(differences.map(Self.json))),
            ])) { style in
                let lines = differences.map { Self.text($0, style) }
                let summary = differences.isEmpty ? "no differences" : "\(differences.count) difference\(differences.count == 1 ? "" : "s")"
                return (lines + [summary]).joined(separator: "\n")
            }
            if !differences.isEmpty { throw ExitCode(1) }
        }

        static func text(_ difference: CheckpointDifference, _ style: TextStyle) -> String {
            let path = difference.path.description.isEmpty ? "/" : difference.path.description
            switch difference.change {
            case let .added(kind): return style.green("+ \(path) (\(kind))")
            case let .removed(kind): return style.red("- \(path) (\(kind))")
            case let .kindChanged(old, new): return style.yellow("~ \(path): kind \(old) → \(new)")
            case let .dtypeChanged(old, new): return style.yellow("~ \(path): dtype \(old.rawValue) → \(new.rawValue)")
            case let .shapeChanged(old, new): return style.yellow("~ \(path): shape \(shapeText(old)) → \(shapeText(new))")
            case let .valueChanged(old, new): return style.yellow("~ \(path): \(old.inlineText) → \(new.inlineText)")
            case let .tensorChanged(comparison):
                return style.yellow("~ \(path): max |Δ| \(shortNumber(comparison.maximumAbsoluteDifference)), "
                    + "rel L2 \(shortNumber(comparison.relativeL2Change)), "
                    + "\(comparison.differingCount) of \(comparison.elementCount) elements differ")
            }
        }

        static func json(_ difference: CheckpointDifference) -> JSONValue {
            var fields: [(String, JSONValue)] = [("path", .string(difference.path.description))]
            switch difference.change {
            case let .added(kind): fields += [("change", .string("added")), ("kind", .string(kind))]
            case let .removed(kind): fields += [("change", .string("removed")), ("kind", .string(kind))]
            case let .kindChanged(old, new): fields += [("change", .string("kind")), ("old", .string(old)), ("new", .string(new))]
            case let .dtypeChanged(old, new): fields += [("change", .string("dtype")), ("old", .string(old.rawValue)), ("new", .string(new.rawValue))]
            case let .shapeChanged(old, new):
                fields += [("change", .string("shape")), ("old", .array(old.map { .int($0) })), ("new", .array(new.map { .int($0) }))]
            case let .valueChanged(old, new):
                fields += [("change", .string("value")),
                           ("old", old.summaryJSON), ("new", new.summaryJSON)]
            case let .tensorChanged(comparison):
                fields += [("change", .string("tensor")),
                           ("max_abs_diff", .double(comparison.maximumAbsoluteDifference)),
                           ("relative_l2", .double(comparison.relativeL2Change)),
                           ("differing_elements", .int(comparison.differingCount)),
                           ("elements", .int(comparison.elementCount))]
            }
            return .object(fields)
        }
    }
}

import ArgumentParser
import CairnCheckpoint
import CairnInterop
import Foundation

extension CkptInspect {
    /// `ckpt-inspect convert IN OUT`: between Cairn, PyTorch/Lightning and safetensors files.
    struct Convert: ParsableCommand {
        /// The formats `convert` writes.
        enum Target: String, ExpressibleByArgument, CaseIterable {
            case cairn, lightning, torch, safetensors
        }

        static let configuration = CommandConfiguration(
            abstract: "Convert a checkpoint between Cairn, PyTorch/Lightning and safetensors files.",
            discussion: """
                The input may be any of the three formats. --to picks the output (by default from OUT's \
                extension: .safetensors → safetensors, .pt/.pth → torch, anything else → cairn):
                  cairn        a Cairn SQLite checkpoint of the whole tree, saved atomically
                  lightning    a torch zip checkpoint that torch.load(weights_only=True) reads, with the \
                keys Lightning's resume needs added when missing
                  torch        the same without those keys (a plain torch.save of the tree)
                  safetensors  the tensors under --subtree (default /state_dict), named by their \
                dotted path below it

                Examples:
                  $ ckpt-inspect convert cairn_logs/checkpoints/last.ckpt model.safetensors
                  wrote model.safetensors (safetensors, 9 tensors)
                  $ ckpt-inspect convert Fixtures/lightning/last.ckpt imported.ckpt --to cairn
                  wrote imported.ckpt (cairn, 34 tensors)
                """ + "\n\n" + CkptInspect.exitStatusText)

        @Argument(help: "The checkpoint to read (Cairn, PyTorch/Lightning zip, or safetensors).") var input: String
        @Argument(help: "The file to write.") var output: String
        @Option(help: "Output format: cairn, lightning, torch or safetensors.") var to: Target?
        @Option(help: "With --to safetensors: the JSON Pointer whose tensors are written.") var subtree = "/state_dict"
        @OptionGroup var options: OutputOptions

        var target: Target {
            if let to { return to }
            switch URL(fileURLWithPath: output).pathExtension.lowercased() {
            case "safetensors": return .safetensors
            case "pt", "pth": return .torch
            default: return .cairn
            }
        }

        func run() throws {
            // Foreign input is read in place: its tensors lend their bytes to the writer.
            let checkpoint = try openCheckpointForReading(input)
            let tree = try checkpoint.tree()
            let url = URL(fileURLWithPath: output)
            var written = checkpoint.tensors.count
            switch target {
            case .cairn: try Checkpoint.save(tree, to: url)
            case .lightning: try TorchCheckpoint.write(tree, to: url, lightning: true)
            case .torch: try TorchCheckpoint.write(tree, to: url, lightning: false)
            case .safetensors:
                let pointer = try parsePointer(subtree, file: input)
                written = try value(at: pointer, in: tree, file: input).tensors().count
                try SafetensorsFile.export(tree, subtree: pointer, to: url)
            }
            try options.emit(json: .object([
                ("input", .string(input)), ("output", .string(output)),
                ("format", .string(target.rawValue)), ("tensors", .int(written)),
            ])) { _ in "wrote \(output) (\(target.rawValue), \(written) tensors)" }
        }
    }
}

import ArgumentParser
import Cairn
import Foundation

extension CairnCommand {
    /// `cairn generate`: text from a character language model's checkpoint.
    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate text with a checkpoint of `cairn fit --model charlm`.",
            discussion: """
                The checkpoint holds the model's vocabulary and size, so no other flag is needed. The \
                same checkpoint, prompt, length, temperature and seed always give the same text.

                Example:
                  $ cairn generate --ckpt-path cairn_logs/checkpoints/last.ckpt --prompt "The " --length 80 --seed 1
                """ + "\n\n" + CairnCommand.exitStatusText)

        @Option(help: "The checkpoint: last, best (in <root>/checkpoints) or a file path.")
        var ckptPath: String
        @Option(help: "Directory whose checkpoints/ folder `last` and `best` refer to.")
        var defaultRootDir = "cairn_logs"
        @Option(help: "Text to continue (every character must be in the model's vocabulary).")
        var prompt = "\n"
        @Option(help: "Characters to generate.")
        var length = 200
        @Option(help: "Sampling temperature; 0 always picks the likeliest character.")
        var temperature = 0.8
        @Option(help: "Seed of the sampling.")
        var seed: UInt64 = 0

        func validate() throws {
            guard length >= 0 else { throw ValidationError("--length must not be negative, got \(length)") }
            guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0, got \(temperature)") }
        }

        func run() throws {
            try reportingErrors {
                let url = try checkpointURL()
                let model = try CharacterLM.loadFromCheckpoint(url)
                let text = try model.generate(prompt: prompt, length: length, temperature: temperature, seed: seed)
                print(prompt + text)
            }
        }

        /// `last` and `best` as `cairn fit` wrote them under `--default-root-dir`, else a path.
        func checkpointURL() throws -> URL {
            let folder = URL(fileURLWithPath: defaultRootDir).appendingPathComponent("checkpoints")
            switch ckptPath {
            case "last": return folder.appendingPathComponent("last.ckpt")
            case "best":
                let checkpoint = try Checkpoint.load(folder.appendingPathComponent("last.ckpt"))
                guard case let .dictionary(callbacks)? = checkpoint["/callbacks"],
                      let best = callbacks.values.lazy.compactMap({ value -> String? in
                          if case let .string(path)? = value["best_model_path"], !path.isEmpty { return path }
                          return nil
                      }).first else {
                    throw ValidationError("no best checkpoint is recorded in \(folder.appendingPathComponent("last.ckpt").path)")
                }
                return URL(fileURLWithPath: best)
            default: return URL(fileURLWithPath: ckptPath)
            }
        }
    }
}

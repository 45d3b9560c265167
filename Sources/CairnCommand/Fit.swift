import ArgumentParser
import Cairn
import Foundation

extension CairnCommand {
    /// `cairn fit`: trains the digits classifier on the Trainer, checkpointing as it goes.
    struct Fit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train the bundled digits MLP, checkpointing into SQLite.",
            discussion: """
                Checkpoints go to <root>/checkpoints/: the three best epochs by val_loss \
                (epoch=E-step=S.ckpt) and last.ckpt, each written atomically. \
                Resume with --ckpt-path last. Open them with `sqlite3` or `ckpt-inspect`.
                """ + "\n\n" + CairnCommand.exitStatusText
        )

        @OptionGroup var options: RunOptions

        func run() throws {
            try reportingErrors {
                let trainer = try options.trainer(printing: true)
                let example = try options.example()
                try trainer.fit(example.module, data: example.data, ckptPath: options.selection(default: nil))
                if let summary = example.dataSummary() { print("cairn fit: \(summary)") }
                let test = try trainer.test(example.module, data: example.data)
                print(formatted(test.filter { $0.key.hasPrefix("test_") }))
                if trainer.options.enableCheckpointing { print("checkpoints in \(options.checkpointDirectory)") }
            }
        }
    }
}

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
                let data = options.dataModule
                let module = options.module
                try trainer.fit(module, data: data, ckptPath: options.selection(default: nil))
                if let sizes = data.splitSizes {
                    print("cairn fit: \(options.dataDescription): \(sizes.train) train, \(sizes.validation) validation, \(sizes.test) test")
                }
                let test = try trainer.test(module, data: data)
                print(formatted(test.filter { $0.key.hasPrefix("test_") }))
                if trainer.options.enableCheckpointing { print("checkpoints in \(options.checkpointDirectory)") }
            }
        }
    }
}

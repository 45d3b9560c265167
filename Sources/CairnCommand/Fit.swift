import ArgumentParser
import Cairn
import Foundation

extension CairnCommand {
    /// `cairn fit`: trains the digits MLP and writes a checkpoint after every epoch.
    struct Fit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train the bundled digits MLP, checkpointing every epoch into SQLite.",
            discussion: """
                Checkpoints go to <root>/checkpoints/: one file per epoch \
                (epoch=E-step=S.ckpt) and last.ckpt, each replaced atomically. \
                Open them with `sqlite3` or `ckpt-inspect`.
                """
        )

        @Option(help: "The CSV file to train on (columns p0…p63,label).")
        var data = "Fixtures/digits.csv"

        @Option(help: "Number of epochs to train.")
        var maxEpochs = 15

        @Option(help: "Samples per training batch.")
        var batchSize = 64

        @Option(help: "Adam's learning rate.")
        var lr = 3e-3

        @Option(help: "Seed for the data split, initialisation, dropout and shuffling.")
        var seed: UInt64 = 42

        @Option(help: "Directory for checkpoints (in <root>/checkpoints) and logs.")
        var defaultRootDir = "cairn_logs"

        func validate() throws {
            guard maxEpochs > 0 else { throw ValidationError("--max-epochs must be at least 1, got \(maxEpochs)") }
            guard batchSize > 0 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
            guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
        }

        func run() throws {
            let settings = DigitsRun.Settings(
                dataPath: data, maxEpochs: maxEpochs, batchSize: batchSize, learningRate: lr, seed: seed,
                checkpointDirectory: URL(fileURLWithPath: defaultRootDir).appendingPathComponent("checkpoints"))
            do {
                try DigitsRun(settings).fit()
            } catch {
                // Errors from data or files are one clear line, not a stack trace.
                FileHandle.standardError.write(Data("cairn: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
    }
}

import ArgumentParser
import Cairn
import Foundation

/// What `validate` and `test` share: restore, run one stage, print its metrics.
protocol EvaluationCommand: ParsableCommand {
    var options: RunOptions { get }
    var json: Bool { get }
    func evaluate(_ trainer: Trainer, _ module: DigitsClassifier, _ data: DigitsDataModule,
                  _ selection: CheckpointSelection?) throws -> [String: Double]
}

extension EvaluationCommand {
    func run() throws {
        try reportingErrors {
            let trainer = try options.trainer(printing: false)
            let metrics = try evaluate(trainer, options.module, options.dataModule, options.selection(default: .best))
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(metrics), as: UTF8.self))
            } else {
                print(formatted(metrics))
            }
        }
    }
}

extension CairnCommand {
    /// `cairn validate`: the validation metrics of a checkpoint (best by default).
    struct Validate: EvaluationCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a checkpoint (default: best) and print val_loss and val_acc.")
        @OptionGroup var options: RunOptions
        @Flag(help: "Print the metrics as one JSON object and nothing else.")
        var json = false

        func evaluate(_ trainer: Trainer, _ module: DigitsClassifier, _ data: DigitsDataModule,
                      _ selection: CheckpointSelection?) throws -> [String: Double] {
            try trainer.validate(module, data: data, ckptPath: selection)
        }
    }

    /// `cairn test`: the test metrics of a checkpoint (best by default).
    struct Test: EvaluationCommand {
        static let configuration = CommandConfiguration(abstract: "Test a checkpoint (default: best) and print test_loss and test_acc.")
        @OptionGroup var options: RunOptions
        @Flag(help: "Print the metrics as one JSON object and nothing else.")
        var json = false

        func evaluate(_ trainer: Trainer, _ module: DigitsClassifier, _ data: DigitsDataModule,
                      _ selection: CheckpointSelection?) throws -> [String: Double] {
            try trainer.test(module, data: data, ckptPath: selection)
        }
    }

    /// `cairn predict`: the predicted class of every test row, one per line.
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Predict the test split's classes with a checkpoint (default: best).")
        @OptionGroup var options: RunOptions

        func run() throws {
            try reportingErrors {
                let trainer = try options.trainer(printing: false)
                let outputs = try trainer.predict(options.module, data: options.dataModule, ckptPath: options.selection(default: .best))
                for logits in outputs {
                    for label in logits.argmax(axis: 1).integers { print(label) }
                }
            }
        }
    }
}

import ArgumentParser
import Cairn
import Foundation

/// What `validate` and `test` share: restore, run one stage, print its metrics.
protocol EvaluationCommand: ParsableCommand {
    var options: RunOptions { get }
    var json: Bool { get }
    /// `.validate` or `.test`.
    static var stage: Stage { get }
}

extension EvaluationCommand {
    func run() throws {
        try reportingErrors {
            let trainer = try options.trainer(printing: false)
            let selection = options.selection(default: .best)
            let example = try options.example()
            let metrics = Self.stage == .test
                ? try trainer.test(example.module, data: example.data, ckptPath: selection)
                : try trainer.validate(example.module, data: example.data, ckptPath: selection)
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
        static let configuration = CommandConfiguration(abstract: "Validate a checkpoint (default: best) and print val_loss and val_acc.", discussion: CairnCommand.exitStatusText)
        @OptionGroup var options: RunOptions
        @Flag(help: "Print the metrics as one JSON object and nothing else.")
        var json = false
        static let stage = Stage.validate
    }

    /// `cairn test`: the test metrics of a checkpoint (best by default).
    struct Test: EvaluationCommand {
        static let configuration = CommandConfiguration(abstract: "Test a checkpoint (default: best) and print test_loss and test_acc.", discussion: CairnCommand.exitStatusText)
        @OptionGroup var options: RunOptions
        @Flag(help: "Print the metrics as one JSON object and nothing else.")
        var json = false
        static let stage = Stage.test
    }

    /// `cairn predict`: the predicted class of every test row, one per line.
    struct Predict: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Predict the test split's classes with a checkpoint (default: best).", discussion: CairnCommand.exitStatusText)
        @OptionGroup var options: RunOptions

        func run() throws {
            try reportingErrors {
                guard options.model == .digits else {
                    throw ValidationError("predict classifies the digits; for --model charlm use `cairn generate`")
                }
                let trainer = try options.trainer(printing: false)
                let example = try options.example()
                let outputs = try trainer.predict(example.module, data: example.data, ckptPath: options.selection(default: .best))
                for logits in outputs {
                    for label in logits.argmax(axis: 1).integers { print(label) }
                }
            }
        }
    }
}

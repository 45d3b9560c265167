import ArgumentParser
import Cairn
import Foundation

/// The bundled examples `cairn` trains, chosen with `--model`.
enum ExampleModel: String, ExpressibleByArgument, CaseIterable {
    case digits, charlm
}

/// Flags only the character language model reads.
struct CharacterLMFlags: ParsableArguments {
    @Option(help: "charlm: transformer layers.")
    var layers = 2
    @Option(help: "charlm: embedding width.")
    var width = 64
    @Option(help: "charlm: attention heads (must divide the width).")
    var heads = 4
    @Option(help: "charlm: characters the model sees at once.")
    var context = 64
    @Option(help: "charlm: dropout in the transformer layers.")
    var dropout = 0.0
    @Option(help: "charlm: AdamW's weight decay.")
    var weightDecay = 0.1
    @Option(help: "charlm: characters between the starts of two training windows.")
    var stride = 1

    func validate() throws {
        guard layers >= 1, width >= 1, heads >= 1, context >= 1, stride >= 1 else {
            throw ValidationError("--layers, --width, --heads, --context and --stride must be at least 1")
        }
        guard width % heads == 0 else { throw ValidationError("--heads \(heads) must divide --width \(width)") }
        guard dropout >= 0, dropout < 1 else { throw ValidationError("--dropout must be in [0, 1), got \(dropout)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw ValidationError("--weight-decay must be ≥ 0, got \(weightDecay)") }
    }
}

/// The chosen example's module and data, built together (the language model's vocabulary comes from its text).
struct ExampleRun {
    let module: TrainingModule
    let data: DataModule
    /// One line about the data read, printed after fit.
    let dataSummary: () -> String?
}

extension RunOptions {
    /// The module and data `--model` names, with this run's flags.
    func example() throws -> ExampleRun {
        switch model {
        case .digits:
            let data = DigitsDataModule(path: self.data, batchSize: batchSize ?? 64, seed: seed)
            return ExampleRun(module: DigitsClassifier(lr: lr, seed: seed), data: data) { [dataDescription] in
                data.splitSizes.map { "\(dataDescription): \($0.train) train, \($0.validation) validation, \($0.test) test" }
            }
        case .charlm:
            let data = CharacterLMDataModule(path: self.data, context: charlm.context, batchSize: batchSize ?? 32,
                                             stride: charlm.stride, seed: seed)
            try data.setup(stage: .fit)
            guard let vocabulary = data.vocabulary else { throw ValidationError("no text was read") }
            let settings = CharacterLMHyperparameters(vocabulary: vocabulary.saved, layers: charlm.layers, width: charlm.width,
                                                      heads: charlm.heads, context: charlm.context, dropout: charlm.dropout,
                                                      lr: lr, weightDecay: charlm.weightDecay, seed: seed)
            return ExampleRun(module: CharacterLM(vocabulary: vocabulary, settings: settings), data: data) { [dataDescription] in
                data.splitSizes.map { "\(dataDescription): \($0.train) training and \($0.heldOut) validation characters, \(vocabulary.count)-character vocabulary" }
            }
        }
    }
}

import CairnData
import CairnNN
import CairnOptim
import CairnTensor
import CairnTrainer
import Foundation

/// The hyper-parameters ``CharacterLM`` saves under `/hyper_parameters`, vocabulary included, so
/// a checkpoint alone is enough to generate text.
public struct CharacterLMHyperparameters: Codable, Sendable, Equatable {
    /// The characters (Unicode scalars), in token order.
    public var vocabulary: String
    public var layers: Int
    public var width: Int
    public var heads: Int
    /// Tokens the model sees at once.
    public var context: Int
    public var dropout: Double
    /// AdamW's learning rate and weight decay.
    public var lr: Double
    public var weightDecay: Double
    /// Seed of the initial weights and dropout.
    public var seed: UInt64

    /// The reference configuration: 2 layers, width 64, 4 heads, context 64, AdamW 3e-3 with weight decay 0.1.
    public init(vocabulary: String, layers: Int = 2, width: Int = 64, heads: Int = 4, context: Int = 64,
                dropout: Double = 0, lr: Double = 3e-3, weightDecay: Double = 0.1, seed: UInt64 = 42) {
        self.vocabulary = vocabulary
        self.layers = layers
        self.width = width
        self.heads = heads
        self.context = context
        self.dropout = dropout
        self.lr = lr
        self.weightDecay = weightDecay
        self.seed = seed
    }
}

/// Characters to token ids and back: one id per Unicode scalar of the training text, in sorted order.
public struct CharacterVocabulary: Sendable, Equatable {
    /// The scalars, in id order.
    public let scalars: [Unicode.Scalar]
    private let ids: [Unicode.Scalar: Int64]

    /// Every scalar `text` holds.
    public init(text: String) {
        self.init(scalars: Array(Set(text.unicodeScalars)).sorted { $0.value < $1.value })
    }

    /// The vocabulary a checkpoint saved (``CharacterLMHyperparameters/vocabulary``).
    public init(saved: String) {
        self.init(scalars: Array(saved.unicodeScalars))
    }

    private init(scalars: [Unicode.Scalar]) {
        self.scalars = scalars
        ids = Dictionary(scalars.enumerated().map { ($1, Int64($0)) }, uniquingKeysWith: { first, _ in first })
    }

    public var count: Int { scalars.count }
    /// The vocabulary as one string, for saving.
    public var saved: String { String(String.UnicodeScalarView(scalars)) }

    /// The ids of `text`; throws naming the characters the vocabulary lacks.
    public func encode(_ text: String) throws -> [Int64] {
        let unknown = Set(text.unicodeScalars.filter { ids[$0] == nil })
        guard unknown.isEmpty else {
            throw CharacterLMError.unknownCharacters(unknown.sorted { $0.value < $1.value }.map { $0.escaped(asASCII: true) })
        }
        return text.unicodeScalars.compactMap { ids[$0] }
    }

    /// The text of `ids` (ids outside the vocabulary are skipped).
    public func decode(_ tokens: [Int64]) -> String {
        String(String.UnicodeScalarView(tokens.compactMap { $0 >= 0 && $0 < Int64(scalars.count) ? scalars[Int($0)] : nil }))
    }
}

/// Why text could not be generated.
public enum CharacterLMError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The prompt holds characters the model never saw.
    case unknownCharacters([String])
    /// A length or temperature out of range.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .unknownCharacters(characters): "the prompt holds characters the model's vocabulary lacks: \(characters.joined(separator: " "))"
        case let .invalidArgument(reason): reason
        }
    }
}

/// A character-level transformer language model: token and position embeddings, pre-norm
/// encoder layers under a causal mask, a final LayerNorm and an output layer tied to the token
/// embedding. Logs `train_loss` and `val_loss` in nats per character; AdamW.
public final class CharacterLM: TrainingModule, CheckpointLoadable, @unchecked Sendable {
    public let embedding: Embedding
    public let positions: Embedding
    public let blocks: [TransformerEncoderLayer]
    public let norm: LayerNorm
    public let head: Linear
    public let settings: CharacterLMHyperparameters
    public let vocabulary: CharacterVocabulary

    public init(hyperparameters settings: CharacterLMHyperparameters) {
        var rng = RandomGenerator(seed: settings.seed)
        vocabulary = CharacterVocabulary(saved: settings.vocabulary)
        embedding = Embedding(max(vocabulary.count, 1), settings.width, rng: &rng)
        positions = Embedding(settings.context, settings.width, rng: &rng)
        blocks = (0..<settings.layers).map { _ in
            TransformerEncoderLayer(dModel: settings.width, nhead: settings.heads, dimFeedforward: 4 * settings.width,
                                    dropout: Float(settings.dropout), activation: .gelu, batchFirst: true, normFirst: true, rng: &rng)
        }
        norm = LayerNorm([settings.width])
        head = Linear(tying: embedding.weight)
        self.settings = settings
        super.init()
        // Strings and numbers always encode.
        try? saveHyperparameters(settings)
    }

    // Dense layers start small, as GPT-style models do; the tied table stays N(0, 0.02) so the
    // first logits are near uniform rather than tens of nats off.
    /// A model for `vocabulary` with the rest of `settings`' values.
    public convenience init(vocabulary: CharacterVocabulary, settings: CharacterLMHyperparameters) {
        var settings = settings
        settings.vocabulary = vocabulary.saved
        self.init(hyperparameters: settings)
        embedding.weight.value.withUnsafeMutableScalars { scalars in
            for index in scalars.indices { scalars[index] *= 0.02 }
        }
        positions.weight.value.withUnsafeMutableScalars { scalars in
            for index in scalars.indices { scalars[index] *= 0.02 }
        }
    }

    /// Logits `[B, T, V]` for token ids `[B, T]` (T at most the context).
    override public func forward(_ tokens: Tensor) -> Tensor {
        let length = tokens.shape[1]
        var x = embedding(tokens) + positions(Tensor(indices: Array(0..<length)))
        let mask = MultiheadAttention.causalMask(length)
        for block in blocks { x = block.encode(x, attentionMask: mask) }
        return head(norm(x))
    }

    /// The batch's next-character loss in nats, logged as `name`.
    private func loss(_ batch: Batch, logging name: String, progressBar: Bool) throws -> Tensor {
        let loss = Loss.sequenceCrossEntropy(self(try batch.tensor("tokens")), try batch.tensor("targets"))
        log(name, loss, progressBar: progressBar)
        return loss
    }

    override public func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        try loss(batch, logging: "train_loss", progressBar: true)
    }

    override public func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        try loss(batch, logging: "val_loss", progressBar: true)
    }

    override public func testStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        try loss(batch, logging: "test_loss", progressBar: false)
    }

    override public func configureOptimizers() throws -> Optimizer {
        AdamW(parameters(), lr: settings.lr, weightDecay: settings.weightDecay)
    }

    /// `length` characters continuing `prompt`, sampled at `temperature` (0 picks the likeliest
    /// each time) from a generator seeded by `seed`: the same arguments give the same text.
    public func generate(prompt: String, length: Int, temperature: Double = 1, seed: UInt64 = 0) throws -> String {
        guard length >= 0 else { throw CharacterLMError.invalidArgument("length \(length) must not be negative") }
        guard temperature >= 0, temperature.isFinite else { throw CharacterLMError.invalidArgument("temperature \(temperature) must be finite and ≥ 0") }
        var tokens = try vocabulary.encode(prompt)
        if tokens.isEmpty { tokens = [0] }
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        var rng = RandomGenerator(seed: seed)
        var generated: [Int64] = []
        try withNoGrad {
            for _ in 0..<length {
                let window = Array(tokens.suffix(settings.context))
                let logits = self(Tensor(indices: window.map(Int.init), shape: [1, window.count]))
                let last = Array(logits.scalars.suffix(vocabulary.count))
                let next = Int64(try Self.sample(last, temperature: temperature, rng: &rng))
                tokens.append(next)
                generated.append(next)
            }
        }
        return vocabulary.decode(generated)
    }

    static func sample(_ logits: [Float], temperature: Double, rng: inout RandomGenerator) throws -> Int {
        guard let best = logits.indices.max(by: { logits[$0] < logits[$1] }) else {
            throw CharacterLMError.invalidArgument("empty vocabulary")
        }
        if temperature == 0 { return best }
        let scaled = logits.map { Double($0 - logits[best]) / temperature }
        let weights = scaled.map { Foundation.exp($0) }
        var threshold = Double(rng.nextUniform()) * weights.reduce(0, +)
        for (index, weight) in weights.enumerated() {
            threshold -= weight
            if threshold < 0 { return index }
        }
        return best
    }
}

/// `fortunes.txt` (or another UTF-8 text) as token windows: the first 90 % for training
/// (windows every `stride` characters, shuffled), the last 10 % for validation and test
/// (non-overlapping windows, in order).
public final class CharacterLMDataModule: DataModule, @unchecked Sendable {
    /// The text file; nil reads the copy bundled with CairnExamples (``BundledData/fortunesText``).
    public let path: String?
    public let context: Int
    public let batchSize: Int
    public let stride: Int
    public let seed: UInt64
    public private(set) var vocabulary: CharacterVocabulary?
    private var train: TokenWindowDataset?
    private var heldOut: TokenWindowDataset?

    public init(path: String? = nil, context: Int = 64, batchSize: Int = 32, stride: Int = 1, seed: UInt64 = 42) {
        precondition(context >= 1 && batchSize >= 1 && stride >= 1, "CharacterLMDataModule: context, batch size and stride must be positive")
        self.path = path
        self.context = context
        self.batchSize = batchSize
        self.stride = stride
        self.seed = seed
    }

    /// The file read: `path`, or the bundled copy.
    public func resolvedPath() throws -> String {
        if let path { return path }
        return try BundledData.fortunesText().path
    }

    /// Characters in the train and held-out parts (after setup).
    public var splitSizes: (train: Int, heldOut: Int)? {
        guard let train, let heldOut else { return nil }
        return (train.tokens.count, heldOut.tokens.count)
    }

    override public func setup(stage: Stage) throws {
        guard train == nil else { return }
        let file = try resolvedPath()
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw DatasetError.csv(.unreadable(file: file, reason: "not readable as UTF-8 text: \(error.localizedDescription)"))
        }
        let vocabulary = CharacterVocabulary(text: text)
        let tokens = try vocabulary.encode(text)
        let cut = tokens.count * 9 / 10
        train = try TokenWindowDataset(tokens: Array(tokens[..<cut]), window: context, stride: stride)
        heldOut = try TokenWindowDataset(tokens: Array(tokens[cut...]), window: context, stride: context)
        self.vocabulary = vocabulary
    }

    override public func trainLoader() throws -> (any BatchLoader)? {
        train.map { DataLoader($0, batchSize: batchSize, shuffle: true, seed: seed) }
    }

    override public func validationLoader() throws -> (any BatchLoader)? {
        heldOut.map { DataLoader($0, batchSize: batchSize, shuffle: false) }
    }

    override public func testLoader() throws -> (any BatchLoader)? { try validationLoader() }
}

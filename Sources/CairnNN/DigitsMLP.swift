import CairnTensor

/// The example classifier for the 8×8 digits data set: 64 → 128 (BatchNorm1d, ReLU,
/// Dropout) → 10 logits. Layers are named as a `Sequential` (`0.weight`, `1.running_mean`, …).
public final class DigitsMLP: Module, @unchecked Sendable {
    /// The layers: Linear, BatchNorm1d, ReLU, Dropout, Linear.
    public let network: Sequential

    /// A freshly initialised model; `seed` drives both the init and the dropout masks.
    public init(inputs: Int = 64, hidden: Int = 128, classes: Int = 10, dropout: Float = 0.1, seed: UInt64 = 0) {
        var rng = RandomGenerator(seed: seed)
        network = Sequential([
            Linear(inputs, hidden, rng: &rng),
            BatchNorm1d(hidden),
            ReLU(),
            Dropout(p: dropout, seed: seed &+ 1),
            Linear(hidden, classes, rng: &rng),
        ])
        super.init()
    }

    // The wrapper adds no path segment, so keys read as those of the Sequential itself.
    override public var members: [(name: String, member: Member)] { network.members }

    override public func forward(_ input: Tensor) -> Tensor { network(input) }
}

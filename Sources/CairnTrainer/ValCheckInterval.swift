extension Trainer {
    /// How often validation runs within training (Lightning's `val_check_interval`): an integer
    /// literal is a batch count, a floating-point literal a fraction of the training epoch.
    public enum ValCheckInterval: Sendable, Equatable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
        CustomStringConvertible {
        /// Every this many training batches (within the epoch, or across epochs when
        /// `checkValEveryNEpoch` is nil).
        case batches(Int)
        /// Every `max(1, ⌊batches per epoch × fraction⌋)` batches of the epoch; 1.0 is the epoch's end.
        case fraction(Double)

        public init(integerLiteral value: Int) { self = .batches(value) }
        public init(floatLiteral value: Double) { self = .fraction(value) }

        public var description: String {
            switch self {
            case let .batches(count): "\(count)"
            case let .fraction(fraction): "\(fraction)"
            }
        }

        /// The batch period within an epoch of `batchesPerEpoch` batches (Lightning's `val_check_batch`).
        func period(batchesPerEpoch: Int) -> Int {
            switch self {
            case let .batches(count): count
            case let .fraction(fraction): max(1, Int(Double(batchesPerEpoch) * fraction))
            }
        }

        /// Whether validation happens only at the epoch's end, as with no interval at all.
        var isWholeEpoch: Bool { self == .fraction(1) }

        /// Why the interval is invalid, or nil (programming errors in the options).
        var problem: String? {
            switch self {
            case let .batches(count) where count < 1: "valCheckInterval \(count) must be at least 1 batch"
            case let .fraction(fraction) where !(fraction >= 0 && fraction <= 1):
                "valCheckInterval \(fraction) must be a fraction within 0...1 of the epoch"
            default: nil
            }
        }
    }
}

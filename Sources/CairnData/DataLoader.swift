import CairnTensor


/// Yields example indices epoch by epoch; its state (seed, epoch, position) is enough to
/// resume mid-epoch, because the order of epoch `e` depends on `(seed, e)` only.
public struct StatefulSampler: Sendable, Equatable {
    /// Number of examples sampled each epoch.
    public let count: Int
    /// Whether each epoch uses a fresh permutation (otherwise `0..<count`).
    public let shuffle: Bool
    /// Seed of every epoch's permutation.
    public private(set) var seed: UInt64
    /// The current epoch, from 0.
    public private(set) var epoch: Int
    /// How many indices of the current epoch were already handed out.
    public private(set) var position: Int
    /// The current epoch's order, kept so each batch does not rebuild the permutation.
    private var cachedOrder: (epoch: Int, seed: UInt64, indices: [Int])?

    /// A sampler at the start of epoch 0.
    public init(count: Int, shuffle: Bool, seed: UInt64) {
        precondition(count >= 0, "StatefulSampler: count \(count) is negative")
        self.count = count
        self.shuffle = shuffle
        self.seed = seed
        epoch = 0
        position = 0
    }

    /// The index order of `epoch`.
    public func order(epoch: Int) -> [Int] {
        guard shuffle else { return Array(0..<count) }
        // Mixing the epoch into the seed gives each epoch an independent stream.
        var rng = RandomGenerator(seed: seed ^ (UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15))
        return rng.permutation(count)
    }

    /// Up to `size` next indices of the current epoch (empty at its end).
    public mutating func next(_ size: Int) -> [Int] {
        let end = Swift.min(position + size, count)
        guard position < end else { return [] }
        let indices: [Int]
        if let cached = cachedOrder, cached.epoch == epoch, cached.seed == seed {
            indices = cached.indices
        } else {
            indices = order(epoch: epoch)
            cachedOrder = (epoch, seed, indices)
        }
        let picked = Array(indices[position..<end])
        position = end
        return picked
    }

    /// How many indices remain in the current epoch.
    public var remaining: Int { count - position }

    /// Moves to the start of the next epoch.
    public mutating func startNextEpoch() {
        epoch += 1
        position = 0
    }

    /// Samplers are equal when they would yield the same indices from now on.
    public static func == (lhs: StatefulSampler, rhs: StatefulSampler) -> Bool {
        lhs.count == rhs.count && lhs.shuffle == rhs.shuffle && lhs.seed == rhs.seed
            && lhs.epoch == rhs.epoch && lhs.position == rhs.position
    }

    /// `{"seed", "epoch", "position"}`.
    public func stateDict() -> StateValue {
        .dict(["seed": .int(Int64(bitPattern: seed)), "epoch": .int(Int64(epoch)), "position": .int(Int64(position))])
    }

    /// Resumes from ``stateDict()``; throws when an entry is missing or out of range.
    public mutating func loadStateDict(_ state: StateValue) throws {
        let seed = try state.required("seed", path: "sampler").int(path: "sampler.seed")
        let epoch = try state.required("epoch", path: "sampler").int(path: "sampler.epoch")
        let position = try state.required("position", path: "sampler").int(path: "sampler.position")
        guard epoch >= 0, epoch <= Int64(Int.max) else { throw StateValueError.invalid(path: "sampler.epoch", reason: "\(epoch) is negative") }
        guard position >= 0, position <= Int64(count) else {
            throw StateValueError.invalid(path: "sampler.position", reason: "\(position) outside 0...\(count)")
        }
        self.seed = UInt64(bitPattern: seed)
        self.epoch = Int(epoch)
        self.position = Int(position)
    }
}

/// Groups a data set into batches with optional shuffling and drop-last; resumable mid-epoch.
/// Examples become a batch through `collate`, by default ``Collation/stack(_:indices:)``.
public final class DataLoader<Source: Dataset>: @unchecked Sendable {
    /// The examples.
    public let dataset: Source
    /// Examples per batch (the last may be smaller unless `dropLast`).
    public let batchSize: Int
    /// Whether an incomplete final batch is skipped.
    public let dropLast: Bool
    /// The order of examples and the resume point.
    public private(set) var sampler: StatefulSampler
    /// Turns a batch's examples into the batch.
    public let collate: Collate

    /// A loader over `dataset`; `seed` fixes every epoch's shuffle.
    public init(_ dataset: Source, batchSize: Int, shuffle: Bool = true, dropLast: Bool = false, seed: UInt64 = 0,
                collate: @escaping Collate = Collation.stack) {
        precondition(batchSize > 0, "DataLoader: batch size \(batchSize) must be positive")
        self.dataset = dataset
        self.batchSize = batchSize
        self.dropLast = dropLast
        self.collate = collate
        sampler = StatefulSampler(count: dataset.count, shuffle: shuffle, seed: seed)
    }

    /// The current epoch, from 0.
    public var epoch: Int { sampler.epoch }

    /// Batches per epoch.
    public var batchesPerEpoch: Int { dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize }

    /// The next batch of the current epoch, or nil at its end (the loader then moves to the next epoch).
    /// A collate error leaves the loader past that batch, as a failed batch in PyTorch does.
    public func nextBatch() throws -> Batch? {
        if sampler.remaining == 0 || (dropLast && sampler.remaining < batchSize) {
            sampler.startNextEpoch()
            return nil
        }
        return try batch(at: sampler.next(batchSize))
    }

    /// The rest of the current epoch's batches; afterwards the loader is at the next epoch.
    public func epochBatches() throws -> [Batch] {
        var batches: [Batch] = []
        while let batch = try nextBatch() { batches.append(batch) }
        return batches
    }

    /// The batch of the examples at `indices`, through ``collate``.
    public func batch(at indices: [Int]) throws -> Batch {
        try collate(indices.map { dataset.example(at: $0) }, indices)
    }

    /// The sampler state: `{"seed", "epoch", "position"}`.
    public func stateDict() -> StateValue { sampler.stateDict() }

    /// Resumes where ``stateDict()`` was taken.
    public func loadStateDict(_ state: StateValue) throws { try sampler.loadStateDict(state) }
}

import CairnTensor
import OrderedCollections

extension Module {
    /// The generator state of every ``Dropout`` by path (`{"3": [w0, w1, w2, w3]}`), so a
    /// resumed run draws the same masks; kept apart from ``stateDict()`` as torch keeps RNG
    /// state apart from model weights.
    public func randomStateDict() -> StateValue {
        var entries = OrderedDictionary<StateKey, StateValue>()
        for (path, module) in namedModules() {
            guard let dropout = module as? Dropout else { continue }
            entries[.string(path)] = .list(dropout.rng.state.map { .int(Int64(bitPattern: $0)) })
        }
        return .dict(entries)
    }

    /// Restores ``randomStateDict()``; every dropout must be present with a valid state,
    /// and nothing changes on error.
    public func loadRandomStateDict(_ saved: StateValue) throws {
        let entries = try saved.dictionary(path: "random")
        var restored: [(Dropout, RandomGenerator)] = []
        for (path, module) in namedModules() {
            guard let dropout = module as? Dropout else { continue }
            let entryPath = "random.\(path)"
            guard let entry = entries[.string(path)] else { throw StateValueError.missing(path: entryPath) }
            let words = try entry.list(path: entryPath).map { UInt64(bitPattern: try $0.int(path: entryPath)) }
            guard words.count == 4, words.contains(where: { $0 != 0 }) else {
                throw StateValueError.invalid(path: entryPath, reason: "needs four words, not all zero")
            }
            restored.append((dropout, try RandomGenerator(state: words)))
        }
        for (dropout, generator) in restored { dropout.rng = generator }
    }
}

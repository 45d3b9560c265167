import CairnTensor
import OrderedCollections

/// The base of the epoch-indexed learning-rate schedulers (torch.optim.lr_scheduler.LRScheduler):
/// it records `initial_lr` in each param group, steps `lastEpoch`, writes the lrs into the
/// optimizer and saves the same state dict entries as torch.
///
/// Subclasses compute the next lrs in ``computeLR()``, in torch's chainable form (from the
/// groups' current lrs) where torch's `get_lr` uses it, so the sequence matches torch's
/// floating-point numbers and composes with other schedulers acting on the same optimizer.
open class LRScheduler: @unchecked Sendable {
    /// The optimizer whose param-group lrs are scheduled.
    public let optimizer: Optimizer
    /// Steps taken so far; 0 after construction (torch's `last_epoch`).
    public internal(set) var lastEpoch: Int
    /// Each group's `initial_lr`, the reference of closed-form schedules (torch's `base_lrs`).
    public internal(set) var baseLRs: [Double]
    /// The lrs written by the latest step, one per group (torch's `get_last_lr()`).
    public internal(set) var lastLR: [Double] = []
    /// Calls of ``step()`` including the one made at construction (torch's `_step_count`).
    public internal(set) var stepCount = 0
    /// True only during the step made at construction, where most schedules keep the lrs.
    var isInitial = false

    /// Attaches to `optimizer` and takes torch's initial step. With `lastEpoch == -1` every
    /// group's current lr becomes its `initial_lr` unless one is already recorded (so a
    /// second scheduler on the same optimizer shares the first one's base lrs).
    public init(optimizer: Optimizer, lastEpoch: Int = -1) {
        self.optimizer = optimizer
        if lastEpoch == -1 {
            for index in optimizer.paramGroups.indices where optimizer.paramGroups[index].options["initial_lr"] == nil {
                optimizer.paramGroups[index].options["initial_lr"] = .double(optimizer.paramGroups[index].learningRate)
            }
        }
        let schedulerName = "\(Self.self)"
        baseLRs = optimizer.paramGroups.enumerated().map { index, group in
            guard let initial = try? group.options["initial_lr"]?.double(path: "initial_lr") else {
                preconditionFailure("\(schedulerName): param group \(index) has no 'initial_lr' to resume from (lastEpoch \(lastEpoch))")
            }
            return initial
        }
        self.lastEpoch = lastEpoch
        initialStep()
    }

    /// For compositions that take no initial step of their own (SequentialLR).
    init(composing optimizer: Optimizer, lastEpoch: Int) {
        self.optimizer = optimizer
        self.lastEpoch = lastEpoch
        baseLRs = optimizer.paramGroups.map { (try? $0.options["initial_lr"]?.double(path: "initial_lr")) ?? $0.learningRate }
    }

    func initialStep() {
        stepCount = 0
        isInitial = true
        step()
        isInitial = false
    }

    /// Advances one epoch (or batch) and writes the new lrs into the optimizer; call it after
    /// the optimizer's `step()`.
    open func step() {
        stepCount += 1
        lastEpoch += 1
        apply(computeLR())
    }

    /// Jumps to `epoch` using the closed form where the schedule has one (torch's deprecated
    /// `step(epoch)`, which SequentialLR uses at milestones), without counting a step.
    func jump(toEpoch epoch: Int) {
        lastEpoch = epoch
        apply(closedFormLR() ?? computeLR())
    }

    func apply(_ learningRates: [Double]) {
        precondition(learningRates.count == optimizer.paramGroups.count,
                     "\(type(of: self)): \(learningRates.count) lrs for \(optimizer.paramGroups.count) param groups")
        for (index, rate) in learningRates.enumerated() { optimizer.paramGroups[index].learningRate = rate }
        lastLR = currentLRs
    }

    /// The groups' lrs as they are now.
    var currentLRs: [Double] { optimizer.paramGroups.map(\.learningRate) }

    /// The lrs for ``lastEpoch`` (already advanced); subclasses implement torch's `get_lr`.
    open func computeLR() -> [Double] {
        preconditionFailure("\(type(of: self)) does not override computeLR")
    }

    /// The lrs for ``lastEpoch`` from ``baseLRs`` alone, where torch has `_get_closed_form_lr`.
    open func closedFormLR() -> [Double]? { nil }

    /// The scheduler's own options, in torch's state-dict order and names (`step_size`, `gamma`, …).
    open func optionsState() -> OrderedDictionary<StateKey, StateValue> { [:] }

    /// Restores options saved by ``optionsState()``; throws naming the entry when one is missing or malformed.
    open func loadOptionsState(_ saved: StateValue) throws {}

    /// Entries torch saves after the shared ones (LambdaLR's `lr_lambdas`).
    open func trailingState() -> OrderedDictionary<StateKey, StateValue> { [:] }

    /// What torch's `state_dict()` holds: the options, then `base_lrs`, `last_epoch`,
    /// `_step_count`, the two always-false call flags and `_last_lr`.
    open func stateDict() -> StateValue {
        var entries = optionsState()
        entries["base_lrs"] = .doubles(baseLRs)
        entries["last_epoch"] = .int(Int64(lastEpoch))
        entries["_step_count"] = .int(Int64(stepCount))
        entries["_is_initial"] = .bool(false)
        entries["_get_lr_called_within_step"] = .bool(false)
        entries["_last_lr"] = .doubles(lastLR)
        entries.merge(trailingState()) { _, trailing in trailing }
        return .dict(entries)
    }

    /// Restores a state saved by ``stateDict()`` (or torch's); the lrs in the optimizer are
    /// not touched, as in torch: restore the optimizer's own state dict alongside.
    open func loadStateDict(_ saved: StateValue) throws {
        let path = "\(type(of: self))"
        let groupCount = optimizer.paramGroups.count
        let bases = try saved.doubles("base_lrs", path: path, count: groupCount)
        let last = try saved.doubles("_last_lr", path: path, count: groupCount)
        let epoch = try saved.integer("last_epoch", path: path)
        let steps = try saved.integer("_step_count", path: path)
        try loadOptionsState(saved)
        baseLRs = bases
        lastLR = last
        lastEpoch = epoch
        stepCount = steps
    }
}

extension StateValue {
    /// A list of doubles, as torch saves lr lists.
    static func doubles(_ values: [Double]) -> StateValue { .list(values.map { .double($0) }) }

    /// The entry `key` of a dict as `count` numbers.
    func doubles(_ key: String, path: String, count: Int? = nil) throws -> [Double] {
        let entryPath = "\(path).\(key)"
        let values = try required(.string(key), path: path).list(path: entryPath).map { try $0.double(path: entryPath) }
        if let count, values.count != count {
            throw StateValueError.invalid(path: entryPath, reason: "\(values.count) values saved, optimizer has \(count) param groups")
        }
        return values
    }

    /// The entry `key` of a dict as a number.
    func number(_ key: String, path: String) throws -> Double {
        try required(.string(key), path: path).double(path: "\(path).\(key)")
    }

    /// The entry `key` of a dict as an integer that fits an `Int`.
    func integer(_ key: String, path: String) throws -> Int {
        let value = try required(.string(key), path: path).int(path: "\(path).\(key)")
        guard let converted = Int(exactly: value) else {
            throw StateValueError.invalid(path: "\(path).\(key)", reason: "\(value) out of range")
        }
        return converted
    }

    /// The entry `key` of a dict as a string.
    func text(_ key: String, path: String) throws -> String {
        let value = try required(.string(key), path: path)
        guard case let .string(text) = value else {
            throw StateValueError.wrongKind(path: "\(path).\(key)", expected: "string", found: value.kind)
        }
        return text
    }

    /// The entry `key` of a dict as a Bool.
    func flag(_ key: String, path: String) throws -> Bool {
        try required(.string(key), path: path).bool(path: "\(path).\(key)")
    }
}

import CairnTensor
import OrderedCollections

/// Runs schedulers one after another, switching at milestone epochs
/// (torch.optim.lr_scheduler.SequentialLR), e.g. a LinearLR warm-up then CosineAnnealingLR.
/// At each milestone the next scheduler restarts from its epoch 0 (its closed form).
public final class SequentialLR: LRScheduler, @unchecked Sendable {
    /// The schedulers, each active from its milestone to the next.
    public let schedulers: [LRScheduler]
    /// The epochs at which the next scheduler takes over (one fewer than schedulers).
    public let milestones: [Int]

    /// Composes `schedulers`, all built on `optimizer` beforehand, as torch does: construction
    /// resets the lrs to `initial_lr`, undoes each scheduler's initial step and redoes the first one's.
    public init(_ optimizer: Optimizer, schedulers: [LRScheduler], milestones: [Int], lastEpoch: Int = -1) {
        precondition(!schedulers.isEmpty, "SequentialLR: needs at least one scheduler")
        precondition(schedulers.allSatisfy { $0.optimizer === optimizer },
                     "SequentialLR: every scheduler must act on the same optimizer")
        precondition(milestones.count == schedulers.count - 1,
                     "SequentialLR: \(milestones.count) milestones for \(schedulers.count) schedulers (need one fewer)")
        self.schedulers = schedulers
        self.milestones = milestones
        super.init(composing: optimizer, lastEpoch: lastEpoch + 1)
        for index in optimizer.paramGroups.indices {
            guard let initial = try? optimizer.paramGroups[index].options["initial_lr"]?.double(path: "initial_lr") else {
                preconditionFailure("SequentialLR: param group \(index) has no 'initial_lr'")
            }
            optimizer.paramGroups[index].learningRate = initial
        }
        undoInitialSteps()
        let first = schedulers[activeIndex(at: 0)]
        first.initialStep()
        lastLR = first.lastLR
    }

    /// torch's `recursive_undo`: nested compositions pass the undo to their own schedulers.
    private func undoInitialSteps() {
        for scheduler in schedulers {
            if let nested = scheduler as? SequentialLR { nested.undoInitialSteps() } else { scheduler.lastEpoch -= 1 }
        }
    }

    /// Python's `bisect_right(milestones, epoch)`: the index of the scheduler active at `epoch`.
    private func activeIndex(at epoch: Int) -> Int { milestones.filter { $0 <= epoch }.count }

    override public func step() {
        lastEpoch += 1
        let index = activeIndex(at: lastEpoch)
        let scheduler = schedulers[index]
        if index > 0 && milestones[index - 1] == lastEpoch {
            scheduler.jump(toEpoch: 0)
        } else {
            scheduler.step()
        }
        lastLR = scheduler.lastLR
    }

    /// torch's layout: `_milestones`, `last_epoch`, `_last_lr`, then each scheduler's state dict.
    override public func stateDict() -> StateValue {
        .dict(["_milestones": .list(milestones.map { .int(Int64($0)) }), "last_epoch": .int(Int64(lastEpoch)),
               "_last_lr": .doubles(lastLR), "_schedulers": .list(schedulers.map { $0.stateDict() })])
    }

    override public func loadStateDict(_ saved: StateValue) throws {
        let path = "SequentialLR"
        let savedMilestones = try saved.required("_milestones", path: path).list(path: "\(path)._milestones")
            .map { try Int(exactly: $0.int(path: "\(path)._milestones")) }
        guard savedMilestones == milestones.map(Optional.some) else {
            throw StateValueError.invalid(path: "\(path)._milestones", reason: "saved \(savedMilestones), scheduler has \(milestones)")
        }
        let children = try saved.required("_schedulers", path: path).list(path: "\(path)._schedulers")
        guard children.count == schedulers.count else {
            throw StateValueError.invalid(path: "\(path)._schedulers", reason: "\(children.count) saved, \(schedulers.count) composed")
        }
        let epoch = try saved.integer("last_epoch", path: path)
        let last = try saved.doubles("_last_lr", path: path, count: optimizer.paramGroups.count)
        // A later child failing must not leave the earlier ones loaded: put them back.
        let backups = schedulers.map { $0.stateDict() }
        do {
            for (scheduler, child) in zip(schedulers, children) { try scheduler.loadStateDict(child) }
        } catch {
            for (scheduler, backup) in zip(schedulers, backups) { try? scheduler.loadStateDict(backup) }
            throw error
        }
        lastEpoch = epoch
        lastLR = last
    }
}

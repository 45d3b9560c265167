import CairnNN
import CairnOptim
import CairnTensor
import Foundation
import Testing

@Suite struct SchedulerStateTests {
    /// Stop after `stop` steps, save scheduler and optimizer, restore both into fresh objects
    /// (scheduler built first, as torch advises, then the saved states loaded), continue:
    /// the lrs equal an uninterrupted run bit for bit.
    @Test(arguments: SchedulerCases.names, [3, 12])
    func resumedRunMatchesUninterruptedRun(_ name: String, stop: Int) throws {
        let steps = 30
        let uninterrupted = SchedulerCases.run(name, steps: steps)

        let firstOptimizer = SchedulerCases.optimizer(for: name)
        let first = SchedulerCases.scheduler(name, on: firstOptimizer)
        var resumed = [firstOptimizer.paramGroups.map(\.learningRate)]
        for index in 0..<stop {
            first.step(index)
            resumed.append(firstOptimizer.paramGroups.map(\.learningRate))
        }
        let savedScheduler = first.stateDict(), savedOptimizer = firstOptimizer.stateDict()

        let optimizer = SchedulerCases.optimizer(for: name)
        let scheduler = SchedulerCases.scheduler(name, on: optimizer)
        try optimizer.loadStateDict(savedOptimizer)
        try scheduler.loadStateDict(savedScheduler)
        #expect(scheduler.stateDict() == savedScheduler)
        for index in stop..<steps {
            scheduler.step(index)
            resumed.append(optimizer.paramGroups.map(\.learningRate))
        }
        #expect(resumed == uninterrupted)
    }

    @Test(arguments: SchedulerCases.names)
    func stateDictRoundTripsThroughAFreshScheduler(_ name: String) throws {
        let optimizer = SchedulerCases.optimizer(for: name)
        let scheduler = SchedulerCases.scheduler(name, on: optimizer)
        for index in 0..<9 { scheduler.step(index) }
        let saved = scheduler.stateDict()
        let fresh = SchedulerCases.scheduler(name, on: SchedulerCases.optimizer(for: name))
        #expect(fresh.stateDict() != saved)
        try fresh.loadStateDict(saved)
        #expect(fresh.stateDict() == saved)
        #expect(fresh.lastLR == scheduler.lastLR)
    }

    @Test func schedulersRecordInitialLRInEveryGroup() {
        let optimizer = SchedulerCases.optimizer(for: "step")
        _ = StepLR(optimizer, stepSize: 2)
        #expect(optimizer.paramGroups.map(\.options["initial_lr"]) == [.double(0.1), .double(0.05)])
        // A second scheduler keeps the recorded initial_lr, so its base lrs are the originals.
        optimizer.paramGroups[0].learningRate = 0.5
        let second = ExponentialLR(optimizer, gamma: 0.5)
        #expect(second.baseLRs == [0.1, 0.05])
        #expect(optimizer.stateDict()["param_groups"].map { value -> Bool in
            guard case let .list(groups) = value, case let .dict(entries) = groups[0] else { return false }
            return entries["initial_lr"] == .double(0.1)
        } == true)
    }

    @Test func chainedSchedulersComposeMultiplicatively() {
        // The recursive forms act on the current lr, so two schedulers on one optimizer combine.
        let optimizer = SchedulerCases.optimizer(for: "step")
        let exponential = ExponentialLR(optimizer, gamma: 0.9)
        let step = StepLR(optimizer, stepSize: 2, gamma: 0.5)
        for _ in 0..<4 {
            exponential.step()
            step.step()
        }
        let expected = 0.1 * pow(0.9, 4) * 0.25
        #expect(abs(optimizer.paramGroups[0].learningRate - expected) <= 1e-15)
    }

    @Test func lambdaLRSavesNullsForItsClosures() {
        let scheduler = LambdaLR(SchedulerCases.optimizer(for: "lambda"), lambda: { Double($0 + 1) })
        scheduler.step()
        #expect(scheduler.lastLR == [0.2, 0.1])
        #expect(scheduler.stateDict()["lr_lambdas"] == .list([.null, .null]))
    }

    @Test func malformedStateThrowsNamingTheEntryAndChangesNothing() throws {
        let scheduler = CosineAnnealingLR(SchedulerCases.optimizer(for: "cosine"), tMax: 10)
        scheduler.step()
        let before = scheduler.stateDict()
        guard case var .dict(entries) = before else { Issue.record("state is not a dict"); return }
        entries["T_max"] = .string("ten")
        #expect(throws: StateValueError.wrongKind(path: "CosineAnnealingLR.T_max", expected: "int", found: "string")) {
            try scheduler.loadStateDict(.dict(entries))
        }
        entries["T_max"] = .int(10)
        entries["base_lrs"] = .list([.double(0.1)])
        #expect(throws: StateValueError.self) { try scheduler.loadStateDict(.dict(entries)) }
        #expect(scheduler.stateDict() == before)

        let plateau = ReduceLROnPlateau(SchedulerCases.optimizer(for: "plateau_max_abs"), mode: .max)
        guard case var .dict(plateauEntries) = plateau.stateDict() else { Issue.record("state is not a dict"); return }
        plateauEntries["mode"] = .string("sideways")
        #expect(throws: StateValueError.invalid(path: "ReduceLROnPlateau.mode", reason: "unknown mode 'sideways'")) {
            try plateau.loadStateDict(.dict(plateauEntries))
        }
        #expect(plateau.mode == .max)
    }

    @Test func sequentialLRRejectsStateOfAnotherComposition() throws {
        let optimizer = SchedulerCases.optimizer(for: "sequential_linear_cosine")
        let sequential = SequentialLR(optimizer, schedulers: [LinearLR(optimizer, totalIters: 3), ExponentialLR(optimizer, gamma: 0.9)],
                                      milestones: [3])
        guard case var .dict(entries) = sequential.stateDict() else { Issue.record("state is not a dict"); return }
        entries["_milestones"] = .list([.int(4)])
        #expect(throws: StateValueError.self) { try sequential.loadStateDict(.dict(entries)) }

        // A broken second child leaves the first one as it was.
        for _ in 0..<2 { sequential.step() }
        let before = sequential.stateDict()
        guard case var .dict(broken) = before, case var .list(children) = broken["_schedulers"],
              case var .dict(exponential) = children[1], case var .dict(linear) = children[0] else {
            Issue.record("unexpected SequentialLR state layout"); return
        }
        linear["last_epoch"] = .int(0)
        exponential["gamma"] = .string("steep")
        children[0] = .dict(linear)
        children[1] = .dict(exponential)
        broken["_schedulers"] = .list(children)
        #expect(throws: StateValueError.self) { try sequential.loadStateDict(.dict(broken)) }
        #expect(sequential.stateDict() == before)
    }

    @Test func plateauReducesAfterPatienceAndRespectsTheFloor() {
        let optimizer = SchedulerCases.optimizer(for: "plateau_min_cooldown")
        let plateau = ReduceLROnPlateau(optimizer, factor: 0.5, patience: 1, minLR: [0.04])
        for metric in [1.0, 1.0, 1.0] { plateau.step(metric) }
        #expect(plateau.lastLR == [0.05, 0.04])
        #expect(plateau.numBadEpochs == 0)
        for metric in [1.0, 1.0] { plateau.step(metric) }
        #expect(plateau.lastLR == [0.04, 0.04])
    }
}

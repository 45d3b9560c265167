import CairnNN
import CairnOptim
import CairnTensor
import Foundation
import Testing

/// Differences between our state and torch's JSON, as readable paths (empty when they match).
func stateMismatches(_ ours: StateValue, _ torch: JSONValue, path: String = "state") -> [String] {
    func close(_ actual: Double, _ expected: Double) -> Bool {
        actual == expected || abs(actual - expected) <= 1e-9 * abs(expected)
    }
    switch (ours, torch) {
    case let (.dict(entries), .object(expected)):
        let ourKeys = Set(entries.keys.map(\.description)), torchKeys = Set(expected.keys)
        guard ourKeys == torchKeys else {
            return ["\(path): keys \(ourKeys.sorted()) vs torch \(torchKeys.sorted())"]
        }
        return entries.flatMap { key, value in stateMismatches(value, expected[key.description] ?? .null, path: "\(path).\(key)") }
    case let (.list(values), .array(expected)):
        guard values.count == expected.count else { return ["\(path): \(values.count) entries vs torch \(expected.count)"] }
        return zip(values, expected).enumerated().flatMap { index, pair in stateMismatches(pair.0, pair.1, path: "\(path).\(index)") }
    case let (.int(value), .number(expected)):
        return Double(value) == expected ? [] : ["\(path): \(value) vs torch \(expected)"]
    case let (.double(value), .number(expected)):
        return close(value, expected) ? [] : ["\(path): \(value) vs torch \(expected)"]
    case let (.double(value), .string(text)) where value.isInfinite:
        return text == (value > 0 ? "inf" : "-inf") ? [] : ["\(path): \(value) vs torch \(text)"]
    case let (.string(value), .string(expected)):
        return value == expected ? [] : ["\(path): \(value) vs torch \(expected)"]
    case let (.bool(value), .bool(expected)):
        return value == expected ? [] : ["\(path): \(value) vs torch \(expected)"]
    case (.null, .null):
        return []
    default:
        return ["\(path): \(ours.kind) vs torch \(torch)"]
    }
}

@Suite struct SchedulerTorchTests {
    @Test func fixtureHoldsEveryCase() {
        #expect(SchedulerCases.fixture["cases"].array.map(\.["name"].string) == SchedulerCases.names)
    }

    @Test(arguments: SchedulerCases.names)
    func learningRatesMatchTorch(_ name: String) {
        let expected = SchedulerCases.fixtureCase(name)["lrs"].array.map { $0.array.map(\.number) }
        let actual = SchedulerCases.run(name, steps: expected.count - 1)
        #expect(expected.count == 31)
        for (step, (ours, theirs)) in zip(actual, expected).enumerated() {
            #expect(ours.count == theirs.count)
            for (value, reference) in zip(ours, theirs) {
                #expect(abs(value - reference) <= 1e-6 * abs(reference), "\(name) step \(step): \(ours) vs torch \(theirs)")
            }
        }
    }

    @Test(arguments: ["onecycle_cos", "onecycle_linear_three_phase"])
    func oneCycleMomentumsMatchTorch(_ name: String) {
        let expected = SchedulerCases.fixtureCase(name)["momentums"].array.map { $0.array.map(\.number) }
        let optimizer = SchedulerCases.optimizer(for: name)
        let scheduler = SchedulerCases.scheduler(name, on: optimizer)
        var actual = [SchedulerCases.momentums(optimizer)]
        for index in 0..<(expected.count - 1) {
            scheduler.step(index)
            actual.append(SchedulerCases.momentums(optimizer))
        }
        #expect(!expected.isEmpty)
        for (step, (ours, theirs)) in zip(actual, expected).enumerated() {
            for (value, reference) in zip(ours, theirs) {
                #expect(abs(value - reference) <= 1e-9 * abs(reference), "\(name) step \(step): \(ours) vs torch \(theirs)")
            }
        }
    }

    @Test(arguments: SchedulerCases.names)
    func stateDictAndGroupOptionsMatchTorch(_ name: String) {
        let fixture = SchedulerCases.fixtureCase(name)
        let optimizer = SchedulerCases.optimizer(for: name)
        let scheduler = SchedulerCases.scheduler(name, on: optimizer)
        for index in 0..<Int(fixture["state_k"].number) { scheduler.step(index) }
        let mismatches = stateMismatches(scheduler.stateDict(), fixture["state"])
        #expect(mismatches.isEmpty, "\(name): \(mismatches)")
        // torch records initial_lr (and OneCycleLR's max_lr, min_lr, momenta) in the param groups.
        for (group, expected) in zip(optimizer.paramGroups, fixture["groups"].array) {
            guard case let .object(options) = expected else { Issue.record("\(name): groups missing"); continue }
            for (key, value) in options {
                let ours = group.options[key] ?? .null
                let groupMismatches = stateMismatches(ours, value, path: "group.\(key)")
                #expect(groupMismatches.isEmpty, "\(name): \(groupMismatches)")
            }
            #expect((group.options["initial_lr"] != nil) == (options["initial_lr"] != nil), "\(name): initial_lr presence")
        }
    }

    /// torch's own state dict (as saved in the fixture) loads into a fresh Swift scheduler,
    /// and stepping on reproduces torch's remaining sequence.
    @Test(arguments: SchedulerCases.names)
    func torchStateDictLoadsAndContinues(_ name: String) throws {
        let fixture = SchedulerCases.fixtureCase(name)
        let resumeAt = Int(fixture["state_k"].number)
        let expected = fixture["lrs"].array.map { $0.array.map(\.number) }
        let optimizer = SchedulerCases.optimizer(for: name)
        let scheduler = SchedulerCases.scheduler(name, on: optimizer)
        // Stands in for loading torch's optimizer state dict: the group options it would restore.
        for (index, group) in fixture["groups"].array.enumerated() {
            guard case let .object(options) = group else { continue }
            for (key, value) in options {
                optimizer.paramGroups[index].options[key] = key == "betas" ? .list(value.array.map { .double($0.number) }) : .double(value.number)
            }
        }
        try scheduler.loadStateDict(fixture["state"].schedulerState)
        #expect(scheduler.lastLR == expected[resumeAt])
        for step in resumeAt..<(expected.count - 1) {
            scheduler.step(step)
            let ours = optimizer.paramGroups.map(\.learningRate)
            for (value, reference) in zip(ours, expected[step + 1]) {
                #expect(abs(value - reference) <= 1e-6 * abs(reference), "\(name) step \(step + 1): \(ours) vs torch \(expected[step + 1])")
            }
        }
    }
}

import CairnNN
import CairnOptim
import CairnTensor
import Foundation
import OrderedCollections

/// A scheduler under test: the epoch schedulers share one API, the plateau monitor takes a metric.
enum AnyScheduler {
    case epoch(LRScheduler)
    case plateau(ReduceLROnPlateau)

    func step(_ index: Int) {
        switch self {
        case let .epoch(scheduler): scheduler.step()
        case let .plateau(scheduler): scheduler.step(SchedulerCases.plateauMetrics[index])
        }
    }

    var lastLR: [Double] {
        switch self {
        case let .epoch(scheduler): scheduler.lastLR
        case let .plateau(scheduler): scheduler.lastLR
        }
    }

    func stateDict() -> StateValue {
        switch self {
        case let .epoch(scheduler): scheduler.stateDict()
        case let .plateau(scheduler): scheduler.stateDict()
        }
    }

    func loadStateDict(_ state: StateValue) throws {
        switch self {
        case let .epoch(scheduler): try scheduler.loadStateDict(state)
        case let .plateau(scheduler): try scheduler.loadStateDict(state)
        }
    }
}

/// The configurations of tools/torch-reference/make_scheduler_fixtures.py, built in Swift.
enum SchedulerCases {
    static let plateauMetrics: [Double] = [
        1.0, 0.9, 0.85, 0.86, 0.849, 0.85, 0.9, 0.7, 0.71, 0.72, 0.73, 0.74, 0.695, 0.69, 0.9,
        0.95, 0.96, 0.5, 0.51, 0.52, 0.53, 0.54, 0.55, 0.56, 0.4, 0.41, 0.42, 0.43, 0.44, 0.45,
    ]

    static let names = ["step", "multistep", "exponential", "cosine", "linear", "lambda", "onecycle_cos",
                        "onecycle_linear_three_phase", "sequential_linear_cosine", "plateau_min_cooldown", "plateau_max_abs"]

    /// Two groups at lr 0.1 and 0.05: SGD with momentum 0.9, or Adam for the β₁-cycling case.
    static func optimizer(for name: String) -> Optimizer {
        let groups = [ParamGroup([Parameter(Tensor(shape: [2], scalars: [0, 0]))], options: ["lr": .double(0.1)]),
                      ParamGroup([Parameter(Tensor(shape: [3], scalars: [0, 0, 0]))], options: ["lr": .double(0.05)])]
        return name == "onecycle_linear_three_phase" ? Adam(groups) : SGD(groups, momentum: 0.9)
    }

    static func scheduler(_ name: String, on optimizer: Optimizer) -> AnyScheduler {
        switch name {
        case "step": .epoch(StepLR(optimizer, stepSize: 5, gamma: 0.5))
        case "multistep": .epoch(MultiStepLR(optimizer, milestones: [3, 8, 8, 15], gamma: 0.3))
        case "exponential": .epoch(ExponentialLR(optimizer, gamma: 0.9))
        case "cosine": .epoch(CosineAnnealingLR(optimizer, tMax: 10, etaMin: 0.001))
        case "linear": .epoch(LinearLR(optimizer, startFactor: 0.25, endFactor: 1.0, totalIters: 6))
        case "lambda": .epoch(LambdaLR(optimizer, lambdas: [{ pow(0.95, Double($0)) }, { 1.0 / (1.0 + Double($0)) }]))
        case "onecycle_cos": .epoch(OneCycleLR(optimizer, maxLR: [1.0, 0.5], totalSteps: 30))
        case "onecycle_linear_three_phase":
            .epoch(OneCycleLR(optimizer, maxLR: [0.01], totalSteps: 30, pctStart: 0.25, annealStrategy: .linear,
                              divFactor: 10, finalDivFactor: 100, threePhase: true))
        case "sequential_linear_cosine":
            .epoch(SequentialLR(optimizer, schedulers: [LinearLR(optimizer, startFactor: 0.1, endFactor: 1.0, totalIters: 4),
                                                        CosineAnnealingLR(optimizer, tMax: 20, etaMin: 1e-4)],
                                milestones: [5]))
        case "plateau_min_cooldown":
            .plateau(ReduceLROnPlateau(optimizer, mode: .min, factor: 0.5, patience: 2, threshold: 0.01, cooldown: 2,
                                       minLRPerGroup: [0.01, 0.005]))
        case "plateau_max_abs":
            .plateau(ReduceLROnPlateau(optimizer, mode: .max, factor: 0.2, patience: 1, threshold: 0.05,
                                       thresholdMode: .abs, minLR: [0.001]))
        default: preconditionFailure("no scheduler case \(name)")
        }
    }

    /// SGD's momentum or Adam's β₁ of each group.
    static func momentums(_ optimizer: Optimizer) -> [Double] {
        optimizer.paramGroups.map { group in
            if case let .list(betas)? = group.options["betas"], let first = betas.first, case let .double(beta) = first { return beta }
            if case let .double(momentum)? = group.options["momentum"] { return momentum }
            return .nan
        }
    }

    /// The lrs after construction, then after each of `steps` steps.
    static func run(_ name: String, steps: Int) -> [[Double]] {
        let optimizer = optimizer(for: name)
        let scheduler = scheduler(name, on: optimizer)
        var rows = [optimizer.paramGroups.map(\.learningRate)]
        for index in 0..<steps {
            scheduler.step(index)
            rows.append(optimizer.paramGroups.map(\.learningRate))
        }
        return rows
    }

    static let fixture: JSONValue = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fixtures/torch-schedulers.json").standardized
        guard let data = try? Data(contentsOf: path), let value = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            return .null
        }
        return value
    }()

    static func fixtureCase(_ name: String) -> JSONValue {
        fixture["cases"].array.first { $0["name"].string == name } ?? .null
    }
}

extension JSONValue {
    /// A torch state-dict value as our StateValue: integral numbers become ints (what torch
    /// saves as Python ints), "inf"/"-inf" infinities, objects dicts with string keys.
    var schedulerState: StateValue {
        switch self {
        case let .bool(flag): return .bool(flag)
        case let .number(value):
            return value.rounded() == value && abs(value) < 1e15 ? .int(Int64(value)) : .double(value)
        case let .string(text):
            if text == "inf" { return .double(.infinity) }
            if text == "-inf" { return .double(-.infinity) }
            return .string(text)
        case let .array(list): return .list(list.map(\.schedulerState))
        case let .object(entries):
            return .dict(OrderedDictionary(uniqueKeysWithValues: entries.sorted { $0.key < $1.key }.map { (StateKey.string($0.key), $0.value.schedulerState) }))
        case .null: return .null
        }
    }
}

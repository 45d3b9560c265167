import CairnNN
import CairnOptim
import CairnTensor
import Testing

/// Fixed gradients for step `step` of a parameter, so runs can be replayed.
func fixedGradient(shape: [Int], step: Int, salt: Int) -> Tensor {
    let count = shape.reduce(1, *)
    return Tensor(shape: shape, scalars: (0..<count).map { Float(($0 * 7 + step * 3 + salt) % 11) / 5 - 1 })
}

func makeParameters() -> [Parameter] {
    [Parameter(Tensor(shape: [2, 3], scalars: [0.5, -1, 2, 0.1, 0.3, -0.7])),
     Parameter(Tensor(shape: [3], scalars: [1, 2, -3])),
     Parameter(Tensor(shape: [2], scalars: [0.2, -0.2]))]
}

func runSteps(_ optimizer: Optimizer, _ parameters: [Parameter], steps: Range<Int>) {
    for step in steps {
        optimizer.zeroGrad()
        for (salt, parameter) in parameters.enumerated() {
            parameter.grad = fixedGradient(shape: parameter.value.shape, step: step, salt: salt)
        }
        optimizer.step()
    }
}

typealias OptimizerFactory = @Sendable ([Parameter]) -> Optimizer

let factories: [(String, OptimizerFactory)] = [
    ("sgd-nesterov", { p in SGD([ParamGroup(Array(p[0..<2])), ParamGroup([p[2]], options: ["lr": .double(0.5)])],
                                lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true) }),
    ("adam-amsgrad", { p in Adam([ParamGroup([p[0]]), ParamGroup(Array(p[1...]), options: ["betas": .list([.double(0.8), .double(0.9)])])],
                                 lr: 0.01, weightDecay: 0.1, amsgrad: true) }),
    ("adamw", { p in AdamW(p, lr: 0.01) }),
    ("rmsprop", { p in RMSprop(p, lr: 0.01, momentum: 0.5, centered: true) }),
]

@Suite struct OptimizerStateTests {
    @Test(arguments: factories.indices)
    func stateDictRoundTripsAndResumesIdentically(_ which: Int) throws {
        let (name, make) = factories[which]
        let uninterrupted = makeParameters()
        let reference = make(uninterrupted)
        runSteps(reference, uninterrupted, steps: 0..<5)

        let first = makeParameters()
        let interrupted = make(first)
        runSteps(interrupted, first, steps: 0..<2)
        let saved = interrupted.stateDict()

        let second = makeParameters()
        for (target, source) in zip(second, first) { target.value = source.value }
        let resumed = make(second)
        try resumed.loadStateDict(saved)
        #expect(resumed.stateDict() == saved, "\(name)")
        runSteps(resumed, second, steps: 2..<5)
        for (a, b) in zip(uninterrupted, second) { #expect(a.value.scalars == b.value.scalars, "\(name)") }
    }

    @Test func stateDictIsShapedLikeTorch() throws {
        let parameters = makeParameters()
        let adam = Adam([ParamGroup([parameters[0]]), ParamGroup(Array(parameters[1...]), options: ["lr": .double(0.5)])])
        runSteps(adam, parameters, steps: 0..<1)
        let saved = adam.stateDict()
        let state = try saved.required("state", path: "").dictionary(path: "state")
        #expect(Array(state.keys) == [0, 1, 2])
        let entry = try state[1]!.dictionary(path: "1")
        #expect(Array(entry.keys) == ["step", "exp_avg", "exp_avg_sq"])
        #expect(try entry["step"]!.tensor(path: "").item == 1)
        let groups = try saved.required("param_groups", path: "").list(path: "")
        #expect(groups.count == 2)
        #expect(groups[1]["params"] == .list([.int(1), .int(2)]))
        #expect(groups[1]["lr"] == .double(0.5))
        #expect(groups[0]["betas"] == .list([.double(0.9), .double(0.999)]))
    }

    @Test func mismatchedGroupsOrShapesAreRejected() {
        let parameters = makeParameters()
        let adam = Adam(parameters)
        runSteps(adam, parameters, steps: 0..<1)
        let saved = adam.stateDict()
        let other = Adam([ParamGroup(Array(parameters[0..<2])), ParamGroup([parameters[2]])])
        #expect(throws: StateValueError.self) { try other.loadStateDict(saved) }
        guard case var .dict(root) = saved, case var .list(groups) = root["param_groups"], case var .dict(group) = groups[0] else {
            Issue.record("unexpected layout"); return
        }
        group["lr"] = .string("fast")
        groups[0] = .dict(group)
        root["param_groups"] = .list(groups)
        #expect(throws: StateValueError.wrongKind(path: "optimizer.param_groups.0.lr", expected: "double", found: "string")) {
            try Adam(makeParameters()).loadStateDict(.dict(root))
        }
        let shuffled = makeParameters().reversed()
        #expect(throws: StateValueError.self) { try Adam(Array(shuffled)).loadStateDict(saved) }
    }

    @Test func frozenAndGradlessParametersAreSkipped() {
        let parameters = makeParameters()
        parameters[1].isFrozen = true
        let sgd = SGD(parameters, lr: 1)
        parameters[0].grad = Tensor.ones([2, 3])
        parameters[1].grad = Tensor.ones([3])
        sgd.step()
        #expect(parameters[0].value.scalars[0] == -0.5)
        #expect(parameters[1].value.scalars == [1, 2, -3])
        #expect(parameters[2].value.scalars == [0.2, -0.2])
        sgd.zeroGrad()
        #expect(parameters.allSatisfy { $0.grad == nil })
    }

    @Test func gradientClipping() {
        let parameters = makeParameters()
        parameters[0].grad = Tensor(shape: [2, 3], scalars: [3, 0, 0, 0, 0, 0])
        parameters[1].grad = Tensor(shape: [3], scalars: [0, 4, 0])
        let norm = GradientClipping.clipByGlobalNorm(parameters, maxNorm: 1)
        #expect(norm == 5)
        #expect(abs(parameters[0].grad!.scalars[0] - 0.6) < 1e-5 && abs(parameters[1].grad!.scalars[1] - 0.8) < 1e-5)
        GradientClipping.clipByValue(parameters, limit: 0.7)
        #expect(parameters[1].grad!.scalars[1] == 0.7 && abs(parameters[0].grad!.scalars[0] - 0.6) < 1e-5)
    }
}

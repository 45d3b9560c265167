import CairnNN
import CairnOptim
import CairnTensor
import OrderedCollections
import Testing

@Suite struct TorchOptimizerTests {
    static let cases = TorchFixture.root["optimizers"].array

    func makeOptimizer(_ kind: String, _ groups: [ParamGroup]) -> Optimizer {
        switch kind {
        case "SGD": SGD(groups)
        case "Adam": Adam(groups)
        case "AdamW": AdamW(groups)
        default: RMSprop(groups)
        }
    }

    @Test func fixtureIsPresent() {
        #expect(Self.cases.count >= 15)
    }

    @Test(arguments: cases.indices)
    func matchesTorchStepByStep(_ which: Int) throws {
        let fixture = Self.cases[which]
        let name = fixture["name"].string
        let parameters = fixture["params"].array.map { Parameter($0.tensor) }
        let groups = fixture["param_groups"].array.map { group in
            var options = OrderedDictionary<String, StateValue>()
            if case let .object(entries) = group {
                for (key, value) in entries where key != "params" { options[key] = value.stateValue }
            }
            return ParamGroup(group["params"].ints.map { parameters[$0] }, options: options)
        }
        let optimizer = makeOptimizer(fixture["optimizer"].string, groups)
        let gradients = fixture["grads"].array
        for (step, expected) in fixture["params_after_step"].array.enumerated() {
            optimizer.zeroGrad()
            for (parameter, gradient) in zip(parameters, gradients[step].array) {
                parameter.grad = Tensor(shape: parameter.value.shape, scalars: gradient.floats)
            }
            optimizer.step()
            for (index, parameter) in parameters.enumerated() {
                let ratio = TorchFixture.toleranceRatio(parameter.value.scalars, expected.array[index].floats)
                #expect(ratio <= 1, "\(name) step \(step) param \(index): \(ratio)× tolerance")
            }
        }
        // Final state: same entries in the same order, same values.
        let saved = try optimizer.stateDict().required("state", path: "").dictionary(path: "state")
        guard case let .object(torchState) = fixture["state"] else { Issue.record("\(name): no state"); return }
        #expect(saved.count == torchState.count, "\(name)")
        for (key, entry) in saved {
            let torchEntry = torchState[key.description] ?? .null
            for (field, value) in try entry.dictionary(path: "") {
                let ratio = TorchFixture.toleranceRatio(try value.tensor(path: "").scalars, torchEntry[field.description]["values"].floats)
                #expect(ratio <= 1, "\(name) state \(key).\(field): \(ratio)× tolerance")
            }
        }
    }
}

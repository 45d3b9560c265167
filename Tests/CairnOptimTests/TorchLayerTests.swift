import CairnNN
import CairnTensor
import Testing

@Suite struct TorchLayerTests {
    static let cases = TorchFixture.root["layers"].array

    func makeLayer(_ fixture: JSONValue) -> Module? {
        var rng = RandomGenerator(seed: 0)
        let state = fixture["state"]
        switch fixture["layer"].string {
        case "Linear":
            let shape = state["weight"]["shape"].ints
            return Linear(shape[1], shape[0], rng: &rng)
        case "BatchNorm1d": return BatchNorm1d(state["weight"]["shape"].ints[0], momentum: Float(fixture["momentum"].number))
        case "BatchNorm2d": return BatchNorm2d(state["weight"]["shape"].ints[0], momentum: Float(fixture["momentum"].number))
        case "LayerNorm": return LayerNorm(fixture["normalized_shape"].ints)
        case "Conv2d":
            let shape = state["weight"]["shape"].ints
            return Conv2d(shape[1], shape[0], kernelSize: shape[2], stride: Int(fixture["stride"].number),
                          padding: Int(fixture["padding"].number), rng: &rng)
        default: return nil
        }
    }

    func expectClose(_ actual: Tensor, _ expected: JSONValue, _ label: String) {
        #expect(actual.shape == expected["shape"].ints, "\(label): shape")
        let ratio = TorchFixture.toleranceRatio(actual.scalars, expected["values"].floats)
        #expect(ratio <= 1, "\(label): \(ratio)× tolerance")
    }

    @Test(arguments: cases.indices)
    func matchesTorch(_ which: Int) throws {
        let fixture = Self.cases[which]
        let name = fixture["name"].string
        let inputs = fixture["inputs"].array.map(\.tensor)
        let outputs = fixture["outputs"].array
        if fixture["layer"].string == "cross_entropy" {
            let weights = fixture["weight"].array.isEmpty ? nil : fixture["weight"].floats
            let loss = Loss.crossEntropy(inputs[0], Tensor(indices: fixture["targets"].ints), weights: weights,
                                         labelSmoothing: Float(fixture["label_smoothing"].number),
                                         ignoreIndex: Int64(fixture["ignore_index"].number))
            expectClose(loss, outputs[0], name)
            return
        }
        if fixture["layer"].string == "sequence_cross_entropy" {
            let rows = fixture["targets"].array.map(\.ints)
            let targets = Tensor(indices: rows.flatMap { $0 }, shape: [rows.count, rows.first?.count ?? 0])
            let reduction: LossReduction = switch fixture["reduction"].string { case "sum": .sum; case "none": .none; default: .mean }
            let smoothing = Float(fixture["label_smoothing"].number), ignore = Int64(fixture["ignore_index"].number)
            let sequence = Loss.sequenceCrossEntropy(inputs[0], targets, labelSmoothing: smoothing, ignoreIndex: ignore, reduction: reduction)
            expectClose(sequence, outputs[0], "\(name) [B, T, V]")
            let channels = Loss.crossEntropy(inputs[0].transpose(1, 2), targets, labelSmoothing: smoothing, ignoreIndex: ignore,
                                             reduction: reduction)
            expectClose(channels, outputs[1], "\(name) [N, C, d]")
            return
        }
        let layer = try #require(makeLayer(fixture), "\(name): unknown layer")
        // Loading torch's own state_dict strictly also checks that the key names agree.
        try layer.loadStateDict(fixture["state"].stateDict)
        let gradients = fixture["gradients"]
        for (index, input) in inputs.enumerated() {
            guard index == 0 else {
                expectClose(layer(input), outputs[index], "\(name) output \(index)")
                continue
            }
            input.requiresGrad = true
            let output = layer(input)
            expectClose(output, outputs[index], "\(name) output \(index)")
            (output * gradients["upstream"].tensor).sum().backward()
            expectClose(try #require(input.grad), gradients["input"], "\(name) input gradient")
            for (key, parameter) in layer.namedParameters() {
                expectClose(try #require(parameter.grad), gradients["parameters"][key], "\(name) \(key) gradient")
            }
        }
        guard fixture["eval_outputs"].array.count == inputs.count else { return }
        let after = layer.stateDict()
        if case let .object(expectedState) = fixture["state_after_train"] {
            for (key, value) in expectedState { expectClose(try #require(after[key]), value, "\(name) \(key)") }
        }
        layer.eval()
        for (index, input) in inputs.enumerated() {
            expectClose(layer(input), fixture["eval_outputs"].array[index], "\(name) eval output \(index)")
        }
    }

    @Test func defaultInitMatchesTorchDistribution() {
        var rng = RandomGenerator(seed: 11)
        let linear = Linear(100, 200, rng: &rng), conv = Conv2d(4, 8, kernelSize: 3, rng: &rng)
        let ours = ["linear_100_200": linear.stateDict(), "conv2d_4_8_k3": conv.stateDict()]
        for entry in TorchFixture.root["init"].array {
            let parts = entry["name"].string.split(separator: ".")
            guard let tensor = ours[String(parts[0])]?[String(parts[1])] else { Issue.record("no \(entry["name"].string)"); continue }
            let bound = Float(entry["bound"].number)
            #expect(tensor.shape == entry["shape"].ints)
            #expect(tensor.scalars.allSatisfy { abs($0) <= bound }, "\(entry["name"].string)")
            let mean = tensor.scalars.reduce(0, +) / Float(tensor.count)
            let std = (tensor.scalars.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(tensor.count - 1)).squareRoot()
            // Both follow U(-b, b) with std b/√3; two sample stds of n values differ by about σ/√n.
            let torchStd = Float(entry["std"].number)
            let allowed: Float = 4 * (bound / Float(3).squareRoot()) / Float(tensor.count).squareRoot()
            #expect(abs(std - torchStd) <= allowed, "\(entry["name"].string)")
        }
    }
}

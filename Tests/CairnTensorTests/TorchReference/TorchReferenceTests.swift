import Foundation
import Testing
import CairnTensor

/// Every op's forward values and input gradients against PyTorch's, on the fixed
/// inputs of `Fixtures/torch-ops.json` (regenerate with `tools/torch-reference/`).
struct TorchReferenceTests {
    static let fixture: TorchReferenceFixture? = try? TorchReferenceFixture.load()

    @Test func fixtureIsPresentAndCoversEveryOp() throws {
        let fixture = try #require(Self.fixture, "Fixtures/torch-ops.json is missing or unreadable")
        let ops = Set(fixture.cases.map(\.op))
        for op in ["matmul", "add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "pow", "abs", "clamp",
                   "relu", "gelu", "tanh", "sigmoid", "softmax", "log_softmax", "sum", "mean", "max", "min",
                   "var", "reshape", "transpose", "permute", "slice", "index_select", "gather", "cat", "stack",
                   "where", "eq", "lt", "gt", "argmax", "conv2d", "max_pool2d", "avg_pool2d",
                   "rsqrt", "erf", "silu", "masked_fill", "masked_softmax", "split"] {
            #expect(ops.contains(op), "no reference case for \(op)")
        }
    }

    @Test(arguments: fixture?.cases ?? [])
    func matchesPyTorch(_ reference: TorchReferenceCase) throws {
        let inputs = reference.inputs.map(Self.tensor)
        let output = try #require(Self.apply(reference, to: inputs), "op \(reference.op) is not mapped")
        Self.expectClose(output, reference.output, what: "\(reference.name) output")

        guard let upstream = reference.upstream, let grads = reference.grads else { return }
        output.mul(Tensor(shape: upstream.shape, scalars: upstream.floats)).sum().backward()
        for (index, expected) in grads.enumerated() {
            guard let expected else { continue }
            let actual = try #require(inputs[index].grad, "\(reference.name): no gradient for input \(index)")
            Self.expectClose(actual, expected, what: "\(reference.name) grad[\(index)]")
        }
    }

    static func tensor(_ reference: ReferenceTensor) -> Tensor {
        switch reference.dtype {
        case "I64":
            return Tensor(indices: reference.data.map { Int($0) }, shape: reference.shape)
        case "BOOL":
            return Tensor(shape: reference.shape, scalars: reference.floats).to(.bool)
        default:
            return Tensor(shape: reference.shape, scalars: reference.floats, requiresGrad: true)
        }
    }

    /// Tolerance from the fixture's measure of PyTorch's own float32 error (at most 2e-6).
    static func expectClose(_ actual: Tensor, _ expected: ReferenceTensor, what: String) {
        #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) != \(expected.shape)")
        guard actual.shape == expected.shape else { return }
        if let dtype = expected.dtype, dtype != "F32" {
            #expect(actual.dtype.rawValue == dtype, "\(what): dtype \(actual.dtype.rawValue) != \(dtype)")
        }
        var worst = (index: -1, error: Float(0))
        for (index, (value, reference)) in zip(actual.scalars, expected.floats).enumerated() {
            let error = Swift.abs(value - reference)
            if !(error <= 1e-5 + 1e-4 * Swift.abs(reference)), error >= worst.error || worst.index < 0 {
                worst = (index, error.isNaN ? .infinity : error)
            }
        }
        #expect(worst.index < 0, "\(what): element \(worst.index) off by \(worst.error)")
    }

    /// Maps a fixture op with torch's argument names onto CairnTensor's API.
    static func apply(_ reference: TorchReferenceCase, to inputs: [Tensor]) -> Tensor? {
        let x = inputs[0]
        let dim = reference.int("dim") ?? 0
        let keepDims = reference.bool("keepdim") ?? false
        switch reference.op {
        case "matmul": return x.matmul(inputs[1])
        case "add": return x + inputs[1]
        case "sub": return x - inputs[1]
        case "mul": return x * inputs[1]
        case "div": return x / inputs[1]
        case "neg": return -x
        case "exp": return x.exp()
        case "log": return x.log()
        case "sqrt": return x.sqrt()
        case "abs": return x.abs()
        case "relu": return x.relu()
        case "tanh": return x.tanh()
        case "sigmoid": return x.sigmoid()
        case "rsqrt": return x.rsqrt()
        case "erf": return x.erf()
        case "silu": return x.silu()
        case "masked_fill": return reference.double("value").map { x.maskedFill(inputs[1], with: Float($0)) }
        case "masked_softmax": return x.softmax(axis: dim, masking: inputs[1])
        case "split":
            guard let sizes = reference.ints("sizes"), let index = reference.int("index") else { return nil }
            return x.split(sizes, axis: dim)[index]
        case "pow":
            if inputs.count == 2 { return x.pow(inputs[1]) }
            return reference.double("exponent").map { x.pow(Float($0)) }
        case "clamp":
            return x.clamp(min: reference.double("min").map { Float($0) },
                           max: reference.double("max").map { Float($0) })
        case "gelu": return x.gelu(approximateTanh: reference.string("approximate") == "tanh")
        case "softmax": return x.softmax(axis: dim)
        case "log_softmax": return x.logSoftmax(axis: dim)
        case "sum": return x.sum(axes: reference.ints("dim"), keepDims: keepDims)
        case "mean": return x.mean(axes: reference.ints("dim"), keepDims: keepDims)
        case "max": return x.max(axis: dim, keepDims: keepDims)
        case "min": return x.min(axis: dim, keepDims: keepDims)
        case "var":
            return x.variance(axes: reference.ints("dim"), correction: reference.int("correction") ?? 1,
                              keepDims: keepDims)
        case "reshape": return reference.ints("shape").map { x.reshape($0) }
        case "transpose": return x.transpose(reference.int("dim0") ?? 0, reference.int("dim1") ?? 1)
        case "permute": return reference.ints("dims").map { x.permute($0) }
        case "slice":
            return x.slice(axis: dim, start: reference.int("start"), end: reference.int("end"),
                           step: reference.int("step") ?? 1)
        case "index_select": return x.indexSelect(axis: dim, indices: inputs[1])
        case "gather": return x.gather(axis: dim, index: inputs[1])
        case "cat": return Tensor.concat(inputs, axis: dim)
        case "stack": return Tensor.stack(inputs, axis: dim)
        case "where": return Tensor.where(inputs[0], inputs[1], inputs[2])
        case "eq": return x.eq(inputs[1])
        case "lt": return x.lt(inputs[1])
        case "gt": return x.gt(inputs[1])
        case "argmax":
            guard let axis = reference.int("dim") else { return x.reshape([-1]).argmax(axis: 0) }
            return x.argmax(axis: axis, keepDims: keepDims)
        case "conv2d":
            return x.conv2d(weight: inputs[1], bias: inputs.count > 2 ? inputs[2] : nil,
                            stride: pair(reference, "stride", default: 1),
                            padding: pair(reference, "padding", default: 0))
        case "max_pool2d":
            return x.maxPool2d(kernel: pair(reference, "kernel_size", default: 1),
                               stride: pair(reference, "stride", default: 1),
                               padding: pair(reference, "padding", default: 0))
        case "avg_pool2d":
            return x.avgPool2d(kernel: pair(reference, "kernel_size", default: 1),
                               stride: pair(reference, "stride", default: 1),
                               padding: pair(reference, "padding", default: 0))
        case "cross_entropy":
            let losses = x.logSoftmax(axis: 1).gather(axis: 1, index: inputs[1].reshape([-1, 1])).neg()
            return reference.string("reduction") == "sum" ? losses.sum() : losses.mean()
        case "nll_loss":
            return x.gather(axis: 1, index: inputs[1].reshape([-1, 1])).neg().mean()
        default: return nil
        }
    }

    static func pair(_ reference: TorchReferenceCase, _ key: String, default value: Int) -> (Int, Int) {
        guard let values = reference.ints(key), let first = values.first else { return (value, value) }
        return (first, values.count > 1 ? values[1] : first)
    }
}

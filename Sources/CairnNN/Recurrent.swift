import CairnTensor

/// The cell a ``RecurrentLayers`` stack runs: LSTM (gates i, f, g, o) or GRU (gates r, z, n), in torch's order.
public enum RecurrentCell: Sendable {
    case lstm, gru

    var gateCount: Int { self == .lstm ? 4 : 3 }
    var name: String { self == .lstm ? "LSTM" : "GRU" }
}

/// A stack of LSTM or GRU layers with torch's parameters and names (`weight_ih_l0` [G·H, I],
/// `weight_hh_l0` [G·H, H], `bias_ih_l0`, `bias_hh_l0`, …) and torch's equations. Inputs are
/// `[T, B, I]`, or `[B, T, I]` with `batchFirst`; ``run(_:initialState:)`` returns the last
/// layer's output at every step and each layer's final hidden (and, for LSTM, cell) state.
public class RecurrentLayers: Module, @unchecked Sendable {
    public let cell: RecurrentCell
    public let inputSize: Int
    public let hiddenSize: Int
    public let numLayers: Int
    public let batchFirst: Bool
    /// Per layer: weight_ih, weight_hh, bias_ih, bias_hh (the biases when `bias`).
    public let weightsIH: [Parameter]
    public let weightsHH: [Parameter]
    public let biasesIH: [Parameter]
    public let biasesHH: [Parameter]

    /// Initialised as torch: every weight and bias U(-1/√H, 1/√H).
    public init(_ cell: RecurrentCell, inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true,
                batchFirst: Bool = false, rng: inout RandomGenerator) {
        precondition(inputSize > 0 && hiddenSize > 0 && numLayers > 0,
                     "\(cell.name): inputSize \(inputSize), hiddenSize \(hiddenSize) and numLayers \(numLayers) must be positive")
        let bound = 1 / Float(hiddenSize).squareRoot()
        func draw(_ shape: [Int]) -> Parameter { Parameter(Tensor.uniform(shape, low: -bound, high: bound, rng: &rng)) }
        let gates = cell.gateCount * hiddenSize
        var ih: [Parameter] = [], hh: [Parameter] = [], bih: [Parameter] = [], bhh: [Parameter] = []
        for layer in 0..<numLayers {
            ih.append(draw([gates, layer == 0 ? inputSize : hiddenSize]))
            hh.append(draw([gates, hiddenSize]))
            if bias {
                bih.append(draw([gates]))
                bhh.append(draw([gates]))
            }
        }
        self.cell = cell
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.batchFirst = batchFirst
        weightsIH = ih
        weightsHH = hh
        biasesIH = bih
        biasesHH = bhh
        super.init()
    }

    // torch orders them weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, then layer 1.
    override public var members: [(name: String, member: Member)] {
        var found: [(name: String, member: Member)] = []
        for layer in 0..<numLayers {
            found.append(("weight_ih_l\(layer)", .parameter(weightsIH[layer])))
            found.append(("weight_hh_l\(layer)", .parameter(weightsHH[layer])))
            if !biasesIH.isEmpty {
                found.append(("bias_ih_l\(layer)", .parameter(biasesIH[layer])))
                found.append(("bias_hh_l\(layer)", .parameter(biasesHH[layer])))
            }
        }
        return found
    }

    /// The output at every step of the last layer.
    override public func forward(_ input: Tensor) -> Tensor { run(input).output }

    /// The stack over `input`; `initialState` holds `h0` (and `c0` for LSTM), each
    /// `[numLayers, B, H]`, zeros when nil. Returns the output (`[T, B, H]` or batch-first) and
    /// the final `h` (and `c`) of each layer, `[numLayers, B, H]`.
    public func run(_ input: Tensor, initialState: (h: Tensor, c: Tensor?)? = nil) -> (output: Tensor, h: Tensor, c: Tensor?) {
        let sequence = batchFirst ? input : input.transpose(0, 1)  // [B, T, I]
        precondition(sequence.rank == 3 && sequence.shape[2] == inputSize,
                     "\(cell.name): input shape \(input.shape) does not end in \(inputSize) features")
        let batch = sequence.shape[0], steps = sequence.shape[1]
        var layerInput = sequence
        var finalH: [Tensor] = [], finalC: [Tensor] = []
        for layer in 0..<numLayers {
            var h = initialState?.h.slice(axis: 0, start: layer, end: layer + 1).reshape([batch, hiddenSize]) ?? .zeros([batch, hiddenSize])
            var c = initialState?.c?.slice(axis: 0, start: layer, end: layer + 1).reshape([batch, hiddenSize]) ?? .zeros([batch, hiddenSize])
            // Input projections of every step at once: [B, T, G·H].
            var projected = layerInput.matmulTransposed(weightsIH[layer].value)
            if !biasesIH.isEmpty { projected = projected + biasesIH[layer].value }
            var outputs: [Tensor] = []
            for step in 0..<steps {
                let x = projected.slice(axis: 1, start: step, end: step + 1).reshape([batch, cell.gateCount * hiddenSize])
                var recurrent = h.matmulTransposed(weightsHH[layer].value)
                if !biasesHH.isEmpty { recurrent = recurrent + biasesHH[layer].value }
                switch cell {
                case .lstm:
                    let gates = (x + recurrent).chunk(4, axis: 1)
                    c = gates[1].sigmoid() * c + gates[0].sigmoid() * gates[2].tanh()
                    h = gates[3].sigmoid() * c.tanh()
                case .gru:
                    let inputGates = x.chunk(3, axis: 1), hiddenGates = recurrent.chunk(3, axis: 1)
                    let reset = (inputGates[0] + hiddenGates[0]).sigmoid()
                    let update = (inputGates[1] + hiddenGates[1]).sigmoid()
                    let candidate = (inputGates[2] + reset * hiddenGates[2]).tanh()
                    h = (1 - update) * candidate + update * h
                }
                outputs.append(h)
            }
            layerInput = Tensor.stack(outputs, axis: 1)  // [B, T, H]
            finalH.append(h)
            finalC.append(c)
        }
        let output = batchFirst ? layerInput : layerInput.transpose(0, 1)
        return (output, Tensor.stack(finalH, axis: 0), cell == .lstm ? Tensor.stack(finalC, axis: 0) : nil)
    }
}

/// `nn.LSTM`: a stack of LSTM layers with torch's names and equations.
public final class LSTM: RecurrentLayers, @unchecked Sendable {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                rng: inout RandomGenerator) {
        super.init(.lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias, batchFirst: batchFirst, rng: &rng)
    }
}

/// `nn.GRU`: a stack of GRU layers with torch's names and equations.
public final class GRU: RecurrentLayers, @unchecked Sendable {
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                rng: inout RandomGenerator) {
        super.init(.gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias, batchFirst: batchFirst, rng: &rng)
    }
}

// One training step (forward, backward, AdamW) of a 4-layer, width-128, 4-head, context-128
// character transformer on a batch of 32, for Cairn and for PyTorch (one thread, the same model
// and batch) in the same run: µs per step for each, their ratio, and Cairn's achieved GFLOP/s
// beside the matrix kernel's own rate on a 512×512 product measured here.
//   swift run -c release LMBenchmark [steps]      (CAIRN_KEEP_FREED_MEMORY=0: glibc's default allocator settings)
import BenchmarkSupport
import CairnExamples
import CairnNN
import CairnOptim
import CairnTensor
import Foundation

if ProcessInfo.processInfo.environment["CAIRN_KEEP_FREED_MEMORY"] != "0" { AllocatorTuning.keepFreedMemoryForReuse() }

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let steps = max(3, arguments.first ?? 10)
let (layers, width, heads, context, batch, vocabularySize) = (4, 128, 4, 128, 32, 106)

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// Multiply-adds ×2 of one step: 6 × (weights touched per token) × tokens for the dense layers,
/// and forward + backward (×3) of the attention products Q·Kᵀ and P·V.
let dense = Double(layers * 12 * width * width + width * vocabularySize)
let tokens = Double(batch * context)
let attention = Double(layers) * 2 * 2 * Double(batch) * Double(context * context) * Double(width) * 3
let flopsPerStep = 6 * dense * tokens + attention

// MARK: Cairn

let vocabulary = CharacterVocabulary(text: String(String.UnicodeScalarView((0..<vocabularySize).compactMap { Unicode.Scalar(32 + $0) })))
let settings = CharacterLMHyperparameters(vocabulary: vocabulary.saved, layers: layers, width: width, heads: heads, context: context, seed: 1)
let model = CharacterLM(vocabulary: vocabulary, settings: settings)
let optimizer = AdamW(model.parameters(), lr: 3e-3, weightDecay: 0.1)
var rng = RandomGenerator(seed: 5)
let input = Tensor(indices: (0..<(batch * context)).map { _ in rng.nextInt(below: vocabularySize) }, shape: [batch, context])
let target = Tensor(indices: (0..<(batch * context)).map { _ in rng.nextInt(below: vocabularySize) }, shape: [batch, context])
func step() {
    optimizer.zeroGrad()
    Loss.sequenceCrossEntropy(model(input), target).backward()
    optimizer.step()
}
step(); step()
var cairnTimes: [Double] = []
for _ in 0..<steps { cairnTimes.append(seconds(ContinuousClock().measure { step() })) }
let cairnStep = median(cairnTimes)

// The kernel's rate on a 512×512 product, through the same Tensor API.
let a = Tensor.randn([512, 512], rng: &rng), b = Tensor.randn([512, 512], rng: &rng)
_ = a.matmul(b)
let matmulSeconds = (0..<5).map { _ in seconds(ContinuousClock().measure { _ = a.matmul(b) }) }.min() ?? 1
let matmulRate = 2 * 512 * 512 * 512 / matmulSeconds / 1e9

// MARK: PyTorch

let torchScript = """
import json, sys, time
import torch
torch.set_num_threads(1)
layers, width, heads, context, batch, vocabulary, steps = map(int, sys.argv[1:8])
class LM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocabulary, width)
        self.positions = torch.nn.Embedding(context, width)
        self.blocks = torch.nn.ModuleList([torch.nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0,
            activation="gelu", batch_first=True, norm_first=True) for _ in range(layers)])
        self.norm = torch.nn.LayerNorm(width)
        self.head = torch.nn.Linear(width, vocabulary, bias=False)
        self.head.weight = self.embedding.weight
    def forward(self, tokens):
        mask = torch.triu(torch.ones(context, context, dtype=torch.bool), diagonal=1)
        x = self.embedding(tokens) + self.positions(torch.arange(context))
        for block in self.blocks:
            x = block(x, src_mask=mask)
        return self.head(self.norm(x))
model = LM()
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1)
x = torch.randint(0, vocabulary, (batch, context))
y = torch.randint(0, vocabulary, (batch, context))
def step():
    optimizer.zero_grad()
    torch.nn.functional.cross_entropy(model(x).reshape(-1, vocabulary), y.reshape(-1)).backward()
    optimizer.step()
step(); step()
times = []
for _ in range(steps):
    start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
times.sort()
print(json.dumps({"median": times[len(times) // 2], "torch": torch.__version__}))
"""

print("Character transformer step: \(layers) layers, width \(width), \(heads) heads, context \(context), batch \(batch), "
      + "vocabulary \(vocabularySize), AdamW; median of \(steps) steps after 2 warm-ups, one thread each")
print(String(format: "  model: %.2f M parameters (tied), about %.1f GFLOP per step", Double(model.parameters().reduce(0) { $0 + $1.value.count }) / 1e6,
             flopsPerStep / 1e9))
print(String(format: "  Cairn     %9.0f µs/step   %6.1f GFLOP/s  (kernel on 512×512 here: %.1f GFLOP/s, %.0f %% of it)",
             cairnStep * 1e6, flopsPerStep / cairnStep / 1e9, matmulRate, 100 * flopsPerStep / cairnStep / 1e9 / matmulRate))
if let python = torchPython() {
    let script = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-lm-benchmark-\(getpid()).py")
    try? torchScript.write(to: script, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: script) }
    let values = [layers, width, heads, context, batch, vocabularySize, steps].map(String.init)
    if let result = try? runCapturingOutput(python, [script.path] + values), result.status == 0,
       let line = result.output.split(separator: "\n").last,
       let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
       let torchStep = object["median"] as? Double {
        print(String(format: "  PyTorch   %9.0f µs/step   %6.1f GFLOP/s  (torch %@)", torchStep * 1e6, flopsPerStep / torchStep / 1e9,
                     (object["torch"] as? String) ?? "?"))
        print(String(format: "  Cairn / PyTorch time: %.2f×   (target ≤ 0.80×)", cairnStep / torchStep))
    } else {
        print("  PyTorch: the reference run failed")
    }
} else {
    print("  PyTorch: no torch venv (tools/python-interop/ensure-venv.sh), ratio not measured")
}

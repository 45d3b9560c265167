// Release-mode benchmark of one training epoch of the DigitsMLP (64-128-10, BatchNorm1d,
// Dropout, Adam, batch 64) on the digits train split, next to plain PyTorch doing the same
// loop in the same invocation, printed as µs per step and a ratio.
//
//     swift run -c release --scratch-path .build-release MLPBenchmark [epochs]
//
// Torch is $CAIRN_TORCH_PYTHON's, else that of the venv tools/python-interop/ensure-venv.sh makes.

import BenchmarkSupport
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
import Foundation

let epochsToTime = CommandLine.arguments.count > 1 ? max(1, Int(CommandLine.arguments[1]) ?? 5) : 5
let digitsPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../Fixtures/digits.csv").standardized.path

/// Timings of several epochs: seconds per epoch and the number of steps in one.
struct EpochTimings {
    var seconds: [Double]
    var stepsPerEpoch: Int
    var samplesPerEpoch: Int

    var best: Double { seconds.min() ?? .nan }
    var median: Double {
        let sorted = seconds.sorted()
        return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
    }
    func microsecondsPerStep(_ epochSeconds: Double) -> Double { epochSeconds * 1e6 / Double(stepsPerEpoch) }
}

func timeCairn<Source: Dataset>(train: Source) -> EpochTimings {
    let loader = DataLoader(train, batchSize: 64, shuffle: true, seed: 7)
    let model = DigitsMLP(seed: 3)
    let optimizer = Adam(model.parameters(), lr: 1e-3)
    model.train()
    let clock = ContinuousClock()
    var seconds: [Double] = []
    // Epoch 0 warms up the allocator: this VM returns freed pages to the host, so the first
    // epoch pays for faulting them back in.
    for epoch in 0...epochsToTime {
        // Batches are gathered before timing, as the torch loop below indexes pre-built tensors.
        guard let batches = try? loader.epochBatches() else {
            print("MLPBenchmark: the digits data cannot be batched")
            exit(1)
        }
        let inputs = batches.compactMap { batch in batch["features"].flatMap { features in batch["target"].map { (features, $0) } } }
        let elapsed = clock.measure {
            for (features, labels) in inputs {
                optimizer.zeroGrad()
                Loss.crossEntropy(model(features), labels).backward()
                optimizer.step()
            }
        }
        if epoch > 0 { seconds.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) }
    }
    return EpochTimings(seconds: seconds, stepsPerEpoch: loader.batchesPerEpoch, samplesPerEpoch: train.count)
}

/// The same loop in PyTorch; prints one JSON line per thread setting.
let torchScript = """
import json, sys, time
import numpy as np
import torch
path, count, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if threads > 0:
    torch.set_num_threads(threads)
data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32)[:count]
x = torch.from_numpy(data[:, :64] / 16.0)
y = torch.from_numpy(data[:, 64].astype(np.int64))
torch.manual_seed(3)
model = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.BatchNorm1d(128), torch.nn.ReLU(),
                            torch.nn.Dropout(0.1), torch.nn.Linear(128, 10))
model.train()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = torch.nn.CrossEntropyLoss()
times, steps = [], 0
for epoch in range(epochs + 1):
    order = torch.randperm(count)
    batches = [(x[order[i:i + 64]], y[order[i:i + 64]]) for i in range(0, count, 64)]
    start = time.perf_counter()
    for xb, yb in batches:
        opt.zero_grad()
        loss_fn(model(xb), yb).backward()
        opt.step()
    if epoch > 0:
        times.append(time.perf_counter() - start)
    steps = len(batches)
print(json.dumps({"threads": torch.get_num_threads(), "seconds": times, "steps": steps, "version": torch.__version__}))
"""

/// Torch's timings with `threads` intra-op threads (0 = torch's default), or nil on failure.
func timeTorch(python: String, samples: Int, threads: Int) -> (threads: Int, timings: EpochTimings, version: String)? {
    guard let result = try? runCapturingOutput(python, ["-c", torchScript, digitsPath, String(samples), String(epochsToTime), String(threads)]),
          result.status == 0,
          let line = result.output.split(separator: "\n").last,
          let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
          let seconds = object["seconds"] as? [Double], let steps = object["steps"] as? Int else { return nil }
    return (object["threads"] as? Int ?? threads, EpochTimings(seconds: seconds, stepsPerEpoch: steps, samplesPerEpoch: samples),
            object["version"] as? String ?? "?")
}

func describe(_ name: String, _ timings: EpochTimings) {
    print("\(name.padding(toLength: 30, withPad: " ", startingAt: 0))"
          + " epoch best \(String(format: "%7.2f", timings.best * 1e3)) ms, median \(String(format: "%7.2f", timings.median * 1e3)) ms"
          + " | \(String(format: "%7.1f", timings.microsecondsPerStep(timings.best))) µs/step best,"
          + " \(String(format: "%7.1f", timings.microsecondsPerStep(timings.median))) median"
          + " | \(String(format: "%8.0f", Double(timings.samplesPerEpoch) / timings.best)) samples/s")
}

let dataset: CSVDataset
do {
    dataset = try CSVDataset(contentsOfFile: digitsPath).scaled(by: 1 / 16)
} catch {
    print("MLPBenchmark: \(error)")
    exit(1)
}
let train = dataset.split(validationFraction: 0, testFraction: 0.2, seed: 42).train
print("DigitsMLP 64-128-10 (BatchNorm1d, Dropout 0.1), Adam, batch 64, \(train.count) train samples;"
      + " 1 warm-up epoch + \(epochsToTime) timed")
let cairn = timeCairn(train: train)
describe("Cairn", cairn)
guard let python = torchPython() else {
    print("PyTorch: skipped (tools/python-interop/ensure-venv.sh found no python3 to make its venv; or set CAIRN_TORCH_PYTHON)")
    exit(0)
}
for threads in [1, 0] {
    guard let torch = timeTorch(python: python, samples: train.count, threads: threads) else {
        print("PyTorch (\(threads == 0 ? "default" : "1") threads): run failed")
        continue
    }
    describe("PyTorch \(torch.version) \(torch.threads) thr", torch.timings)
    let ratio = cairn.microsecondsPerStep(cairn.median) / torch.timings.microsecondsPerStep(torch.timings.median)
    print("  ratio Cairn/PyTorch (\(torch.threads) thread\(torch.threads == 1 ? "" : "s"), median µs/step): \(String(format: "%.2f", ratio))"
          + (ratio < 1 ? " (Cairn faster)" : " (Cairn slower)"))
}

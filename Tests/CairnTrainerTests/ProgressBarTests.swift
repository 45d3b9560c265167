import CairnData
import CairnNN
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Collects what a printing callback writes, as a terminal or a pipe would receive it.
final class TextCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var collected = ""

    var text: String { lock.withLock { collected } }

    func output(isTerminal: Bool, columns: Int? = nil) -> TextOutput {
        TextOutput(isTerminal: isTerminal, columns: { columns }) { [self] piece in lock.withLock { collected += piece } }
    }
}

/// TinyClassifier that puts its validation loss on the progress bar and has an example input.
final class BarClassifier: TinyClassifier, @unchecked Sendable {
    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let loss = Loss.crossEntropy(self(try batch.tensor("features")), try batch.tensor("target"))
        log("val_loss", loss, progressBar: true)
        return loss
    }

    override var exampleInput: Tensor? { Tensor.zeros([1, 3]) }
}

@Suite struct ProgressBarTests {
    @Test func lineShowsCountRateTimesAndMetrics() {
        let start = ContinuousClock.now
        var line = ProgressLine("Epoch 3/15", total: 22, startedAt: start)
        line.completed = 10
        let text = line.render(metrics: ["train_loss": 0.3104, "val_loss": 0.29], now: start + .seconds(1))
        #expect(text == "Epoch 3/15:  45%|████▌     | 10/22 [00:01<00:01, 10.00it/s, train_loss=0.31, val_loss=0.29]")
        #expect(line.render(metrics: [:], now: start + .seconds(1), width: 20).count == 20)
        #expect(ProgressLine.rateText(0.4) == "2.50s/it")
        #expect(ProgressLine.clock(3725) == "1:02:05")
        #expect(ProgressLine.bar(fraction: 1) == String(repeating: "█", count: 10))
        #expect(ProgressLine("Validation", total: 0).percent == 100)
    }

    /// Through a real file (not a terminal): plain lines at 40 % and 80 % of each epoch and one at
    /// its end with the validation loss; no cursor control; the sanity check and fit's validation
    /// print nothing of their own, a standalone validation does.
    @Test func pipedOutputPrintsPlainLines() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("cairn-bar-\(UUID()).txt")
        FileManager.default.createFile(atPath: file.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: file) }
        let handle = try FileHandle(forWritingTo: file)
        let bar = ProgressBar(plainLinePercent: 40, output: .fileHandle(handle))
        #expect(!bar.output.isTerminal)
        let trainer = try Trainer(quietOptions(maxEpochs: 2, numSanityValSteps: 2), callbacks: [bar])
        try trainer.fit(BarClassifier(seed: 3), data: try freshData())
        try trainer.validate(BarClassifier(seed: 3), data: try freshData())
        try handle.close()

        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
        let prefixes = lines.map { String($0.prefix { $0 != "[" }) }
        #expect(prefixes == ["Epoch 1/2:  40%|████      | 2/5 ", "Epoch 1/2:  80%|████████  | 4/5 ",
                             "Epoch 1/2: 100%|██████████| 5/5 ",
                             "Epoch 2/2:  40%|████      | 2/5 ", "Epoch 2/2:  80%|████████  | 4/5 ",
                             "Epoch 2/2: 100%|██████████| 5/5 ",
                             "Validation:  50%|█████     | 1/2 ", "Validation: 100%|██████████| 2/2 "], "\(lines)")
        #expect(lines[2].contains("val_loss="))
        #expect(!lines[0].contains("val_loss="))
        #expect(lines.allSatisfy { !$0.contains("\r") && !$0.contains("\u{1B}") })
    }

    /// On a terminal: every batch redraws the line in place (carriage return, erase line), the
    /// sanity check's bar is erased, and each epoch ends with exactly one newline.
    @Test func terminalOutputRedrawsInPlace() throws {
        let collector = TextCollector()
        let bar = ProgressBar(output: collector.output(isTerminal: true, columns: 60))
        try Trainer(quietOptions(maxEpochs: 2, numSanityValSteps: 2), callbacks: [bar]).fit(BarClassifier(seed: 3), data: try freshData())
        let text = collector.text
        let newlines = text.filter { $0 == "\n" }.count
        #expect(newlines == 2)
        let draws = text.components(separatedBy: "\r\u{1B}[2K").dropFirst()
        // Per epoch: its start, 5 batches, 2 validation batches and the training bar back twice;
        // plus the sanity check's 2 batches and its erasure.
        #expect(draws.count == 2 * 10 + 3, "\(draws.count)")
        #expect(draws.allSatisfy { $0.trimmingCharacters(in: .newlines).count <= 59 })
        let finalLines = text.split(separator: "\n").map { $0.components(separatedBy: "\r\u{1B}[2K").last ?? "" }
        #expect(finalLines.map { $0.hasPrefix("Epoch 1/2: 100%") || $0.hasPrefix("Epoch 2/2: 100%") } == [true, true], "\(finalLines)")
    }

    /// The trainer's own bar and summary print only to a terminal, and can be switched off.
    @Test func defaultsAreTerminalOnlyAndOptional() throws {
        let defaults = try Trainer(quietOptions())
        let bars = defaults.callbacks.compactMap { $0 as? ProgressBar }
        #expect(bars.count == 1 && bars[0].onlyOnTerminal)
        #expect(defaults.callbacks.compactMap { $0 as? ModelSummaryCallback }.map(\.onlyOnTerminal) == [true])
        let off = try Trainer(Trainer.Options(enableCheckpointing: false, enableProgressBar: false, enableModelSummary: false))
        #expect(off.callbacks.isEmpty)
        let own = ProgressBar(refreshRate: 5)
        #expect(try Trainer(quietOptions(), callbacks: [own]).callbacks.compactMap { $0 as? ProgressBar }.map { $0 === own } == [true])

        let collector = TextCollector()
        let silent = ProgressBar(output: collector.output(isTerminal: false), onlyOnTerminal: true)
        let summary = ModelSummaryCallback(output: collector.output(isTerminal: false), onlyOnTerminal: true)
        try Trainer(quietOptions(), callbacks: [silent, summary]).fit(BarClassifier(seed: 3), data: try freshData())
        #expect(collector.text.isEmpty)
    }

    @Test func registryBuildsBarAndSummary() throws {
        let bar = try #require(try CallbackRegistry().make("ProgressBar:refresh_rate=3") as? ProgressBar)
        #expect(bar.refreshRate == 3)
        let summary = try #require(try CallbackRegistry().make("ModelSummary:max_depth=-1") as? ModelSummaryCallback)
        #expect(summary.maxDepth == -1)
        #expect(throws: CallbackSpecError.self) { try CallbackRegistry().make("ProgressBar:refresh_rate=-1") }
    }
}

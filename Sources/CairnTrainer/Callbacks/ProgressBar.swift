import CairnData
import CairnTensor
import Foundation

/// Lightning's TQDMProgressBar: a bar per training epoch with the batch count, elapsed time,
/// time left, rate and the metrics logged with `progressBar: true`, and a bar for validation,
/// test and prediction runs. On a terminal it redraws one line in place; elsewhere (a pipe, a
/// CI log) it prints plain lines, one every ``plainLinePercent`` percent of an epoch and one at its end.
public final class ProgressBar: Callback, @unchecked Sendable {
    /// Redraw every this many batches on a terminal (Lightning's `refresh_rate`; 0 turns the bar off).
    public let refreshRate: Int
    /// Off a terminal, print a line each time an epoch passes another multiple of this percentage.
    public let plainLinePercent: Int
    /// Where the bar is written (standard output by default, as Lightning).
    public let output: TextOutput
    /// Stay silent unless ``output`` is a terminal (the bar the trainer adds by itself does, so
    /// test runs and scripts are not filled with bars they did not ask for).
    public let onlyOnTerminal: Bool

    private var trainLine: ProgressLine?
    private var evaluationLine: ProgressLine?
    private var plainLinesPrinted = 0
    /// A redrawn line is on screen without its newline yet.
    private var lineOpen = false

    /// A progress bar writing to `output`.
    public init(refreshRate: Int = 1, plainLinePercent: Int = 50, output: TextOutput = .standardOutput,
                onlyOnTerminal: Bool = false) {
        precondition(refreshRate >= 0, "ProgressBar: refreshRate \(refreshRate) must not be negative")
        precondition((1...100).contains(plainLinePercent), "ProgressBar: plainLinePercent \(plainLinePercent) must be in 1...100")
        self.refreshRate = refreshRate
        self.plainLinePercent = plainLinePercent
        self.output = output
        self.onlyOnTerminal = onlyOnTerminal
        super.init()
    }

    /// Whether anything is written at all.
    public var isEnabled: Bool { refreshRate > 0 && (!onlyOnTerminal || output.isTerminal) }

    // MARK: Training

    override public func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard isEnabled else { return }
        let epoch = trainer.currentEpoch + 1
        let limit = trainer.maxEpochs.map { "/\($0)" } ?? ""
        trainLine = ProgressLine("Epoch \(epoch)\(limit)", total: trainer.trainBatchCount,
                                 completed: trainer.progress.trainBatch.current.completed)
        plainLinesPrinted = trainLine.map { $0.percent / plainLinePercent } ?? 0
        if output.isTerminal, let trainLine { draw(trainLine, trainer: trainer) }
    }

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        guard isEnabled, var line = trainLine else { return }
        line.completed = batchIndex + 1
        trainLine = line
        advance(line, trainer: trainer, plainLines: true)
    }

    override public func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard isEnabled, let line = trainLine else { return }
        finish(line, trainer: trainer)
        trainLine = nil
    }

    override public func onTrainEnd(_ trainer: Trainer, _ module: TrainingModule) throws { closeLine() }

    override public func onException(_ trainer: Trainer, _ module: TrainingModule, error: any Error) throws { closeLine() }

    // MARK: Validation, test and prediction

    override public func onValidationStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        startEvaluation(trainer.isSanityChecking ? "Sanity Checking" : "Validation", trainer)
    }

    override public func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                              batchIndex: Int, dataloaderIndex: Int) throws {
        advanceEvaluation(to: batchIndex + 1, trainer)
    }

    override public func onValidationEnd(_ trainer: Trainer, _ module: TrainingModule) throws { endEvaluation(trainer) }

    override public func onTestStart(_ trainer: Trainer, _ module: TrainingModule) throws { startEvaluation("Testing", trainer) }

    override public func onTestBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                        batchIndex: Int, dataloaderIndex: Int) throws {
        advanceEvaluation(to: batchIndex + 1, trainer)
    }

    override public func onTestEnd(_ trainer: Trainer, _ module: TrainingModule) throws { endEvaluation(trainer) }

    override public func onPredictStart(_ trainer: Trainer, _ module: TrainingModule) throws { startEvaluation("Predicting", trainer) }

    override public func onPredictBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor, batch: Batch,
                                           batchIndex: Int, dataloaderIndex: Int) throws {
        advanceEvaluation(to: batchIndex + 1, trainer)
    }

    override public func onPredictEnd(_ trainer: Trainer, _ module: TrainingModule) throws { endEvaluation(trainer) }

    /// Whether the evaluation bar stands on its own (validate, test, predict) rather than inside fit.
    private func isStandalone(_ trainer: Trainer) -> Bool { trainer.stage != .fit }

    private func startEvaluation(_ description: String, _ trainer: Trainer) {
        guard isEnabled else { return }
        evaluationLine = ProgressLine(description, total: trainer.evaluationBatchCount)
        if !output.isTerminal { plainLinesPrinted = 0 }
    }

    private func advanceEvaluation(to completed: Int, _ trainer: Trainer) {
        guard isEnabled, var line = evaluationLine else { return }
        line.completed = completed
        evaluationLine = line
        // Off a terminal, fit's validation shows up through the metrics on the epoch's line.
        advance(line, trainer: trainer, plainLines: isStandalone(trainer), showsMetrics: false)
    }

    private func endEvaluation(_ trainer: Trainer) {
        guard isEnabled, let line = evaluationLine else { return }
        evaluationLine = nil
        if isStandalone(trainer) {
            finish(line, trainer: trainer)
        } else if output.isTerminal {
            // Inside fit the evaluation bar gives its line back to the training bar, as tqdm's
            // `leave=False` bars vanish.
            if let trainLine {
                draw(trainLine, trainer: trainer)
            } else {
                output.write("\r\u{1B}[2K")
                lineOpen = false
            }
        }
    }

    // MARK: Writing

    /// After a batch: redraws on a terminal every `refreshRate` batches; elsewhere prints a
    /// line when a new multiple of `plainLinePercent` is reached (the last one waits for `finish`).
    private func advance(_ line: ProgressLine, trainer: Trainer, plainLines: Bool, showsMetrics: Bool = true) {
        if output.isTerminal {
            if line.completed % refreshRate == 0 || line.completed == line.total {
                draw(line, trainer: trainer, showsMetrics: showsMetrics)
            }
        } else if plainLines, line.completed < line.total, line.percent / plainLinePercent > plainLinesPrinted {
            plainLinesPrinted = line.percent / plainLinePercent
            output.write(line.render(metrics: showsMetrics ? trainer.metrics.progressBarMetrics : [:]) + "\n")
        }
    }

    /// The bar's final state, then a newline: the line stays on screen or in the log.
    private func finish(_ line: ProgressLine, trainer: Trainer) {
        if output.isTerminal {
            draw(line, trainer: trainer)
            closeLine()
        } else {
            output.write(line.render(metrics: trainer.metrics.progressBarMetrics) + "\n")
        }
    }

    /// Redraws `line` over the current terminal line, cut to the terminal's width so it never wraps.
    private func draw(_ line: ProgressLine, trainer: Trainer, showsMetrics: Bool = true) {
        let width = (output.columns ?? 80) - 1
        output.write("\r\u{1B}[2K" + line.render(metrics: showsMetrics ? trainer.metrics.progressBarMetrics : [:], width: width))
        lineOpen = true
    }

    private func closeLine() {
        guard lineOpen else { return }
        output.write("\n")
        lineOpen = false
    }
}

extension Trainer {
    /// Batches in one training epoch: the loader's, capped by `limitTrainBatches`.
    var trainBatchCount: Int { min(trainLoader?.batchesPerEpoch ?? 0, options.limitTrainBatches ?? Int.max) }
}

extension ProgressBar: RegistrableCallback {
    public static var registryName: String { "ProgressBar" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let refreshRate = try arguments.int("refresh_rate") ?? 1
        let percent = try arguments.int("plain_line_percent") ?? 50
        guard refreshRate >= 0 else {
            throw CallbackSpecError.badValue(callback: registryName, key: "refresh_rate", value: "\(refreshRate)", expected: "count of at least 0")
        }
        guard (1...100).contains(percent) else {
            throw CallbackSpecError.badValue(callback: registryName, key: "plain_line_percent", value: "\(percent)", expected: "percentage in 1...100")
        }
        return ProgressBar(refreshRate: refreshRate, plainLinePercent: percent)
    }
}

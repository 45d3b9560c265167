import ArgumentParser
import Cairn
import Foundation

/// The options every `cairn` subcommand shares: data, model, trainer and callbacks.
struct RunOptions: ParsableArguments {
    @Option(help: "The example to train: digits (an MLP on 8×8 digit images) or charlm (a character-level transformer language model).")
    var model: ExampleModel = .digits

    @Option(help: "The data: for digits a CSV (columns p0…p63,label), for charlm a UTF-8 text (default: the data bundled with cairn).")
    var data: String?

    @Option(help: "Number of epochs to train (default: 15 for digits, no limit for charlm).")
    var maxEpochs: Int?

    @Option(help: "Stop after this many optimizer steps (default: none for digits, 3000 for charlm).")
    var maxSteps: Int?

    @Option(help: "Samples per batch (default: 64 for digits, 32 for charlm).")
    var batchSize: Int?

    @Option(help: "The optimizer's learning rate (Adam for digits, AdamW for charlm).")
    var lr = 3e-3

    @Option(help: "Seed for the data split, initialisation, dropout and shuffling.")
    var seed: UInt64 = 42

    @Option(help: "Directory for checkpoints (in <root>/checkpoints) and logs.")
    var defaultRootDir = "cairn_logs"

    @Option(help: "Checkpoint to start from: last, best or a file path.")
    var ckptPath: String?

    @Option(help: "Also checkpoint every N optimizer steps, keeping last.ckpt current.")
    var everyNTrainSteps: Int?

    @Option(help: "A callback as Name:key=value,... (repeatable); known: \(CallbackRegistry.shared.names.joined(separator: ", ")).")
    var callback: [String] = []

    @Flag(help: "Print one plain line per epoch instead of a progress bar.")
    var noProgressBar = false

    @Flag(help: "Do not print the table of the model's layers when fit starts.")
    var noModelSummary = false

    @Option(help: "A logger, csv or tensorboard, optionally with :save_dir=…,name=…,version=…,prefix=… (repeatable; default: both, under <root>/lightning_logs/version_N).")
    var logger: [String] = []

    @Flag(help: "Log no metrics to files (no CSV or TensorBoard logger).")
    var noLogger = false

    @Flag(help: "Do not stop early when val_loss stops improving (default: EarlyStopping on val_loss, patience 3).")
    var noEarlyStopping = false

    @OptionGroup(title: "Trainer options")
    var trainerFlags: TrainerFlags

    @OptionGroup(title: "Character language model options (--model charlm)")
    var charlm: CharacterLMFlags

    func validate() throws {
        if let data {
            do { try InputFile.requireReadableRegularFile(data) } catch { throw ValidationError("--data \(error)") }
        }
        if let maxEpochs, maxEpochs < 1 { throw ValidationError("--max-epochs must be at least 1, got \(maxEpochs)") }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1, got \(maxSteps)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let everyNTrainSteps, everyNTrainSteps < 1 {
            throw ValidationError("--every-n-train-steps must be at least 1, got \(everyNTrainSteps)")
        }
        if noLogger, !logger.isEmpty { throw ValidationError("--no-logger conflicts with --logger") }
        for spec in logger {
            do { _ = try LoggerSpec(parsing: spec) } catch { throw ValidationError("--logger \(spec): \(error)") }
        }
        if trainerFlags.noCheckpointing {
            if everyNTrainSteps != nil { throw ValidationError("--no-checkpointing conflicts with --every-n-train-steps") }
            if callback.contains(where: { $0.split(separator: ":").first == "ModelCheckpoint" }) {
                throw ValidationError("--no-checkpointing conflicts with --callback ModelCheckpoint")
            }
        }
    }

    var checkpointDirectory: String { URL(fileURLWithPath: defaultRootDir).appendingPathComponent("checkpoints").path }

    /// The `--callback` specs, then (unless one was given) the default ModelCheckpoint: val_loss,
    /// top 3 and last.ckpt; with `--every-n-train-steps` a step-triggered one owns last.ckpt instead.
    func callbacks(printing: Bool) throws -> [Callback] {
        var callbacks = try callback.map { try CallbackRegistry.shared.make($0) }
        if !trainerFlags.noCheckpointing, !callbacks.contains(where: { $0 is ModelCheckpoint }) {
            callbacks.append(try ModelCheckpoint(dirpath: checkpointDirectory, monitor: "val_loss", saveTopK: 3,
                                                 saveLast: everyNTrainSteps == nil))
        }
        if let everyNTrainSteps {
            callbacks.append(try ModelCheckpoint(dirpath: checkpointDirectory, saveTopK: 0, saveLast: true,
                                                 everyNTrainSteps: everyNTrainSteps))
        }
        if !noEarlyStopping, !callbacks.contains(where: { $0 is EarlyStopping }) {
            callbacks.append(try EarlyStopping(monitor: "val_loss"))
        }
        if printing {
            // Explicit ones print to a pipe too (plain lines), unlike the trainer's terminal-only defaults.
            if !noModelSummary { callbacks.insert(ModelSummaryCallback(), at: 0) }
            callbacks.append(noProgressBar ? EpochPrinter() : ProgressBar())
        }
        pauseBeforeEvictionWhenAsked(callbacks)
        return callbacks
    }

    /// `CAIRN_PAUSE_BEFORE_EVICTION=<seconds>`: each ModelCheckpoint announces an eviction on
    /// stderr and sleeps before deleting, so crash tests can kill the run in that window.
    private func pauseBeforeEvictionWhenAsked(_ callbacks: [Callback]) {
        guard let text = ProcessInfo.processInfo.environment["CAIRN_PAUSE_BEFORE_EVICTION"],
              let seconds = Double(text), seconds >= 0 else { return }
        for case let checkpoint as ModelCheckpoint in callbacks {
            checkpoint.beforeEviction = { path in
                FileHandle.standardError.write(Data("cairn: evicting \(path)\n".utf8))
                Thread.sleep(forTimeInterval: seconds)
            }
        }
    }

    func trainer(printing: Bool) throws -> Trainer {
        var options = Trainer.Options {
            $0.maxEpochs = maxEpochs ?? (model == .digits ? 15 : nil)
            $0.maxSteps = maxSteps ?? (model == .charlm ? 3000 : nil)
            $0.defaultRootDir = defaultRootDir
            $0.seed = seed
            $0.handlesInterruptSignal = true
            $0.enableProgressBar = false
            $0.enableModelSummary = false
        }
        try trainerFlags.apply(to: &options)
        // An epoch of character windows is long: validate every 500 steps unless told otherwise.
        if model == .charlm, options.valCheckInterval == nil { options.valCheckInterval = .batches(500) }
        return try Trainer(options, callbacks: callbacks(printing: printing), loggers: loggers())
    }

    /// The `--logger` specs, or CSV and TensorBoard when none was given (none with `--no-logger`).
    func loggers() throws -> [any ExperimentLogger] {
        if noLogger { return [] }
        return try LoggerSpec.makeLoggers(logger.isEmpty ? ["csv", "tensorboard"] : logger, defaultRootDir: defaultRootDir)
    }

    /// The data file read, for messages.
    var dataDescription: String { data ?? (model == .digits ? "bundled digits.csv" : "bundled fortunes.txt") }

    func selection(default fallback: CheckpointSelection?) -> CheckpointSelection? {
        ckptPath.map(CheckpointSelection.init) ?? fallback
    }
}

/// Errors from data or files become one clear line on stderr and exit status 2; Ctrl-C
/// (a stage stopped after its batch) exits with status 130, as a shell expects of SIGINT.
func reportingErrors<Result>(_ body: () throws -> Result) throws -> Result {
    do {
        return try body()
    } catch let error as ExitCode {
        throw error
    } catch let TrainerError.interrupted(stage) {
        let message = "cairn: \(TrainerError.interrupted(stage: stage)); checkpoints written so far are intact\n"
        FileHandle.standardError.write(Data(message.utf8))
        throw ExitCode(130)
    } catch {
        FileHandle.standardError.write(Data("cairn: \(error)\n".utf8))
        throw ExitCode(2)
    }
}

/// `name value` pairs, four decimals, in name order.
func formatted(_ metrics: [String: Double]) -> String {
    metrics.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: "  ")
}

/// One line per training epoch: its number, step and epoch metrics.
final class EpochPrinter: Callback, @unchecked Sendable {
    override var monitorsMetrics: Bool { true }

    override func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        let metrics = trainer.metrics.callbackMetrics.filter { !$0.key.hasSuffix("_step") }
        let limit = trainer.options.maxEpochs.map { "/\($0)" } ?? ""
        print("epoch \(trainer.currentEpoch + 1)\(limit)  step \(trainer.globalStep)  "
              + formatted(Dictionary(uniqueKeysWithValues: metrics.map { ($0.key, $0.value) })))
    }
}

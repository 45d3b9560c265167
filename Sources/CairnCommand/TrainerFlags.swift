import ArgumentParser
import Cairn
import Foundation

/// The Trainer's loop options as `cairn` flags, named after Lightning's Trainer arguments.
struct TrainerFlags: ParsableArguments {
    @Option(help: "Train at least this many epochs before an early stop is honoured.")
    var minEpochs: Int?

    @Option(help: "Stop after this much training time: DD:HH:MM:SS or a number of seconds.")
    var maxTime: String?

    @Option(help: "Training batches per epoch (default: all).")
    var limitTrainBatches: Int?

    @Option(help: "Validation batches per run (0 disables validation; default: all).")
    var limitValBatches: Int?

    @Option(help: "Test batches per run (default: all).")
    var limitTestBatches: Int?

    @Option(help: "Validate every N training batches (an integer) or every fraction of the epoch (e.g. 0.25).")
    var valCheckInterval: String?

    @Option(help: "Validate every N epochs.")
    var checkValEveryNEpoch = 1

    @Option(help: "Validation batches run before training (-1: all, 0: none).")
    var numSanityValSteps = 2

    @Option(help: "Batches whose gradients are summed before each optimizer step.")
    var accumulateGradBatches = 1

    @Option(help: "Clip gradients to this bound before each step (0: no clipping).")
    var gradientClipVal: Float = 0

    @Option(help: "How --gradient-clip-val applies: norm (global norm) or value.")
    var gradientClipAlgorithm = "norm"

    @Option(help: "Send step metrics to the loggers every N optimizer steps.")
    var logEveryNSteps = 50

    @Option(help: "Smoke test: N batches of each stage, one epoch, no sanity check, no checkpoint files.")
    var fastDevRun: Int?

    @Flag(help: "Ask for bit-reproducible training (Cairn's kernels always are; see the CairnTrainer docs).")
    var deterministic = false

    @Flag(help: "Write no checkpoints (no default ModelCheckpoint).")
    var noCheckpointing = false

    func validate() throws {
        func atLeast(_ minimum: Int, _ value: Int?, _ flag: String) throws {
            if let value, value < minimum { throw ValidationError("\(flag) must be at least \(minimum), got \(value)") }
        }
        try atLeast(0, minEpochs, "--min-epochs")
        try atLeast(0, limitTrainBatches, "--limit-train-batches")
        try atLeast(0, limitValBatches, "--limit-val-batches")
        try atLeast(0, limitTestBatches, "--limit-test-batches")
        try atLeast(1, checkValEveryNEpoch, "--check-val-every-n-epoch")
        try atLeast(-1, numSanityValSteps, "--num-sanity-val-steps")
        try atLeast(1, accumulateGradBatches, "--accumulate-grad-batches")
        try atLeast(1, logEveryNSteps, "--log-every-n-steps")
        try atLeast(1, fastDevRun, "--fast-dev-run")
        _ = try parsedMaxTime()
        _ = try parsedValCheckInterval()
        guard gradientClipVal >= 0, gradientClipVal.isFinite else {
            throw ValidationError("--gradient-clip-val must be a non-negative number, got \(gradientClipVal)")
        }
        guard Trainer.GradientClipAlgorithm(rawValue: gradientClipAlgorithm) != nil else {
            throw ValidationError("--gradient-clip-algorithm must be norm or value, got '\(gradientClipAlgorithm)'")
        }
    }

    /// `--max-time` as a duration: Lightning's `DD:HH:MM:SS`, or plain seconds.
    func parsedMaxTime() throws -> Duration? {
        guard let maxTime else { return nil }
        let problem = ValidationError("--max-time must be DD:HH:MM:SS or a number of seconds, got '\(maxTime)'")
        let fields = maxTime.split(separator: ":", omittingEmptySubsequences: false)
        if fields.count == 1 {
            guard let seconds = Double(maxTime), seconds.isFinite, seconds >= 0 else { throw problem }
            return .seconds(seconds)
        }
        guard fields.count == 4 else { throw problem }
        var total = 0
        for (field, unit) in zip(fields, [86_400, 3600, 60, 1]) {
            guard let value = Int(field), value >= 0 else { throw problem }
            let (scaled, overflowScale) = value.multipliedReportingOverflow(by: unit)
            let (sum, overflowSum) = total.addingReportingOverflow(scaled)
            guard !overflowScale, !overflowSum else { throw ValidationError("--max-time '\(maxTime)' is too long") }
            total = sum
        }
        return .seconds(total)
    }

    /// `--val-check-interval`: an integer is a batch count, anything with a point or exponent a fraction.
    func parsedValCheckInterval() throws -> Trainer.ValCheckInterval? {
        guard let valCheckInterval else { return nil }
        if let count = Int(valCheckInterval) {
            guard count >= 1 else { throw ValidationError("--val-check-interval must be at least 1 batch, got \(count)") }
            return .batches(count)
        }
        guard let fraction = Double(valCheckInterval), fraction >= 0, fraction <= 1 else {
            throw ValidationError("--val-check-interval must be a batch count (an integer) or a fraction within 0...1, got '\(valCheckInterval)'")
        }
        return .fraction(fraction)
    }

    /// Writes the flags into `options` (after `validate()` has accepted them).
    func apply(to options: inout Trainer.Options) throws {
        options.minEpochs = minEpochs
        options.maxTime = try parsedMaxTime()
        options.limitTrainBatches = limitTrainBatches
        options.limitValBatches = limitValBatches
        options.limitTestBatches = limitTestBatches
        options.valCheckInterval = try parsedValCheckInterval()
        options.checkValEveryNEpoch = checkValEveryNEpoch
        options.numSanityValSteps = numSanityValSteps == -1 ? Int.max : numSanityValSteps
        options.accumulateGradBatches = accumulateGradBatches
        options.gradientClipVal = gradientClipVal > 0 ? gradientClipVal : nil
        options.gradientClipAlgorithm = Trainer.GradientClipAlgorithm(rawValue: gradientClipAlgorithm) ?? .norm
        options.logEveryNSteps = logEveryNSteps
        options.fastDevRun = fastDevRun
        options.deterministic = deterministic
        options.enableCheckpointing = !noCheckpointing
    }
}

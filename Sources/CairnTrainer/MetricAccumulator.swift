import OrderedCollections

/// What the module logged: the latest step values and batch-size-weighted epoch means.
public struct LoggedMetrics: Sendable {
    /// Metrics visible to callbacks (latest step values and finished epoch means).
    public internal(set) var callbackMetrics: OrderedDictionary<String, Double> = [:]
    /// Metrics marked for the progress bar.
    public internal(set) var progressBarMetrics: OrderedDictionary<String, Double> = [:]
    /// Metrics sent to loggers: step values (every `logEveryNSteps`) and epoch means.
    public internal(set) var loggedMetrics: OrderedDictionary<String, Double> = [:]

    /// Running sums per phase, so a mid-epoch validation does not flush the training epoch's.
    var epochSums: [MetricPhase: OrderedDictionary<String, EpochSum>] = [:]
    /// Step values recorded since the phase's last batch end; the trainer decides there whether
    /// they reach the loggers (Lightning's `should_update_logs`).
    internal(set) var unsentStepMetrics: [MetricPhase: OrderedDictionary<String, Double>] = [:]

    init() {}

    mutating func record(_ name: String, _ value: Double, batchSize: Int, onStep: Bool, onEpoch: Bool, progressBar: Bool,
                         phase: MetricPhase) {
        if onStep {
            let key = onEpoch ? "\(name)_step" : name
            callbackMetrics[key] = value
            unsentStepMetrics[phase, default: [:]][key] = value
            if progressBar { progressBarMetrics[key] = value }
        }
        if onEpoch {
            let weight = Double(max(batchSize, 1))
            var sums = epochSums[phase, default: [:]][name] ?? EpochSum(weightedSum: 0, weight: 0, progressBar: progressBar)
            sums.weightedSum += value * weight
            sums.weight += weight
            epochSums[phase, default: [:]][name] = sums
        }
    }

    /// Publishes the weighted means of the epoch just ended (`name`, and `name_epoch` when
    /// the metric was also logged per step), starts a new epoch and returns the published means.
    @discardableResult
    mutating func finishEpoch(_ phase: MetricPhase) -> OrderedDictionary<String, Double> {
        let published = publishEpoch(phase, toLoggers: true)
        epochSums[phase] = nil
        unsentStepMetrics[phase] = nil
        return published
    }

    /// Makes the running means of `phase` visible to callbacks (and, with `toLoggers`, to the
    /// loggers) without ending the epoch, returning them: Lightning computes `callback_metrics` on
    /// access once the epoch's end is reached, so the epoch-end hooks see this epoch's means.
    @discardableResult
    mutating func publishEpoch(_ phase: MetricPhase, toLoggers: Bool = false) -> OrderedDictionary<String, Double> {
        var published = OrderedDictionary<String, Double>()
        for (name, sums) in epochSums[phase] ?? [:] {
            let mean = sums.weightedSum / sums.weight
            let alsoPerStep = callbackMetrics["\(name)_step"] != nil
            let key = alsoPerStep ? "\(name)_epoch" : name
            callbackMetrics[key] = mean
            if toLoggers { loggedMetrics[key] = mean }
            published[key] = mean
            if alsoPerStep { callbackMetrics[name] = mean }
            if sums.progressBar { progressBarMetrics[key] = mean }
        }
        return published
    }

    /// Drops the unfinished sums and unsent step values of `phase`: an evaluation restarted from its
    /// first batch (after a resume from a checkpoint written inside it) must not count its earlier batches twice.
    mutating func discardEpoch(_ phase: MetricPhase) {
        epochSums[phase] = nil
        unsentStepMetrics[phase] = nil
    }

    /// The step values recorded in `phase` since the last call, forgetting them.
    mutating func takeUnsentStepMetrics(_ phase: MetricPhase) -> OrderedDictionary<String, Double> {
        defer { unsentStepMetrics[phase] = nil }
        return unsentStepMetrics[phase] ?? [:]
    }

    /// Notes step values the trainer sent to the loggers.
    mutating func noteLogged(_ metrics: OrderedDictionary<String, Double>) {
        loggedMetrics.merge(metrics) { _, new in new }
    }

    /// Forgets everything but the training epoch's running sums (after the sanity check, as
    /// Lightning, whose sanity check resets only the validation loop's results).
    mutating func reset() {
        let trainingSums = epochSums[.training]
        self = LoggedMetrics()
        epochSums[.training] = trainingSums
    }
}

/// A metric's batch-size-weighted running sum over the epoch so far.
struct EpochSum: Sendable, Equatable {
    var weightedSum: Double
    var weight: Double
    var progressBar: Bool
}

/// Which loop a metric was logged in.
enum MetricPhase: String, Hashable, Sendable, CaseIterable { case training, evaluation }

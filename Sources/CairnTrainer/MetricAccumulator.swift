import OrderedCollections

/// What the module logged: the latest step values and batch-size-weighted epoch means.
public struct LoggedMetrics: Sendable {
    /// Metrics visible to callbacks (latest step values and finished epoch means).
    public internal(set) var callbackMetrics: OrderedDictionary<String, Double> = [:]
    /// Metrics marked for the progress bar.
    public internal(set) var progressBarMetrics: OrderedDictionary<String, Double> = [:]
    /// Metrics sent to loggers: step values (every `logEveryNSteps`) and epoch means.
    public internal(set) var loggedMetrics: OrderedDictionary<String, Double> = [:]

    /// One metric's running epoch sum.
    typealias EpochSum = (weightedSum: Double, weight: Double, progressBar: Bool)
    /// Running sums per phase, so a mid-epoch validation does not flush the training epoch's.
    var epochSums: [MetricPhase: OrderedDictionary<String, EpochSum>] = [:]

    init() {}

    mutating func record(_ name: String, _ value: Double, batchSize: Int, onStep: Bool, onEpoch: Bool, progressBar: Bool,
                         phase: MetricPhase, logStep: Bool) {
        if onStep {
            let key = onEpoch ? "\(name)_step" : name
            callbackMetrics[key] = value
            if logStep { loggedMetrics[key] = value }
            if progressBar { progressBarMetrics[key] = value }
        }
        if onEpoch {
            let weight = Double(max(batchSize, 1))
            var sums = epochSums[phase, default: [:]][name] ?? (0, 0, progressBar)
            sums.weightedSum += value * weight
            sums.weight += weight
            epochSums[phase, default: [:]][name] = sums
        }
    }

    /// Publishes the weighted means of the epoch just ended (`name`, and `name_epoch` when
    /// the metric was also logged per step) and starts a new epoch.
    mutating func finishEpoch(_ phase: MetricPhase) {
        publishEpoch(phase, toLoggers: true)
        epochSums[phase] = nil
    }

    /// Makes the running means of `phase` visible to callbacks (and, with `toLoggers`, to the
    /// loggers) without ending the epoch: Lightning computes `callback_metrics` on access once the
    /// epoch's end is reached, so the epoch-end hooks see this epoch's means.
    mutating func publishEpoch(_ phase: MetricPhase, toLoggers: Bool = false) {
        for (name, sums) in epochSums[phase] ?? [:] {
            let mean = sums.weightedSum / sums.weight
            let alsoPerStep = callbackMetrics["\(name)_step"] != nil
            let key = alsoPerStep ? "\(name)_epoch" : name
            callbackMetrics[key] = mean
            if toLoggers { loggedMetrics[key] = mean }
            if alsoPerStep { callbackMetrics[name] = mean }
            if sums.progressBar { progressBarMetrics[key] = mean }
        }
    }

    /// Drops the unfinished sums of `phase`: an evaluation restarted from its first batch (after a
    /// resume from a checkpoint written inside it) must not count its earlier batches twice.
    mutating func discardEpoch(_ phase: MetricPhase) { epochSums[phase] = nil }

    /// Forgets everything (after the sanity check, as Lightning).
    mutating func reset() { self = LoggedMetrics() }
}

/// Which loop a metric was logged in.
enum MetricPhase: String, Hashable, Sendable, CaseIterable { case training, evaluation }

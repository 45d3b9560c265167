import CairnCheckpoint
import OrderedCollections

// Lightning 1.x kept its result collections in the loops' state (`epoch_loop._results`); 2.x drops
// them, so a resumed run's epoch means cover only the batches after the resume and monitors lose
// the last validation's values. Cairn saves them, so the metrics after a resume match an
// uninterrupted run's (the trainer adds the records it owes its loggers beside them, see
// `Trainer.loggedResultsState()`).
extension LoggedMetrics {
    /// `{callback_metrics, progress_bar_metrics, logged_metrics, epoch_sums: {phase: {name: sums}},
    /// unsent_step_metrics: {phase: {name: value}}}`.
    var checkpointEntries: OrderedDictionary<CheckpointKey, CheckpointValue> {
        func values(_ metrics: OrderedDictionary<String, Double>) -> CheckpointValue {
            .dictionary(OrderedDictionary(uniqueKeysWithValues: metrics.map { (CheckpointKey.string($0.key), CheckpointValue.double($0.value)) }))
        }
        var sums = OrderedDictionary<CheckpointKey, CheckpointValue>()
        var unsent = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for phase in MetricPhase.allCases {
            if let phaseUnsent = unsentStepMetrics[phase], !phaseUnsent.isEmpty { unsent[.string(phase.rawValue)] = values(phaseUnsent) }
            guard let phaseSums = epochSums[phase] else { continue }
            sums[.string(phase.rawValue)] = .dictionary(OrderedDictionary(uniqueKeysWithValues: phaseSums.map { name, sum in
                (CheckpointKey.string(name), CheckpointValue.dictionary([
                    "weighted_sum": .double(sum.weightedSum), "weight": .double(sum.weight), "progress_bar": .bool(sum.progressBar),
                ]))
            }))
        }
        return [
            "callback_metrics": values(callbackMetrics),
            "progress_bar_metrics": values(progressBarMetrics),
            "logged_metrics": values(loggedMetrics),
            "epoch_sums": .dictionary(sums),
            "unsent_step_metrics": .dictionary(unsent),
        ]
    }

    /// Reads ``checkpointEntries`` found at `path`.
    init(_ value: CheckpointValue, path: String) throws {
        func entries(_ value: CheckpointValue?, _ path: String) throws -> OrderedDictionary<CheckpointKey, CheckpointValue> {
            guard case let .dictionary(entries)? = value else {
                throw TrainerError.malformedCheckpoint(path: path, reason: "missing or not a dictionary")
            }
            return entries
        }
        func values(_ value: CheckpointValue?, _ path: String) throws -> OrderedDictionary<String, Double> {
            var result = OrderedDictionary<String, Double>()
            for (key, entry) in try entries(value, path) {
                result[key.token] = try checkpointNumber(entry, "\(path)/\(key.token)")
            }
            return result
        }
        func phase(_ key: CheckpointKey, _ path: String) throws -> MetricPhase {
            guard let phase = MetricPhase(rawValue: key.token) else {
                throw TrainerError.malformedCheckpoint(path: path, reason: "expected training or evaluation")
            }
            return phase
        }
        self.init()
        callbackMetrics = try values(value["/callback_metrics"], "\(path)/callback_metrics")
        progressBarMetrics = try values(value["/progress_bar_metrics"], "\(path)/progress_bar_metrics")
        loggedMetrics = try values(value["/logged_metrics"], "\(path)/logged_metrics")
        for (phaseKey, phaseValue) in try entries(value["/epoch_sums"], "\(path)/epoch_sums") {
            let phasePath = "\(path)/epoch_sums/\(phaseKey.token)"
            var sums = OrderedDictionary<String, EpochSum>()
            for (name, sum) in try entries(phaseValue, phasePath) {
                let sumPath = "\(phasePath)/\(name.token)"
                guard case let .bool(progressBar)? = sum["/progress_bar"] else {
                    throw TrainerError.malformedCheckpoint(path: "\(sumPath)/progress_bar", reason: "expected a bool")
                }
                sums[name.token] = EpochSum(weightedSum: try checkpointNumber(sum["/weighted_sum"], "\(sumPath)/weighted_sum"),
                                            weight: try checkpointNumber(sum["/weight"], "\(sumPath)/weight"), progressBar: progressBar)
            }
            epochSums[try phase(phaseKey, phasePath)] = sums
        }
        // Absent from checkpoints written before the trainer forwarded step values to its loggers.
        if let unsent = value["/unsent_step_metrics"] {
            for (phaseKey, phaseValue) in try entries(unsent, "\(path)/unsent_step_metrics") {
                let phasePath = "\(path)/unsent_step_metrics/\(phaseKey.token)"
                unsentStepMetrics[try phase(phaseKey, phasePath)] = try values(phaseValue, phasePath)
            }
        }
    }
}

/// The number stored at `path` (a double, or an int read as one), or a typed error naming the path.
func checkpointNumber(_ value: CheckpointValue?, _ path: String) throws -> Double {
    switch value {
    case let .double(number)?: return number
    case let .int(number)?: return Double(number)
    default: throw TrainerError.malformedCheckpoint(path: path, reason: "expected a number")
    }
}

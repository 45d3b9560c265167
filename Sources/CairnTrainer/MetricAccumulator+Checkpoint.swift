import CairnCheckpoint
import OrderedCollections

// Lightning 1.x kept its result collections in the loops' state (`epoch_loop._results`); 2.x drops
// them, so a resumed run's epoch means cover only the batches after the resume and monitors lose
// the last validation's values. Cairn saves them, so the metrics after a resume match an
// uninterrupted run's.
extension LoggedMetrics {
    /// `{callback_metrics, progress_bar_metrics, logged_metrics, epoch_sums: {phase: {name: sums}}}`.
    var checkpointValue: CheckpointValue {
        func values(_ metrics: OrderedDictionary<String, Double>) -> CheckpointValue {
            .dictionary(OrderedDictionary(uniqueKeysWithValues: metrics.map { (CheckpointKey.string($0.key), CheckpointValue.double($0.value)) }))
        }
        var sums = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for phase in MetricPhase.allCases {
            guard let phaseSums = epochSums[phase] else { continue }
            sums[.string(phase.rawValue)] = .dictionary(OrderedDictionary(uniqueKeysWithValues: phaseSums.map { name, sum in
                (CheckpointKey.string(name), CheckpointValue.dictionary([
                    "weighted_sum": .double(sum.weightedSum), "weight": .double(sum.weight), "progress_bar": .bool(sum.progressBar),
                ]))
            }))
        }
        return .dictionary([
            "callback_metrics": values(callbackMetrics),
            "progress_bar_metrics": values(progressBarMetrics),
            "logged_metrics": values(loggedMetrics),
            "epoch_sums": .dictionary(sums),
        ])
    }

    /// Reads ``checkpointValue`` found at `path`.
    init(_ value: CheckpointValue, path: String) throws {
        func entries(_ value: CheckpointValue?, _ path: String) throws -> OrderedDictionary<CheckpointKey, CheckpointValue> {
            guard case let .dictionary(entries)? = value else {
                throw TrainerError.malformedCheckpoint(path: path, reason: "missing or not a dictionary")
            }
            return entries
        }
        func number(_ value: CheckpointValue?, _ path: String) throws -> Double {
            switch value {
            case let .double(number)?: return number
            case let .int(number)?: return Double(number)
            default: throw TrainerError.malformedCheckpoint(path: path, reason: "expected a number")
            }
        }
        func values(_ name: String) throws -> OrderedDictionary<String, Double> {
            var result = OrderedDictionary<String, Double>()
            for (key, entry) in try entries(value[JSONPointer(tokens: [name])], "\(path)/\(name)") {
                result[key.token] = try number(entry, "\(path)/\(name)/\(key.token)")
            }
            return result
        }
        self.init()
        callbackMetrics = try values("callback_metrics")
        progressBarMetrics = try values("progress_bar_metrics")
        loggedMetrics = try values("logged_metrics")
        for (phaseKey, phaseValue) in try entries(value["/epoch_sums"], "\(path)/epoch_sums") {
            let phasePath = "\(path)/epoch_sums/\(phaseKey.token)"
            guard let phase = MetricPhase(rawValue: phaseKey.token) else {
                throw TrainerError.malformedCheckpoint(path: phasePath, reason: "expected training or evaluation")
            }
            var sums = OrderedDictionary<String, EpochSum>()
            for (name, sum) in try entries(phaseValue, phasePath) {
                let sumPath = "\(phasePath)/\(name.token)"
                guard case let .bool(progressBar)? = sum["/progress_bar"] else {
                    throw TrainerError.malformedCheckpoint(path: "\(sumPath)/progress_bar", reason: "expected a bool")
                }
                sums[name.token] = (try number(sum["/weighted_sum"], "\(sumPath)/weighted_sum"),
                                    try number(sum["/weight"], "\(sumPath)/weight"), progressBar)
            }
            epochSums[phase] = sums
        }
    }
}

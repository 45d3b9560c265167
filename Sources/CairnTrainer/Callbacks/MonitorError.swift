/// Why a monitoring callback cannot run.
public enum MonitorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The callback sends metrics to loggers, and the trainer has none (Lightning refuses this too).
    case noLogger(callback: String)

    public var description: String {
        switch self {
        case let .noLogger(callback): "\(callback): the trainer has no logger to send metrics to; pass one in Trainer(loggers:)"
        }
    }
}

extension Trainer {
    /// Lightning's `should_update_logs`: the coming optimizer step is one that logs (every
    /// `logEveryNSteps`), or the run is stopping.
    var shouldUpdateLogs: Bool { (progress.batchesThatStepped + 1) % options.logEveryNSteps == 0 || shouldStop }

    /// Throws ``MonitorError/noLogger(callback:)`` when there is nowhere to send metrics.
    func requireLogger(for callback: Callback) throws {
        if loggers.isEmpty { throw MonitorError.noLogger(callback: String(describing: type(of: callback))) }
    }
}

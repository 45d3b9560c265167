import CairnData
import CairnTensor
import Foundation
import OrderedCollections
#if canImport(Glibc)
import Glibc
#endif

/// Lightning's DeviceStatsMonitor for the CPU: the process's CPU times and load and its memory,
/// logged before and after each training batch whose step logs (at the step count the batch
/// began with, as Lightning), under `DeviceStatsMonitor.on_train_batch_start/<stat>` and
/// `…on_train_batch_end/<stat>`; likewise for validation and test batches while the step count is one that logs.
public final class DeviceStatsMonitor: Callback, @unchecked Sendable {
    /// Whether CPU statistics are gathered (Lightning's `cpu_stats`; the CPU is Cairn's only device, so nil means yes).
    public let cpuStats: Bool?
    private var previous: (cpuSeconds: Double, at: ContinuousClock.Instant)?
    /// The optimizer steps taken when the current batch began, if that batch logs.
    private var loggingStep: Int?

    /// A monitor of this process.
    public init(cpuStats: Bool? = nil) {
        self.cpuStats = cpuStats
        super.init()
    }

    override public func setup(_ trainer: Trainer, _ module: TrainingModule, stage: Stage) throws {
        if stage != .predict { try trainer.requireLogger(for: self) }
    }

    override public func onTrainBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int) throws {
        // Decided once per batch: at its end the step is already counted, unlike in Lightning.
        loggingStep = trainer.shouldUpdateLogs ? trainer.progress.batchesThatStepped : nil
        try log(trainer, hook: "on_train_batch_start")
    }

    override public func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                         batchIndex: Int) throws {
        try log(trainer, hook: "on_train_batch_end")
    }

    override public func onValidationBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int,
                                                dataloaderIndex: Int) throws {
        try logEvaluation(trainer, hook: "on_validation_batch_start")
    }

    override public func onValidationBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                              batchIndex: Int, dataloaderIndex: Int) throws {
        try logEvaluation(trainer, hook: "on_validation_batch_end")
    }

    override public func onTestBatchStart(_ trainer: Trainer, _ module: TrainingModule, batch: Batch, batchIndex: Int,
                                          dataloaderIndex: Int) throws {
        try logEvaluation(trainer, hook: "on_test_batch_start")
    }

    override public func onTestBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch,
                                        batchIndex: Int, dataloaderIndex: Int) throws {
        try logEvaluation(trainer, hook: "on_test_batch_end")
    }

    /// Evaluation batches take no step, so each decides by the step count as it stands (as Lightning).
    private func logEvaluation(_ trainer: Trainer, hook: String) throws {
        guard !trainer.isSanityChecking else { return }
        loggingStep = trainer.shouldUpdateLogs ? trainer.progress.batchesThatStepped : nil
        try log(trainer, hook: hook)
    }

    private func log(_ trainer: Trainer, hook: String) throws {
        guard cpuStats != false, let loggingStep else { return }
        var prefixed: OrderedDictionary<String, Double> = [:]
        for (name, value) in sample() { prefixed["DeviceStatsMonitor.\(hook)/\(name)"] = value }
        try trainer.logMetrics(prefixed, step: loggingStep)
    }

    /// `cpu_user_time` and `cpu_system_time` (seconds used so far), `cpu_percent` (of one core,
    /// since the previous sample), `memory_rss_mb` (resident now) and `memory_max_rss_mb` (peak).
    public func sample() -> OrderedDictionary<String, Double> {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        let now = ContinuousClock.now
        var stats: OrderedDictionary<String, Double> = ["cpu_user_time": user, "cpu_system_time": system]
        if let previous, (now - previous.at).seconds > 0 {
            stats["cpu_percent"] = max(user + system - previous.cpuSeconds, 0) / (now - previous.at).seconds * 100
        }
        previous = (user + system, now)
        if let resident = Self.residentBytes() { stats["memory_rss_mb"] = Double(resident) / 1_048_576 }
        // Linux reports the peak in KiB.
        stats["memory_max_rss_mb"] = Double(usage.ru_maxrss) / 1024
        return stats
    }

    /// Resident pages (the second field of `/proc/self/statm`) in bytes, or nil off Linux.
    private static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

extension DeviceStatsMonitor: RegistrableCallback {
    public static var registryName: String { "DeviceStatsMonitor" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let choices: [String: Bool?] = ["true": true, "false": false, "none": nil]
        let cpuStats = try arguments.value("cpu_stats", default: Bool?.none, expected: "Boolean (true, false or none)") {
            choices[$0.lowercased()]
        }
        return DeviceStatsMonitor(cpuStats: cpuStats)
    }
}

import CairnCheckpoint
import CairnData
import CairnOptim
import CairnTensor
@testable import CairnTrainer
import Foundation
import OrderedCollections
import Testing

extension RecordingLogger {
    /// The `logMetrics` calls callbacks made, in order (the trainer's own records, which always
    /// carry `epoch`, are left out).
    var callbackRows: [(metrics: OrderedDictionary<String, Double>, step: Int)] {
        metricRows.filter { $0.metrics["epoch"] == nil }.map { ($0.metrics, $0.step) }
    }

    /// Every value a callback logged under `name`, in order, with its step.
    func values(_ name: String) -> [(step: Int, value: Double)] {
        callbackRows.compactMap { call in call.metrics[name].map { (call.step, $0) } }
    }
}

/// TinyClassifier with two param groups: the hidden layer at lr 0.05 and the output at 0.01 with weight decay.
final class TwoGroupClassifier: TinyClassifier, @unchecked Sendable {
    override func configureOptimizers() throws -> Optimizer {
        Adam([ParamGroup(hidden.parameters()),
              ParamGroup(output.parameters(), options: ["lr": .double(0.01), "weight_decay": .double(0.001)])],
             lr: 0.05, betas: (0.8, 0.99))
    }
}

@Suite struct MonitorTests {
    /// 20 rows in batches of 4: 5 steps per epoch, 2 epochs.
    static func fit(_ callback: Callback, module: TrainingModule = TinyClassifier(seed: 1), logEveryNSteps: Int = 1,
                    accumulate: Int = 1) throws -> RecordingLogger {
        let logger = RecordingLogger()
        let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 0, accumulateGradBatches: accumulate,
                                      logEveryNSteps: logEveryNSteps, enableCheckpointing: false,
                                      enableProgressBar: false, enableModelSummary: false)
        try Trainer(options, callbacks: [callback], loggers: [logger]).fit(module, data: try freshData())
        return logger
    }

    @Test func learningRatesPerGroupWithLightningNames() throws {
        let logger = try Self.fit(LearningRateMonitor(logMomentum: true, logWeightDecay: true), module: TwoGroupClassifier(seed: 1),
                                  logEveryNSteps: 2)
        // Before batches whose step is a multiple of 2: steps 1, 3, 5, 7, 9 already taken.
        #expect(logger.values("lr-Adam/pg1").map(\.step) == [1, 3, 5, 7, 9])
        #expect(logger.values("lr-Adam/pg1").allSatisfy { $0.value == 0.05 })
        #expect(logger.values("lr-Adam/pg2").allSatisfy { $0.value == 0.01 })
        #expect(logger.callbackRows.first.map { Array($0.metrics.keys) } == [
            "lr-Adam/pg1", "lr-Adam/pg1-momentum", "lr-Adam/pg1-weight_decay",
            "lr-Adam/pg2", "lr-Adam/pg2-momentum", "lr-Adam/pg2-weight_decay"])
        #expect(logger.callbackRows.first?.metrics["lr-Adam/pg2-momentum"] == 0.8)
        #expect(logger.callbackRows.first?.metrics["lr-Adam/pg2-weight_decay"] == 0.001)
        #expect(logger.callbackRows.first?.metrics["lr-Adam/pg1-weight_decay"] == 0)

        let epochs = try Self.fit(LearningRateMonitor(loggingInterval: .epoch))
        #expect(epochs.callbackRows.map(\.step) == [0, 5])
        #expect(epochs.callbackRows.map { Array($0.metrics.keys) } == [["lr-Adam"], ["lr-Adam"]])
    }

    @Test func monitorsNeedALogger() throws {
        let options = Trainer.Options(maxEpochs: 1, numSanityValSteps: 0, enableCheckpointing: false,
                                      enableProgressBar: false, enableModelSummary: false)
        for monitor: Callback in [LearningRateMonitor(), DeviceStatsMonitor(), ThroughputMonitor()] {
            #expect(throws: MonitorError.noLogger(callback: String(describing: type(of: monitor)))) {
                try Trainer(options, callbacks: [monitor]).fit(TinyClassifier(seed: 1), data: try freshData())
            }
        }
    }

    @Test func deviceStatsBeforeAndAfterLoggedBatches() throws {
        let logger = try Self.fit(DeviceStatsMonitor(), logEveryNSteps: 5)
        // Steps 5 and 10 log: the last batch of each epoch, before and after, at the step count it began with.
        #expect(logger.callbackRows.count == 4)
        let start = logger.values("DeviceStatsMonitor.on_train_batch_start/cpu_user_time")
        let end = logger.values("DeviceStatsMonitor.on_train_batch_end/cpu_user_time")
        #expect(start.map(\.step) == [4, 9])
        #expect(end.map(\.step) == [4, 9])
        #expect(zip(start, end).allSatisfy { $0.value <= $1.value && $0.value > 0 })
        for name in ["memory_rss_mb", "memory_max_rss_mb"] {
            #expect(logger.values("DeviceStatsMonitor.on_train_batch_end/\(name)").allSatisfy { $0.value > 0 }, "\(name)")
        }
        // The load since the batch-start sample (CPU time may not have ticked over such a short span).
        #expect(logger.values("DeviceStatsMonitor.on_train_batch_end/cpu_percent").map { $0.value >= 0 } == [true, true])
        #expect(logger.values("DeviceStatsMonitor.on_train_batch_end/memory_rss_mb").count == 2)
        #expect(try Self.fit(DeviceStatsMonitor(cpuStats: false)).callbackRows.isEmpty)

        // Validation batches log too while the step count is one that logs: with every step
        // logging, 2 epochs × 2 validation batches × (start, end), beside 2 × 5 × 2 training calls.
        let everyStep = try Self.fit(DeviceStatsMonitor(), logEveryNSteps: 1)
        #expect(everyStep.values("DeviceStatsMonitor.on_validation_batch_end/memory_rss_mb").map(\.step) == [5, 5, 10, 10])
        #expect(everyStep.callbackRows.count == 20 + 8)
    }

    @Test func throughputOverTheWindow() throws {
        let logger = try Self.fit(ThroughputMonitor(windowSize: 3))
        #expect(logger.values("train|batches").map(\.value) == (1...10).map(Double.init))
        #expect(logger.values("train|samples").map(\.value) == (1...10).map { Double($0 * 4) })
        #expect(logger.values("train|batches").map(\.step) == Array(1...10))
        // Rates once three batches are in the window.
        let rates = logger.values("train|samples_per_sec")
        #expect(rates.map(\.step) == Array(3...10))
        #expect(rates.allSatisfy { $0.value > 0 })
        #expect(zip(rates, logger.values("train|batches_per_sec")).allSatisfy { abs($0.value - 4 * $1.value) < 1e-6 * $0.value })
        let times = logger.values("train|time").map(\.value)
        #expect(times == times.sorted() && times[0] > 0)

        // Accumulating two batches per step: one log per step, counting every batch.
        let accumulating = try Self.fit(ThroughputMonitor(windowSize: 3), accumulate: 2)
        #expect(accumulating.values("train|batches").map(\.value) == [2, 4, 5, 7, 9, 10])
    }

    @Test func registryBuildsTheMonitors() throws {
        let registry = CallbackRegistry()
        let monitor = try #require(try registry.make("LearningRateMonitor:logging_interval=epoch,log_momentum=true") as? LearningRateMonitor)
        #expect(monitor.loggingInterval == .epoch && monitor.logMomentum && !monitor.logWeightDecay)
        #expect(throws: CallbackSpecError.self) { try registry.make("LearningRateMonitor:logging_interval=hour") }
        #expect((try registry.make("DeviceStatsMonitor:cpu_stats=false") as? DeviceStatsMonitor)?.cpuStats == false)
        #expect((try registry.make("ThroughputMonitor:window_size=7") as? ThroughputMonitor)?.windowSize == 7)
    }
}

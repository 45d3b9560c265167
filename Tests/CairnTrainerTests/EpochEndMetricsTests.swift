import CairnData
import CairnTensor
@testable import CairnTrainer
import Testing

/// Notes, at each train epoch end, the epoch means it can read, and at each later point the final ones.
final class EpochMeanReader: Callback, @unchecked Sendable {
    let monitors: Bool
    var atEpochEnd: [[String: Double]] = []
    var afterEpoch: [[String: Double]] = []

    init(monitors: Bool) { self.monitors = monitors }

    override var monitorsMetrics: Bool { monitors }

    private func read(_ trainer: Trainer) -> [String: Double] {
        var values: [String: Double] = [:]
        for key in ["train_loss_epoch", "epoch_lr"] { values[key] = trainer.metrics.callbackMetrics[key] }
        return values
    }

    override func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws { atEpochEnd.append(read(trainer)) }
    override func onTrainEpochStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        if trainer.currentEpoch > 0 { afterEpoch.append(read(trainer)) }
    }
    override func onTrainEnd(_ trainer: Trainer, _ module: TrainingModule) throws { afterEpoch.append(read(trainer)) }
}

@Suite struct EpochEndMetricsTests {
    /// As Lightning's callback_metrics at epoch end: callbacks see this epoch's means of what the
    /// training steps logged, and monitoring callbacks (run after the module) also what the
    /// module logged in its own onTrainEpochEnd; not the previous epoch's values.
    @Test func epochEndHooksSeeThisEpochsMeans() throws {
        let plain = EpochMeanReader(monitors: false)
        let monitoring = EpochMeanReader(monitors: true)
        try Trainer(quietOptions(maxEpochs: 3), callbacks: [plain, monitoring]).fit(ResumeProbe(seed: 1), data: try freshData())
        #expect(monitoring.afterEpoch.count == 3)
        #expect(monitoring.atEpochEnd == monitoring.afterEpoch)
        #expect(plain.atEpochEnd.map { $0["train_loss_epoch"] } == plain.afterEpoch.map { $0["train_loss_epoch"] })
        // The module's own epoch-end value is logged after the plain callbacks ran.
        #expect(plain.atEpochEnd.first?["epoch_lr"] == nil)
    }
}

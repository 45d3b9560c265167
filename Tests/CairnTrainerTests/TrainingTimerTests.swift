import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// A clock the test moves by hand.
final class FakeClock: @unchecked Sendable {
    private let lock = NSLock()
    private var seconds: Double
    init(start: Double) { seconds = start }
    var now: Double { lock.withLock { seconds } }
    func advance(by step: Double) { lock.withLock { seconds += step } }
    var reading: TrainingTimer.Clock { { self.now } }
}

/// Advances a fake clock by one second at the end of every train batch; placed before the timer.
final class OneSecondPerBatch: Callback, @unchecked Sendable {
    let clock: FakeClock
    init(_ clock: FakeClock) { self.clock = clock }
    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        clock.advance(by: 1)
    }
}

/// Sleeps a little in every train batch so the real clock moves.
final class SlowBatches: Callback, @unchecked Sendable {
    override func onTrainBatchEnd(_ trainer: Trainer, _ module: TrainingModule, outputs: Tensor?, batch: Batch, batchIndex: Int) throws {
        usleep(2000)
    }
}

@Suite struct TrainingTimerTests {
    @Test func budgetOfSevenSecondsStopsAfterSevenBatches() throws {
        let clock = FakeClock(start: 50)
        let timer = TrainingTimer(duration: .seconds(7), clock: clock.reading)
        let trainer = try Trainer(quietOptions(maxEpochs: 5), callbacks: [OneSecondPerBatch(clock), timer])
        try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(trainer.globalStep == 7)
        #expect(timer.timeElapsed() == 7)
        #expect(timer.timeRemaining() == 0)
        #expect(timer.startTime() == 50)
        #expect(timer.endTime() == 57)
        #expect(timer.timeElapsed(.validate) == 0)
    }

    @Test func epochIntervalChecksOnlyAtEpochEnds() throws {
        let clock = FakeClock(start: 0)
        let timer = TrainingTimer(duration: .seconds(7), interval: .epoch, clock: clock.reading)
        let trainer = try Trainer(quietOptions(maxEpochs: 5), callbacks: [OneSecondPerBatch(clock), timer])
        try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(trainer.globalStep == 10)
        #expect(trainer.currentEpoch == 2)
    }

    /// Saved after four batches (four seconds): the resumed run, on a clock starting elsewhere,
    /// counts those seconds and stops at the same step as the uninterrupted run.
    @Test func resumedRunStopsAtTheSameBudget() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step4.ckpt")

        let straightClock = FakeClock(start: 0)
        let straight = try Trainer(quietOptions(maxEpochs: 5), callbacks: [OneSecondPerBatch(straightClock),
                                                               TrainingTimer(duration: .seconds(7), clock: straightClock.reading)])
        try straight.fit(TinyClassifier(seed: 1), data: try freshData())

        let firstClock = FakeClock(start: 0)
        let first = TrainingTimer(duration: .seconds(7), clock: firstClock.reading)
        try Trainer(quietOptions(maxEpochs: 5), callbacks: [OneSecondPerBatch(firstClock), first, StopAndSave(step: 4, url: checkpoint)])
            .fit(TinyClassifier(seed: 1), data: try freshData())
        let saved = try Checkpoint.load(checkpoint)
        guard case let .double(savedSeconds)? = saved["/callbacks/Timer/time_elapsed/train"] else {
            Issue.record("no training time saved")
            return
        }
        #expect(savedSeconds == 4)
        for stage in TrainingTimer.TimedStage.allCases {
            #expect(saved[JSONPointer(tokens: ["callbacks", "Timer", "time_elapsed", stage.rawValue])] != nil, "missing \(stage)")
        }

        let resumedClock = FakeClock(start: 1000)
        let resumedTimer = TrainingTimer(duration: .seconds(7), clock: resumedClock.reading)
        let resumed = try Trainer(quietOptions(maxEpochs: 5), callbacks: [OneSecondPerBatch(resumedClock), resumedTimer])
        try resumed.fit(TinyClassifier(seed: 1), data: try freshData(), ckptPath: checkpoint)
        #expect(straight.globalStep == 7)
        #expect(resumed.globalStep == straight.globalStep)
        #expect(resumedTimer.timeElapsed() == 7)
        #expect(resumed.callbackStateWarnings.isEmpty)
    }

    /// A budget already spent when the state is restored trains nothing more.
    @Test func spentBudgetTrainsNothingAfterRestore() throws {
        let timer = TrainingTimer(duration: .seconds(3), clock: FakeClock(start: 0).reading)
        try timer.loadStateDict(.dictionary(["time_elapsed": .dictionary(["train": .double(5)])]))
        let trainer = try Trainer(quietOptions(maxEpochs: 5), callbacks: [timer])
        try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(trainer.globalStep == 0)
        #expect(timer.timeRemaining() == -2)
    }

    @Test func realClockStopsATinyBudget() throws {
        let timer = TrainingTimer(duration: .milliseconds(10), verbose: false)
        let trainer = try Trainer(quietOptions(maxEpochs: 100), callbacks: [SlowBatches(), timer])
        try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(trainer.globalStep >= 1)
        #expect(trainer.globalStep < 100, "500 batches without the budget")
        #expect(timer.timeElapsed() >= 0.01)
    }

    @Test func durationsFromPartsAndText() throws {
        #expect(try TrainingTimer(days: 1, hours: 2, minutes: 3, seconds: 4).durationSeconds == 93_784)
        #expect(try TrainingTimer(duration: "01:02:03:04").durationSeconds == 93_784)
        #expect(try TrainingTimer(duration: "365:00:00:30").durationSeconds == 365 * 86_400 + 30)
        #expect(TrainingTimer(duration: .milliseconds(1500)).durationSeconds == 1.5)
        #expect(TrainingTimer().durationSeconds == nil)
        for bad in ["1:2:3:4", "00:12:00", "aa:00:00:00", "", "00:00:00:00:00", "99999999999999999999999:00:00:00x"] {
            #expect(throws: TrainerError.invalidConfiguration(callback: "Timer", reason: "duration '\(bad)' is not in the form DD:HH:MM:SS")) {
                try TrainingTimer(duration: bad)
            }
        }
    }

    @Test func registryBuildsATimer() throws {
        let registry = CallbackRegistry()
        let fromText = try #require(try registry.make("Timer:duration=00:12:00:00,interval=epoch") as? TrainingTimer)
        #expect(fromText.durationSeconds == 43_200)
        #expect(fromText.interval == .epoch)
        #expect(fromText.stateKey == "Timer")
        let fromParts = try #require(try registry.make("Timer:hours=1,minutes=30") as? TrainingTimer)
        #expect(fromParts.durationSeconds == 5400)
        #expect(throws: CallbackSpecError.self) { try registry.make("Timer:interval=hourly") }
    }
}

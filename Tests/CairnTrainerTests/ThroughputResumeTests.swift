import CairnData
@testable import CairnTrainer
import Foundation
import Testing

@Suite struct ThroughputResumeTests {
    /// Resumed after step 4 of 10: `train|batches` continues from the loop's count (5…10), while
    /// the samples count restarts with the process, as in Lightning.
    @Test func batchCountContinuesAfterAResume() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpoint = directory.appendingPathComponent("step4.ckpt")
        let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 0, logEveryNSteps: 1, enableCheckpointing: false,
                                      enableProgressBar: false, enableModelSummary: false)
        try Trainer(options, callbacks: [ThroughputMonitor(windowSize: 3), StopAndSave(step: 4, url: checkpoint)],
                    loggers: [RecordingLogger()])
            .fit(TinyClassifier(seed: 1), data: try freshData())

        let logger = RecordingLogger()
        let resumed = try Trainer(options, callbacks: [ThroughputMonitor(windowSize: 3)], loggers: [logger])
        try resumed.fit(TinyClassifier(seed: 1), data: try freshData(), ckptPath: checkpoint)
        #expect(resumed.globalStep == 10)
        #expect(logger.values("train|batches").map(\.value) == (5...10).map(Double.init))
        #expect(logger.values("train|batches").map(\.step) == Array(5...10))
        #expect(logger.values("train|samples").map(\.value) == (1...6).map { Double($0 * 4) })
        #expect(logger.values("train|samples_per_sec").map(\.step) == Array(7...10))
    }
}

import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Logging
import Testing

/// A swift-log handler that keeps each message with its level.
struct CollectingLogHandler: LogHandler {
    final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var entries: [(Logger.Level, String)] = []
        var messages: [(Logger.Level, String)] { lock.withLock { entries } }
        func add(_ level: Logger.Level, _ message: String) { lock.withLock { entries.append((level, message)) } }
    }

    let box: Box
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
             function: String, line: UInt) {
        box.add(level, message.description)
    }
}

/// TinyClassifier whose loss is multiplied by 50 at one global training batch.
final class SpikingClassifier: TinyClassifier, @unchecked Sendable {
    let spikeAt: Int
    private var batches = 0

    init(seed: UInt64, spikeAt: Int) {
        self.spikeAt = spikeAt
        super.init(seed: seed)
    }

    override func trainingStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        defer { batches += 1 }
        guard let loss = try super.trainingStep(batch, batchIndex: batchIndex) else { return nil }
        return batches == spikeAt ? loss * 50 : loss
    }
}

@Suite struct SpikeDetectionTests {
    static let options = Trainer.Options(maxEpochs: 2, numSanityValSteps: 0, enableCheckpointing: false,
                                         enableProgressBar: false, enableModelSummary: false)

    @Test func warnModeRecordsTheSpikeAndTrainsOn() throws {
        let detector = SpikeDetection(mode: .warn, window: 3)
        let box = CollectingLogHandler.Box()
        let trainer = try Trainer(Self.options, callbacks: [detector],
                                  logger: Logger(label: "spike-test") { _ in CollectingLogHandler(box: box) })
        try trainer.fit(SpikingClassifier(seed: 1, spikeAt: 6), data: try freshData())
        #expect(trainer.currentEpoch == 2)
        #expect(detector.spikes.count == 1)
        let spike = try #require(detector.spikes.first)
        #expect(spike.epoch == 1 && spike.batchIndex == 1 && spike.globalStep == 7)
        #expect(spike.loss > 10 * spike.runningMean)
        let warnings = box.messages.filter { $0.0 == .warning }.map(\.1)
        #expect(warnings.count == 1 && warnings[0].contains("epoch 1, batch 1, step 7"), "\(warnings)")
    }

    @Test func errorModeStopsWithTheStepAndValues() throws {
        let trainer = try Trainer(Self.options, callbacks: [SpikeDetection(window: 3)])
        #expect {
            try trainer.fit(SpikingClassifier(seed: 1, spikeAt: 3), data: try freshData())
        } throws: { error in
            guard case let TrainingSpikeError.spike(spike) = error else { return false }
            return spike.epoch == 0 && spike.batchIndex == 3 && spike.globalStep == 4 && spike.loss > 3 * spike.runningMean
                && "\(error)".contains("step 4")
        }
        #expect(trainer.globalStep == 4)
    }

    @Test func ordinaryTrainingHasNoSpikes() throws {
        let detector = SpikeDetection(mode: .warn, window: 2, warmup: 0)
        try Trainer(Self.options, callbacks: [detector]).fit(TinyClassifier(seed: 1), data: try freshData())
        #expect(detector.spikes.isEmpty)
        #expect((try CallbackRegistry().make("SpikeDetection:mode=warn,window=4,rtol=0.5") as? SpikeDetection)?.window == 4)
        #expect(throws: CallbackSpecError.self) { try CallbackRegistry().make("SpikeDetection:window=0") }
    }
}

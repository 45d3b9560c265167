import CairnCheckpoint
@testable import CairnTrainer
import Foundation
import Testing

@Suite struct CheckpointCallbackOrderTests {
    /// ModelCheckpoint and OnExceptionCheckpoint given first still run after the others, in their
    /// given order; so a ModelCheckpoint given before EarlyStopping and a Counter saves their
    /// work of the same hook.
    @Test func checkpointingCallbacksRunLast() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let checkpointing = try ModelCheckpoint(dirpath: directory.path, saveLast: true)
        let onException = try OnExceptionCheckpoint(dirpath: directory.path)
        let counter = Counter(what: .epochs)
        let stopper = try EarlyStopping(monitor: "val_loss", patience: 100)
        var options = quietOptions(maxEpochs: 2)
        options.enableProgressBar = false
        options.enableModelSummary = false
        let trainer = try Trainer(options, callbacks: [onException, checkpointing, counter, stopper])
        #expect(trainer.callbacks.map { ObjectIdentifier($0) }
            == [counter, stopper, onException, checkpointing].map { ObjectIdentifier($0) })
        // The default progress bar and model summary (added after the given callbacks) come before them too.
        let withDisplays = try Trainer(quietOptions(maxEpochs: 2), callbacks: [onException, checkpointing, counter, stopper])
        #expect(withDisplays.callbacks.count == 6)
        #expect(withDisplays.callbacks.suffix(2).map { ObjectIdentifier($0) } == [onException, checkpointing].map { ObjectIdentifier($0) })

        try trainer.fit(TinyClassifier(seed: 1), data: try freshData())
        let saved = try Checkpoint.load(directory.appendingPathComponent("last.ckpt"))
        #expect(try counterState(saved, counter.stateKey) == Counter.State(epochs: 2, batches: 0))
        // EarlyStopping's check of the last validation is in the file written at that same hook.
        #expect(String(describing: saved[JSONPointer(tokens: ["callbacks", stopper.stateKey])]) == String(describing: try stopper.stateDict()))
    }
}

@testable import CairnTrainer
import Testing

/// The hook sequence documented in Hooks.md, built phrase by phrase: callback `a`, then
/// callback `m` (which monitors metrics), then the module.
struct DocumentedSequence {
    var entries: [String] = []

    mutating func all(_ hook: String) { entries += ["a.\(hook)", "m.\(hook)", "module.\(hook)"] }
    mutating func callbacks(_ hook: String) { entries += ["a.\(hook)", "m.\(hook)"] }
    mutating func module(_ hook: String) { entries.append("module.\(hook)") }
    mutating func data(_ hook: String) { entries.append("data.\(hook)") }

    mutating func setup(_ stage: Stage) {
        data("setup(\(stage))")
        all("setup(\(stage))")
    }

    mutating func teardown(_ stage: Stage) {
        data("teardown(\(stage))")
        all("teardown(\(stage))")
    }

    mutating func evaluation(_ kind: String, batches: Int) {
        all("on\(kind)Start")
        all("on\(kind)EpochStart")
        for _ in 0..<batches {
            all("on\(kind)BatchStart")
            module("\(kind.prefix(1).lowercased())\(kind.dropFirst())Step")
            all("on\(kind)BatchEnd")
        }
        all("on\(kind)EpochEnd")
        all("on\(kind)End")
    }

    mutating func trainBatch(zeroGrad: Bool, step: Bool) {
        all("onTrainBatchStart")
        module("trainingStep")
        if zeroGrad { all("onBeforeZeroGrad") }
        all("onBeforeBackward")
        all("onAfterBackward")
        if step { all("onBeforeOptimizerStep") }
        all("onTrainBatchEnd")
    }
}

@Suite struct HookOrderTests {
    let trace = HookTrace()

    func makeTrainer(_ options: Trainer.Options) throws -> Trainer {
        try Trainer(options, callbacks: [RecordingCallback("a", trace: trace), RecordingCallback("m", trace: trace, monitoring: true)])
    }

    /// Three train batches, accumulation over two, a validation after the second batch only
    /// (Lightning validates when (batch index + 1) is a multiple of the interval), a one-batch sanity check.
    @Test func fitFollowsLightningsOrder() throws {
        let options = Trainer.Options(maxEpochs: 1, limitValBatches: 1, valCheckInterval: 2, numSanityValSteps: 1,
                                      accumulateGradBatches: 2, enableCheckpointing: false)
        try makeTrainer(options).fit(RecordingModule(trace: trace), data: RecordingDataModule(trace: trace))

        var expected = DocumentedSequence()
        expected.setup(.fit)
        expected.module("configureOptimizers")
        expected.all("onFitStart")
        expected.callbacks("onSanityCheckStart")
        expected.evaluation("Validation", batches: 1)
        expected.callbacks("onSanityCheckEnd")
        expected.all("onTrainStart")
        expected.all("onTrainEpochStart")
        expected.trainBatch(zeroGrad: true, step: false)
        expected.trainBatch(zeroGrad: false, step: true)
        expected.evaluation("Validation", batches: 1)
        expected.trainBatch(zeroGrad: true, step: true)
        expected.entries += ["a.onTrainEpochEnd", "module.onTrainEpochEnd", "m.onTrainEpochEnd"]
        expected.all("onTrainEnd")
        expected.all("onFitEnd")
        expected.teardown(.fit)
        #expect(trace.entries == expected.entries)
    }

    @Test func validateTestAndPredictFollowLightningsOrder() throws {
        let data = try RecordingDataModule(trace: trace)
        let module = RecordingModule(trace: trace)
        let trainer = try makeTrainer(quietOptions())
        try trainer.validate(module, data: data)
        try trainer.test(module, data: data)
        _ = try trainer.predict(module, data: data)

        var expected = DocumentedSequence()
        expected.setup(.validate)
        expected.evaluation("Validation", batches: 2)
        expected.teardown(.validate)
        expected.setup(.test)
        expected.evaluation("Test", batches: 2)
        expected.teardown(.test)
        expected.setup(.predict)
        expected.evaluation("Predict", batches: 2)
        expected.teardown(.predict)
        #expect(trace.entries == expected.entries)
    }

    /// A failing training step: callbacks then the data module see the error, no tear-down runs,
    /// and fit rethrows it.
    @Test func exceptionReachesCallbacksThenDataModule() throws {
        let module = RecordingModule(trace: trace)
        module.failAtBatch = 1
        #expect(throws: PlannedFailure.self) {
            try makeTrainer(quietOptions()).fit(module, data: RecordingDataModule(trace: trace))
        }

        var expected = DocumentedSequence()
        expected.setup(.fit)
        expected.module("configureOptimizers")
        expected.all("onFitStart")
        expected.all("onTrainStart")
        expected.all("onTrainEpochStart")
        expected.trainBatch(zeroGrad: true, step: true)
        expected.all("onTrainBatchStart")
        expected.module("trainingStep")
        expected.callbacks("onException")
        expected.data("onException")
        #expect(trace.entries == expected.entries)
    }

    /// Saving from a hook: callbacks' onSaveCheckpoint, then the module's.
    @Test func checkpointHooksRunCallbacksFirst() throws {
        let trainer = try makeTrainer(quietOptions())
        let module = RecordingModule(trace: trace)
        try trainer.fit(module, data: RecordingDataModule(trace: trace))
        trainer.module = module
        trace.entries = []
        _ = try trainer.dumpCheckpoint()
        #expect(trace.entries == ["a.onSaveCheckpoint", "m.onSaveCheckpoint", "module.onSaveCheckpoint"])
    }
}

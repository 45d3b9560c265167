import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// A LambdaCallback whose every closure records its hook under `name`, as ``RecordingCallback`` does.
func recordingLambda(_ name: String, trace: HookTrace) -> LambdaCallback {
    LambdaCallback(
        setup: { _, _, stage in trace.add(name, "setup(\(stage))") },
        teardown: { _, _, stage in trace.add(name, "teardown(\(stage))") },
        onFitStart: { _, _ in trace.add(name, "onFitStart") },
        onFitEnd: { _, _ in trace.add(name, "onFitEnd") },
        onSanityCheckStart: { _, _ in trace.add(name, "onSanityCheckStart") },
        onSanityCheckEnd: { _, _ in trace.add(name, "onSanityCheckEnd") },
        onTrainStart: { _, _ in trace.add(name, "onTrainStart") },
        onTrainEnd: { _, _ in trace.add(name, "onTrainEnd") },
        onValidationStart: { _, _ in trace.add(name, "onValidationStart") },
        onValidationEnd: { _, _ in trace.add(name, "onValidationEnd") },
        onTestStart: { _, _ in trace.add(name, "onTestStart") },
        onTestEnd: { _, _ in trace.add(name, "onTestEnd") },
        onPredictStart: { _, _ in trace.add(name, "onPredictStart") },
        onPredictEnd: { _, _ in trace.add(name, "onPredictEnd") },
        onTrainEpochStart: { _, _ in trace.add(name, "onTrainEpochStart") },
        onTrainEpochEnd: { _, _ in trace.add(name, "onTrainEpochEnd") },
        onValidationEpochStart: { _, _ in trace.add(name, "onValidationEpochStart") },
        onValidationEpochEnd: { _, _ in trace.add(name, "onValidationEpochEnd") },
        onTestEpochStart: { _, _ in trace.add(name, "onTestEpochStart") },
        onTestEpochEnd: { _, _ in trace.add(name, "onTestEpochEnd") },
        onPredictEpochStart: { _, _ in trace.add(name, "onPredictEpochStart") },
        onPredictEpochEnd: { _, _ in trace.add(name, "onPredictEpochEnd") },
        onAfterBackward: { _, _ in trace.add(name, "onAfterBackward") },
        onTrainBatchStart: { _, _, _, _ in trace.add(name, "onTrainBatchStart") },
        onTrainBatchEnd: { _, _, _, _, _ in trace.add(name, "onTrainBatchEnd") },
        onValidationBatchStart: { _, _, _, _, _ in trace.add(name, "onValidationBatchStart") },
        onValidationBatchEnd: { _, _, _, _, _, _ in trace.add(name, "onValidationBatchEnd") },
        onTestBatchStart: { _, _, _, _, _ in trace.add(name, "onTestBatchStart") },
        onTestBatchEnd: { _, _, _, _, _, _ in trace.add(name, "onTestBatchEnd") },
        onPredictBatchStart: { _, _, _, _, _ in trace.add(name, "onPredictBatchStart") },
        onPredictBatchEnd: { _, _, _, _, _, _ in trace.add(name, "onPredictBatchEnd") },
        onBeforeBackward: { _, _, _ in trace.add(name, "onBeforeBackward") },
        onBeforeOptimizerStep: { _, _, _ in trace.add(name, "onBeforeOptimizerStep") },
        onBeforeZeroGrad: { _, _, _ in trace.add(name, "onBeforeZeroGrad") },
        onException: { _, _, _ in trace.add(name, "onException") },
        onSaveCheckpoint: { _, _, _ in trace.add(name, "onSaveCheckpoint") },
        onLoadCheckpoint: { _, _, _ in trace.add(name, "onLoadCheckpoint") }
    )
}

@Suite struct LambdaCallbackTests {
    /// Fit (with sanity check, checkpoint saves), a resumed fit, validate, test, predict and a failing
    /// fit: the closures are called exactly where a recording subclass's hooks are.
    func trace(_ makeCallback: (HookTrace) -> Callback) throws -> [String] {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let trace = HookTrace()
        let options = Trainer.Options(maxEpochs: 1, numSanityValSteps: 1, defaultRootDir: directory.path)
        let callback = makeCallback(trace)
        try Trainer(options, callbacks: [callback]).fit(TinyClassifier(seed: 1), data: try allStagesData())
        let saved = directory.appendingPathComponent("checkpoints/epoch=0-step=5.ckpt")
        var longer = options
        longer.maxEpochs = 2
        let trainer = try Trainer(longer, callbacks: [callback])
        try trainer.fit(TinyClassifier(seed: 1), data: try allStagesData(), ckptPath: saved)
        try trainer.validate(TinyClassifier(seed: 1), data: try allStagesData())
        try trainer.test(TinyClassifier(seed: 1), data: try allStagesData())
        _ = try trainer.predict(TinyClassifier(seed: 1), data: try allStagesData())
        #expect(throws: PlannedFailure.self) {
            try Trainer(quietOptions(), callbacks: [callback]).fit(FailingClassifier(seed: 1, failAt: 2), data: try allStagesData())
        }
        return trace.entries.map { String($0.drop { $0 != "." }.dropFirst()) }
    }

    @Test func closuresRunWhereTheHooksRun() throws {
        let viaClosures = try trace { recordingLambda("lambda", trace: $0) }
        let viaSubclass = try trace { RecordingCallback("recorder", trace: $0) }
        #expect(viaClosures == viaSubclass)
        let hooks = Set(viaClosures.map { String($0.prefix { $0 != "(" }) })
        #expect(hooks.count == 37, "hooks never reached: \(hooks.count)")
    }

    @Test func closuresSeeTheHookArguments() throws {
        var batchIndices: [Int] = []
        var losses: [Float] = []
        var sawCheckpoint = false
        let callback = LambdaCallback(
            onTrainBatchEnd: { _, _, outputs, _, batchIndex in
                batchIndices.append(batchIndex)
                if let outputs { losses.append(outputs.item) }
            },
            onSaveCheckpoint: { _, _, checkpoint in
                sawCheckpoint = checkpoint["/global_step"] != nil
                checkpoint = .dictionary(["replaced": .bool(true)])
            })
        let trainer = try Trainer(quietOptions(), callbacks: [callback])
        let module = TinyClassifier(seed: 1)
        try trainer.fit(module, data: try freshData())
        #expect(batchIndices == [0, 1, 2, 3, 4])
        #expect(losses.count == 5 && losses.allSatisfy(\.isFinite))
        trainer.module = module
        let dumped = try trainer.dumpCheckpoint()
        #expect(sawCheckpoint)
        #expect(dumped["/replaced"] != nil)
        #expect(!CallbackRegistry().names.contains("LambdaCallback"))
    }
}

import CairnCheckpoint
import CairnData
import CairnNN
import CairnOptim
import CairnTensor
import Foundation
import Logging
import OrderedCollections

/// Runs a ``TrainingModule`` over a ``DataModule``: fit, validate, test and predict, with
/// Lightning's loops, hook order (see <doc:Hooks>) and checkpoints.
public final class Trainer: @unchecked Sendable {
    /// How training proceeds; names follow Lightning's Trainer arguments.
    public struct Options: Sendable {
        /// Stop after this many epochs (nil: Lightning's 1000, or no epoch limit when `maxSteps` or `maxTime` is set).
        public var maxEpochs: Int?
        /// Stop after this many optimizer steps.
        public var maxSteps: Int?
        /// Train at least this many epochs: ``Trainer/shouldStop`` is ignored until then (nil: 0, Lightning's default).
        public var minEpochs: Int?
        /// Stop fit after the batch during which this much time has passed since training began
        /// (Lightning's `max_time`; the clock restarts on resume).
        public var maxTime: Duration?
        /// Train batches per epoch (nil: all).
        public var limitTrainBatches: Int?
        /// Validation batches per run (nil: all; 0 disables validation).
        public var limitValBatches: Int?
        /// Validate every this many train batches (`50`) or fraction of the epoch (`0.25`) within
        /// the epoch (nil: at the epoch's end, as `1.0`).
        public var valCheckInterval: ValCheckInterval?
        /// Validate every this many epochs (nil with `valCheckInterval`: count batches across epochs).
        public var checkValEveryNEpoch: Int?
        /// Test batches per run (nil: all).
        public var limitTestBatches: Int?
        /// Prediction batches per run (nil: all).
        public var limitPredictBatches: Int?
        /// Run only this many batches of train, validation, test and predict, in one epoch, with no
        /// sanity check and no checkpoints, to smoke-test a module (Lightning's `fast_dev_run`; nil: off).
        /// The trainer's ``Trainer/options`` show the limits it implies.
        public var fastDevRun: Int?
        /// Validation batches run before training, to catch bugs early.
        public var numSanityValSteps: Int
        /// Batches whose gradients are summed before each optimizer step.
        public var accumulateGradBatches: Int
        /// Clip gradients to this bound before each step (nil: no clipping).
        public var gradientClipVal: Float?
        /// How ``gradientClipVal`` applies.
        public var gradientClipAlgorithm: GradientClipAlgorithm
        /// Step metrics reach the logged metrics every this many optimizer steps.
        public var logEveryNSteps: Int
        /// Add a default ``ModelCheckpoint`` (the latest `epoch=E-step=S.ckpt` under
        /// `defaultRootDir/checkpoints`) when the callbacks hold none.
        public var enableCheckpointing: Bool
        /// Where the default ModelCheckpoint writes (under `checkpoints/`).
        public var defaultRootDir: String
        /// Seeds ``Trainer/rng`` (nil: seed 0).
        public var seed: UInt64?
        /// Lightning's `deterministic`: ask for bit-reproducible runs. Every Cairn kernel is
        /// single-threaded with a fixed reduction order, so runs with the same seed already give
        /// byte-identical results and there is no faster non-deterministic path to switch off; the
        /// flag is recorded so that any such path added later must honour it.
        public var deterministic: Bool
        /// Catch SIGINT while a stage runs: it raises ``Trainer/interruptFlag`` instead of killing
        /// the process, so the run stops after the current batch with ``TrainerError/interrupted(stage:)``.
        public var handlesInterruptSignal: Bool
        /// Add a ``ProgressBar`` when the callbacks hold none (it draws only when standard output is a terminal).
        public var enableProgressBar: Bool
        /// Add a ``ModelSummaryCallback`` when the callbacks hold none (it prints only when standard output is a terminal).
        public var enableModelSummary: Bool

        /// Lightning's defaults, then `configure` sets any subset of the options, in any order:
        /// `Trainer.Options { $0.maxSteps = 100; $0.accumulateGradBatches = 2 }`.
        public init(_ configure: (inout Options) -> Void) {
            self.init()
            configure(&self)
        }

        /// Every option by name, in a fixed order; prefer ``init(_:)`` to set only some of them.
        public init(maxEpochs: Int? = nil, maxSteps: Int? = nil, limitTrainBatches: Int? = nil,
                    limitValBatches: Int? = nil, valCheckInterval: ValCheckInterval? = nil, checkValEveryNEpoch: Int? = 1,
                    numSanityValSteps: Int = 2, accumulateGradBatches: Int = 1, gradientClipVal: Float? = nil,
                    gradientClipAlgorithm: GradientClipAlgorithm = .norm, logEveryNSteps: Int = 50,
                    enableCheckpointing: Bool = true, defaultRootDir: String = ".", seed: UInt64? = nil,
                    handlesInterruptSignal: Bool = false, minEpochs: Int? = nil, maxTime: Duration? = nil,
                    limitTestBatches: Int? = nil, limitPredictBatches: Int? = nil, fastDevRun: Int? = nil,
                    deterministic: Bool = false, enableProgressBar: Bool = true, enableModelSummary: Bool = true) {
            self.maxEpochs = maxEpochs
            self.maxSteps = maxSteps
            self.limitTrainBatches = limitTrainBatches
            self.limitValBatches = limitValBatches
            self.valCheckInterval = valCheckInterval
            self.checkValEveryNEpoch = checkValEveryNEpoch
            self.numSanityValSteps = numSanityValSteps
            self.accumulateGradBatches = accumulateGradBatches
            self.gradientClipVal = gradientClipVal
            self.gradientClipAlgorithm = gradientClipAlgorithm
            self.logEveryNSteps = logEveryNSteps
            self.enableCheckpointing = enableCheckpointing
            self.defaultRootDir = defaultRootDir
            self.seed = seed
            self.handlesInterruptSignal = handlesInterruptSignal
            self.minEpochs = minEpochs
            self.maxTime = maxTime
            self.limitTestBatches = limitTestBatches
            self.limitPredictBatches = limitPredictBatches
            self.fastDevRun = fastDevRun
            self.deterministic = deterministic
            self.enableProgressBar = enableProgressBar
            self.enableModelSummary = enableModelSummary
        }

        /// Throws ``TrainerError/invalidOption(name:reason:)`` for the first option out of range;
        /// ``Trainer/init(_:callbacks:loggers:logger:)`` runs it.
        public func validate() throws {
            func invalid(_ name: String, _ reason: String) -> TrainerError { .invalidOption(name: name, reason: reason) }
            guard accumulateGradBatches >= 1 else { throw invalid("accumulateGradBatches", "\(accumulateGradBatches) must be at least 1") }
            guard logEveryNSteps >= 1 else { throw invalid("logEveryNSteps", "\(logEveryNSteps) must be at least 1") }
            if let problem = valCheckInterval?.problem { throw invalid("valCheckInterval", problem) }
            if case let .fraction(fraction)? = valCheckInterval, checkValEveryNEpoch == nil {
                throw invalid("valCheckInterval", "\(fraction) is a fraction of the epoch; with checkValEveryNEpoch nil it must be a batch count")
            }
            guard checkValEveryNEpoch.map({ $0 >= 1 }) ?? true else { throw invalid("checkValEveryNEpoch", "must be at least 1") }
            guard minEpochs.map({ $0 >= 0 }) ?? true else { throw invalid("minEpochs", "must not be negative") }
            guard maxTime.map({ $0 >= .zero }) ?? true else { throw invalid("maxTime", "must not be negative") }
            guard fastDevRun.map({ $0 >= 1 }) ?? true else { throw invalid("fastDevRun", "must be at least 1") }
            guard numSanityValSteps >= 0 else { throw invalid("numSanityValSteps", "must not be negative") }
        }

        /// The limits `fastDevRun` stands for, set over whatever was given.
        func applyingFastDevRun() -> Options {
            guard let batches = fastDevRun else { return self }
            var options = self
            options.limitTrainBatches = batches
            options.limitValBatches = batches
            options.limitTestBatches = batches
            options.limitPredictBatches = batches
            options.maxSteps = batches
            options.maxEpochs = 1
            options.minEpochs = nil
            options.maxTime = nil
            options.numSanityValSteps = 0
            options.valCheckInterval = nil
            options.checkValEveryNEpoch = 1
            options.enableCheckpointing = false
            return options
        }
    }

    /// Gradient clipping by global norm or by value, as Lightning's `gradient_clip_algorithm`.
    public enum GradientClipAlgorithm: String, Sendable { case norm, value }

    /// The options given at creation, with the limits ``Options/fastDevRun`` implies applied.
    public let options: Options
    /// The callbacks, in the order their hooks run: as given, with ModelCheckpoint and
    /// OnExceptionCheckpoint instances moved to the end (as Lightning).
    public let callbacks: [Callback]
    /// Where the run's metrics and hyper-parameters are recorded.
    public let loggers: [any ExperimentLogger]
    /// Where warnings (such as unmatched callback states) are reported.
    public var logger: Logger
    /// Every loop's progress counters, saved under `/loops`.
    public internal(set) var progress = LoopProgress()
    /// What the module logged.
    public internal(set) var metrics = LoggedMetrics()
    /// A generator for the module's own randomness, saved under `/rng_states/trainer`.
    public var rng: RandomGenerator
    /// Set by a callback or the module to end fit after the current batch.
    public var shouldStop = false
    /// Raised (from any thread, or by SIGINT with ``Options/handlesInterruptSignal``) to end the
    /// running stage after its current batch with ``TrainerError/interrupted(stage:)``.
    public let interruptFlag = InterruptFlag()
    /// Mismatches between checkpoint and live callback states found by the last restore.
    public internal(set) var callbackStateWarnings: [CallbackStateWarning] = []
    /// The running entry point, or nil.
    public internal(set) var stage: Stage?
    /// Whether the sanity-check validation is running.
    public internal(set) var isSanityChecking = false
    /// The running module.
    public internal(set) var module: TrainingModule?
    /// The running data module.
    public internal(set) var dataModule: DataModule?
    /// The optimizer from `configureOptimizers`, during fit.
    public internal(set) var optimizer: Optimizer?
    /// The schedulers from ``TrainingModule/configureLRSchedulers(optimizer:)``, during fit.
    public internal(set) var lrSchedulerConfigs: [LRSchedulerConfiguration] = []
    /// The file a ModelCheckpoint wrote last.
    public internal(set) var lastCheckpointPath: URL?
    /// The checkpoint the running (or last) stage restored, or nil (Lightning's `ckpt_path`).
    public internal(set) var restoredCheckpointPath: URL?
    /// Batches whose gradients are summed before each optimizer step (Lightning's
    /// `trainer.accumulate_grad_batches`): ``Options/accumulateGradBatches`` when training starts,
    /// then whatever a ``GradientAccumulationScheduler`` sets at each epoch's start.
    public internal(set) var accumulateGradBatches: Int

    var trainLoader: (any BatchLoader)?
    var validationLoader: (any BatchLoader)?
    var isTrainingStep = false
    var metricPhase = MetricPhase.training
    var currentBatchSize = 1
    var restartingMidEpoch = false
    /// Restored from a checkpoint written in an epoch's end hooks: that epoch's remaining end work is due.
    var restartingAtEpochEnd = false
    /// The last processed batch did not step: the gradients are an accumulation window's partial sum.
    var accumulationWindowOpen = false
    /// The batch in flight has run backward but is not processed yet, so the gradients hold a
    /// contribution that a resume (which redoes that batch) would add a second time.
    var batchGradientPending = false
    /// The open window's gradients before the batch in flight (see ``recordGradientsBeforeBatch(of:)``).
    var gradientsBeforeBatch: OrderedDictionary<String, Tensor>?
    var pendingTrainLoaderState: StateValue?
    /// What the training batch in flight changes, as it was before that batch (see ``StateBeforeBatch``).
    var stateBeforeBatch: StateBeforeBatch?
    /// The module's dropout layers, found at the first batch of a fit.
    var fitDropouts: [Dropout]?
    var trainingStartedAt: ContinuousClock.Instant?
    var loggerConnector = LoggerConnectorState()
    /// Batches the running validation, test or prediction loop will take (for progress bars).
    var evaluationBatchCount = 0

    /// Epochs finished (Lightning's `current_epoch`).
    public var currentEpoch: Int { progress.epoch.current.completed }
    /// Optimizer steps taken (Lightning's `global_step`).
    public var globalStep: Int { progress.optimizerStep.total.completed }

    /// A trainer; throws ``TrainerError/duplicateStateKey(key:first:second:)`` when two
    /// stateful callbacks would file their states under the same key.
    public init(_ options: Options = Options(), callbacks: [Callback] = [], loggers: [any ExperimentLogger] = [],
                logger: Logger = Logger(label: "cairn.trainer")) throws {
        try options.validate()
        let options = options.applyingFastDevRun()
        self.options = options
        accumulateGradBatches = options.accumulateGradBatches
        var callbacks = callbacks
        callbacks += Self.defaultDisplayCallbacks(options, given: callbacks)
        // As Lightning: checkpointing on and no ModelCheckpoint given adds the default one, last.
        if options.enableCheckpointing, !callbacks.contains(where: { $0 is ModelCheckpoint }) {
            callbacks.append(try ModelCheckpoint())
        }
        // As Lightning's `_reorder_callbacks`: checkpointing callbacks run after all others (in
        // their given order), so a file written in a hook holds every other callback's work for
        // that hook, which a resume then neither repeats nor misses.
        let writesCheckpoints = { (callback: Callback) in callback is any CheckpointingCallback }
        self.callbacks = callbacks.filter { !writesCheckpoints($0) } + callbacks.filter(writesCheckpoints)
        self.loggers = loggers
        self.logger = logger
        rng = RandomGenerator(seed: options.seed ?? 0)
        var owners: [String: Int] = [:]
        for (position, callback) in callbacks.enumerated() where try callback.stateDict() != nil {
            if let first = owners[callback.stateKey] {
                throw TrainerError.duplicateStateKey(key: callback.stateKey, first: "callbacks[\(first)] \(type(of: callbacks[first]))",
                                                     second: "callbacks[\(position)] \(type(of: callback))")
            }
            owners[callback.stateKey] = position
        }
    }

    /// Throws ``TrainerError/interrupted(stage:)`` when a stop was requested; the loops call it after each batch.
    func stopIfInterrupted() throws {
        if interruptFlag.consume() { throw TrainerError.interrupted(stage: stage ?? .fit) }
    }

    // MARK: Entry points

    /// Trains `module` on `data`, validating as the options say; with `ckptPath`, first restores
    /// everything saved there and continues at the very next batch.
    public func fit(_ module: TrainingModule, data: DataModule, ckptPath: URL) throws {
        try fit(module, data: data, ckptPath: .path(ckptPath))
    }

    /// Trains `module` on `data`, first restoring the selected checkpoint (see ``CheckpointSelection``).
    /// Resuming a run that already reached its limits logs so and trains nothing.
    public func fit(_ module: TrainingModule, data: DataModule, ckptPath: CheckpointSelection? = nil) throws {
        try run(.fit, module, data, ckptPath: ckptPath) {
            if ckptPath != nil, fitDone, !restartingMidEpoch, !restartingAtEpochEnd {
                logger.notice("fit: the restored run already finished (epoch \(currentEpoch), step \(globalStep)); nothing to train")
            }
            guard let loader = try data.trainLoader() else { throw TrainerError.missingLoader(stage: .fit, loader: "train") }
            if let state = pendingTrainLoaderState { try loader.loadStateDict(state) }
            pendingTrainLoaderState = nil
            trainLoader = loader
            validationLoader = try data.validationLoader()
            try runSanityCheck()
            try runFitLoop()
        }
    }

    /// Runs one validation epoch and returns the epoch metrics.
    @discardableResult
    public func validate(_ module: TrainingModule, data: DataModule, ckptPath: URL) throws -> [String: Double] {
        try validate(module, data: data, ckptPath: .path(ckptPath))
    }

    /// As above, restoring the selected checkpoint first.
    @discardableResult
    public func validate(_ module: TrainingModule, data: DataModule, ckptPath: CheckpointSelection? = nil) throws -> [String: Double] {
        try run(.validate, module, data, ckptPath: ckptPath) {
            guard let loader = try data.validationLoader() else { throw TrainerError.missingLoader(stage: .validate, loader: "validation") }
            try runEvaluation(.validate, loader: loader, limit: options.limitValBatches)
            return Dictionary(uniqueKeysWithValues: metrics.callbackMetrics.map { ($0.key, $0.value) })
        }
    }

    /// Runs one test epoch and returns the epoch metrics.
    @discardableResult
    public func test(_ module: TrainingModule, data: DataModule, ckptPath: URL) throws -> [String: Double] {
        try test(module, data: data, ckptPath: .path(ckptPath))
    }

    /// As above, restoring the selected checkpoint first.
    @discardableResult
    public func test(_ module: TrainingModule, data: DataModule, ckptPath: CheckpointSelection? = nil) throws -> [String: Double] {
        try run(.test, module, data, ckptPath: ckptPath) {
            guard let loader = try data.testLoader() else { throw TrainerError.missingLoader(stage: .test, loader: "test") }
            try runEvaluation(.test, loader: loader, limit: options.limitTestBatches)
            return Dictionary(uniqueKeysWithValues: metrics.callbackMetrics.map { ($0.key, $0.value) })
        }
    }

    /// The module's predictions for every prediction batch, in order.
    public func predict(_ module: TrainingModule, data: DataModule, ckptPath: URL) throws -> [Tensor] {
        try predict(module, data: data, ckptPath: .path(ckptPath))
    }

    /// As above, restoring the selected checkpoint first.
    public func predict(_ module: TrainingModule, data: DataModule, ckptPath: CheckpointSelection? = nil) throws -> [Tensor] {
        try run(.predict, module, data, ckptPath: ckptPath) {
            guard let loader = try data.predictLoader() else { throw TrainerError.missingLoader(stage: .predict, loader: "predict") }
            return try runPrediction(loader: loader, limit: options.limitPredictBatches)
        }
    }

    /// Lightning's `_run`: set-up hooks, restore, fit start, the stage, fit end, tear-down;
    /// on failure `onException` for the callbacks then the data module (then tear-down when
    /// interrupted), and the error is rethrown.
    private func run<Result>(_ stage: Stage, _ module: TrainingModule, _ data: DataModule, ckptPath: CheckpointSelection?,
                             _ body: () throws -> Result) throws -> Result {
        self.stage = stage
        self.module = module
        dataModule = data
        module.trainer = self
        shouldStop = false
        restartingMidEpoch = false
        restartingAtEpochEnd = false
        accumulationWindowOpen = false
        batchGradientPending = false
        gradientsBeforeBatch = nil
        stateBeforeBatch = nil
        fitDropouts = nil
        let signalHandler = options.handlesInterruptSignal ? InterruptSignalHandler(flag: interruptFlag) : nil
        defer {
            withExtendedLifetime(signalHandler) {}
            self.stage = nil
            isTrainingStep = false
            isSanityChecking = false
        }
        do {
            try data.setup(stage: stage)
            for callback in callbacks { try callback.setup(self, module, stage: stage) }
            try module.setup(stage: stage)
            restoredCheckpointPath = try ckptPath.flatMap { try resolve($0) }
            let checkpoint = try restoredCheckpointPath.map { try loadCheckpointTree($0) }
            if let checkpoint, let restoredCheckpointPath {
                try requireTrainingState(in: checkpoint, file: restoredCheckpointPath, stage: stage)
                try restoreModulesAndCallbacks(from: checkpoint, module: module, data: data, stage: stage)
            }
            if stage == .fit {
                let configured = try module.configureOptimizers()
                try restoreOptimizerLayouts(configured, module: module)
                optimizer = configured
                lrSchedulerConfigs = try module.configureLRSchedulers(optimizer: configured)
                for (index, configuration) in lrSchedulerConfigs.enumerated() {
                    precondition(configuration.optimizer === configured,
                                 "configureLRSchedulers: scheduler \(index) acts on an optimizer configureOptimizers did not return")
                }
            }
            if let checkpoint { try restoreTrainingState(from: checkpoint, stage: stage) }
            if stage != .predict { try startLogging() }
            if stage == .fit {
                for callback in callbacks { try callback.onFitStart(self, module) }
                try module.onFitStart()
            }
            let result = try body()
            if stage == .fit {
                for callback in callbacks { try callback.onFitEnd(self, module) }
                try module.onFitEnd()
            }
            try data.teardown(stage: stage)
            for callback in callbacks { try callback.teardown(self, module, stage: stage) }
            try module.teardown(stage: stage)
            try finalizeLoggers(status: LoggerStatus.success)
            return result
        } catch {
            for callback in callbacks { try callback.onException(self, module, error: error) }
            try data.onException(error: error)
            // An interrupted run ends cleanly; other failures skip tear-down, as Lightning does.
            if case TrainerError.interrupted = error {
                try data.teardown(stage: stage)
                for callback in callbacks { try callback.teardown(self, module, stage: stage) }
                try module.teardown(stage: stage)
                finalizeLoggersAfterFailure(status: LoggerStatus.interrupted)
            } else {
                finalizeLoggersAfterFailure(status: LoggerStatus.failed)
            }
            throw error
        }
    }
}

import CairnCheckpoint
import CairnData
import CairnTensor

/// A source of batches the trainer can drive epoch by epoch and resume mid-epoch.
public protocol BatchLoader: AnyObject {
    /// Batches in one full epoch.
    var batchesPerEpoch: Int { get }
    /// The next batch of the current epoch, or nil at its end; a batch that cannot be made
    /// (e.g. a collate error) throws.
    func nextBatch() throws -> Batch?
    /// Moves to the start of `epoch` (the order of a shuffled loader depends on it).
    func startEpoch(_ epoch: Int) throws
    /// The resume point.
    func stateDict() -> StateValue
    /// Resumes where ``stateDict()`` was taken.
    func loadStateDict(_ state: StateValue) throws
}

extension DataLoader: BatchLoader {
    public func startEpoch(_ epoch: Int) throws {
        guard case let .dict(entries) = stateDict() else { return }
        var restarted = entries
        restarted["epoch"] = .int(Int64(epoch))
        restarted["position"] = .int(0)
        try loadStateDict(.dict(restarted))
    }
}

/// The data of a run (Lightning's LightningDataModule): set-up per stage and one loader per stage.
open class DataModule: @unchecked Sendable {
    public init() {}

    /// Prepares the data for `stage`; called before the callbacks' and the module's setup.
    open func setup(stage: Stage) throws {}
    /// Releases what ``setup(stage:)`` prepared.
    open func teardown(stage: Stage) throws {}
    /// The training batches.
    open func trainLoader() throws -> (any BatchLoader)? { nil }
    /// The validation batches.
    open func validationLoader() throws -> (any BatchLoader)? { nil }
    /// The test batches.
    open func testLoader() throws -> (any BatchLoader)? { nil }
    /// The prediction batches.
    open func predictLoader() throws -> (any BatchLoader)? { nil }
    /// Called when fit, validate, test or predict fails (after the callbacks).
    open func onException(error: any Error) throws {}
    /// Extra state saved under `/datamodule`, or nil.
    open func stateDict() throws -> CheckpointValue? { nil }
    /// Restores ``stateDict()``.
    open func loadStateDict(_ state: CheckpointValue) throws {}
}

/// A data module over ready-made loaders.
public final class LoaderDataModule: DataModule, @unchecked Sendable {
    private let train: (any BatchLoader)?
    private let validation: (any BatchLoader)?
    private let test: (any BatchLoader)?
    private let predict: (any BatchLoader)?

    /// Wraps the given loaders.
    public init(train: (any BatchLoader)? = nil, validation: (any BatchLoader)? = nil,
                test: (any BatchLoader)? = nil, predict: (any BatchLoader)? = nil) {
        self.train = train
        self.validation = validation
        self.test = test
        self.predict = predict
        super.init()
    }

    override public func trainLoader() throws -> (any BatchLoader)? { train }
    override public func validationLoader() throws -> (any BatchLoader)? { validation }
    override public func testLoader() throws -> (any BatchLoader)? { test }
    override public func predictLoader() throws -> (any BatchLoader)? { predict }
}

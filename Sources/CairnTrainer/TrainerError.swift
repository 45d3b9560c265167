/// Why the trainer could not run or restore: names the callback, file or checkpoint path.
public enum TrainerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Two stateful callbacks share a state key, so their checkpoint states would collide.
    case duplicateStateKey(key: String, first: String, second: String)
    /// A checkpoint entry is absent or of the wrong kind.
    case malformedCheckpoint(path: String, reason: String)
    /// A checkpoint file could not be read or written.
    case checkpointFile(path: String, reason: String)
    /// The module or data module provides no loader for a stage that needs one.
    case missingLoader(stage: Stage, loader: String)
    /// A callback was given arguments that cannot work together.
    case invalidConfiguration(callback: String, reason: String)
    /// No checkpoint matches what `fit(_:data:ckptPath:)` was asked to resume from.
    case checkpointNotFound(selection: String, reason: String)
    /// The ``Trainer/interruptFlag`` was raised (by SIGINT, say); the stage stopped after a whole batch.
    case interrupted(stage: Stage)
    /// A strict ReduceLROnPlateau configuration monitors a metric nobody logged (Lightning's MisconfigurationException).
    case missingMonitoredMetric(monitor: String, available: [String])
    /// A trainer option cannot work with the data it met (Lightning's MisconfigurationException).
    case invalidOption(name: String, reason: String)

    public var description: String {
        switch self {
        case let .duplicateStateKey(key, first, second):
            "\(first) and \(second) share the state key \(key); give one a distinct stateKey"
        case let .malformedCheckpoint(path, reason): "checkpoint \(path): \(reason)"
        case let .checkpointFile(path, reason): "checkpoint file \(path): \(reason)"
        case let .missingLoader(stage, loader): "\(stage.rawValue): no \(loader) loader"
        case let .invalidConfiguration(callback, reason): "\(callback): \(reason)"
        case let .checkpointNotFound(selection, reason): "ckpt_path \(selection): \(reason)"
        case let .interrupted(stage): "\(stage.rawValue) interrupted after the current batch"
        case let .invalidOption(name, reason): "Trainer option \(name): \(reason)"
        case let .missingMonitoredMetric(monitor, available):
            "ReduceLROnPlateau monitors \(monitor), which was not logged; available metrics: \(available); set monitor to one of them, or strict to false to skip such steps"
        }
    }
}

/// A checkpoint and the live callbacks disagreed on which states exist; reported, never dropped silently.
public struct CallbackStateWarning: Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The checkpoint holds a state no live callback claims.
        case savedStateWithoutCallback
        /// A live stateful callback found no state in the checkpoint.
        case callbackWithoutSavedState
    }

    /// What went wrong.
    public var kind: Kind
    /// The state key concerned.
    public var stateKey: String

    public var description: String {
        switch kind {
        case .savedStateWithoutCallback: "checkpoint holds state for callback \(stateKey) but no such callback is attached; the state is kept unused"
        case .callbackWithoutSavedState: "callback \(stateKey) keeps state but the checkpoint has none for it; it starts fresh"
        }
    }
}

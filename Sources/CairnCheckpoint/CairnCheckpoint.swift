/// The version of the checkpoint engine that writes files, recorded in each one.
public let cairnCheckpointEngineVersion = "0.1.0"

import Testing
import CairnCheckpoint

@Test func engineHasVersion() {
    #expect(!cairnCheckpointEngineVersion.isEmpty)
}

// One import gives a user the whole toolkit.
@_exported import CairnCheckpoint
@_exported import CairnTensor
@_exported import CairnInterop

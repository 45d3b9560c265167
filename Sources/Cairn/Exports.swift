// One import gives a user the whole toolkit.
@_exported import CairnCheckpoint
@_exported import CairnData
@_exported import CairnExamples
@_exported import CairnInterop
@_exported import CairnNN
@_exported import CairnOptim
@_exported import CairnTensor
@_exported import CairnTensorCheckpoint
@_exported import CairnTrainer
@_exported import OrderedCollections

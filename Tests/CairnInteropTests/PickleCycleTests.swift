import Testing
@testable import CairnInterop

/// A hostile pickle can make containers that hold themselves; none may outlive the read.
@Suite struct PickleCycleTests {
    @Test func selfContainingContainersAreFreedAfterTheRead() {
        weak var weakDict: PickleDict?
        weak var weakList: PickleList?
        do {
            let containers = PickleContainers()
            let dict = containers.dict(), list = containers.list()
            dict.entries = [(key: .int(1), value: .dict(dict))]
            list.items = [.list(list), .dict(dict)]
            weakDict = dict
            weakList = list
            containers.breakLinks()
        }
        #expect(weakDict == nil)
        #expect(weakList == nil)
    }

    /// PROTO 2, EMPTY_DICT, BINPUT 0, DUP, BININT1 1, BINGET 0, SETITEM, POP, STOP:
    /// a dict holding itself, then dropped from the stack. Reading it is a typed error.
    @Test func aDictHoldingItselfIsATypedError() {
        let bytes: [UInt8] = [0x80, 0x02, 0x7D, 0x71, 0x00, 0x32, 0x4B, 0x01, 0x68, 0x00, 0x73, 0x30, 0x2E]
        #expect(throws: InteropError.self) { try TorchCheckpoint.readPickle(bytes, file: "cycle.pkl") }
    }
}

import CairnCheckpoint
@testable import CairnTrainer
import Testing

/// A callback whose key carries every kind of argument.
final class KeyProbe: Callback, @unchecked Sendable {
    let name: String
    init(name: String) { self.name = name }
    override var stateKey: String { makeStateKey(["name": .string(name), "n": 3, "rate": 0.5, "flag": true]) }
    override func stateDict() throws -> CheckpointValue? { .dictionary([:]) }
}

/// A callback without state.
final class Stateless: Callback, @unchecked Sendable {}

@Suite struct StateKeyTests {
    @Test func defaultKeyIsTheTypeName() {
        #expect(Stateless().stateKey == "Stateless")
    }

    @Test func keyListsArgumentsAsJSONInOrder() {
        #expect(KeyProbe(name: "plain").stateKey == #"KeyProbe<"name":"plain","n":3,"rate":0.5,"flag":true>"#)
        #expect(KeyProbe(name: "a\"b\\c\nd\u{01}").stateKey == #"KeyProbe<"name":"a\"b\\c\nd\u0001","n":3,"rate":0.5,"flag":true>"#)
    }

    @Test func counterKeysFollowTheSeed() {
        #expect(Counter(what: .epochs).stateKey == #"Counter<"what":"epochs">"#)
        #expect(Counter(what: .batches, verbose: true).stateKey == #"Counter<"what":"batches">"#)
    }

    @Test func duplicateStatefulKeysFailAtCreationNamingBoth() throws {
        do {
            _ = try Trainer(quietOptions(), callbacks: [Counter(what: .epochs), Counter(what: .batches), Counter(what: .epochs, verbose: true)])
            Issue.record("expected a duplicate state key error")
        } catch let TrainerError.duplicateStateKey(key, first, second) {
            #expect(key == #"Counter<"what":"epochs">"#)
            #expect(first == "callbacks[0] Counter")
            #expect(second == "callbacks[2] Counter")
            #expect(TrainerError.duplicateStateKey(key: key, first: first, second: second).description
                == #"callbacks[0] Counter and callbacks[2] Counter share the state key Counter<"what":"epochs">; give one a distinct stateKey"#)
        }
    }

    @Test func statelessCallbacksMayShareAKey() throws {
        _ = try Trainer(quietOptions(), callbacks: [Stateless(), Stateless()])
    }
}

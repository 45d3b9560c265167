import CairnNN
import CairnTensor
import Testing

/// A module whose head is replaced after init, the case the member cache must be told about.
private final class SwappableHead: Module, @unchecked Sendable {
    var head: Linear
    var extras: [Module] = []

    init(inputs: Int, outputs: Int) {
        var rng = RandomGenerator(seed: 3)
        head = Linear(inputs, outputs, rng: &rng)
        super.init()
    }

    override func forward(_ input: Tensor) -> Tensor { head(input) }
}

@Suite struct ModuleMemberCacheTests {
    @Test func reflectionIsRememberedUntilMembersDidChange() {
        let model = SwappableHead(inputs: 3, outputs: 2)
        #expect(model.stateDict()["head.weight"]?.shape == [2, 3])

        var rng = RandomGenerator(seed: 4)
        model.head = Linear(3, 5, rng: &rng)
        // The documented rule: without the call the remembered (old) head is still reported.
        #expect(model.stateDict()["head.weight"]?.shape == [2, 3])

        model.membersDidChange()
        #expect(model.stateDict()["head.weight"]?.shape == [5, 3])
        #expect(model.parameters().count == 2)
    }

    @Test func addedChildrenAppearAfterMembersDidChange() {
        let model = SwappableHead(inputs: 3, outputs: 2)
        #expect(model.namedModules().map(\.name) == ["", "head"])
        model.extras.append(BatchNorm1d(4))
        model.membersDidChange()
        #expect(model.namedModules().map(\.name) == ["", "head", "extras.0"])
        #expect(model.stateDict().keys.contains("extras.0.running_mean"))
    }

    @Test func valueUpdatesNeedNoInvalidation() {
        let model = SwappableHead(inputs: 3, outputs: 2)
        _ = model.stateDict()
        model.head.weight.value = Tensor(shape: [2, 3], scalars: [Float](repeating: 7, count: 6))
        #expect(model.stateDict()["head.weight"]?.scalars == [Float](repeating: 7, count: 6))
    }

    @Test func concurrentFirstUseSeesOneConsistentList() async {
        let model = SwappableHead(inputs: 3, outputs: 2)
        let counts = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { model.stateDict().count } }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(counts == [Int](repeating: 2, count: 8))
    }
}

import Foundation
import Testing
@testable import CairnTensor

@Suite struct AutogradTests {
    @Test func gradientsAccumulateAcrossBackwardCalls() {
        let x = Tensor(shape: [2], scalars: [1, 2], requiresGrad: true)
        (x * x).sum().backward()
        #expect(x.grad?.scalars == [2, 4])
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [5, 7])
        x.grad = nil
        x.sum().backward()
        #expect(x.grad?.scalars == [1, 1])
    }

    @Test func sharedSubexpressionsSumTheirPaths() {
        let x = Tensor(3, requiresGrad: true)
        let y = x * x          // used twice below
        (y * y + y).backward() // d/dx (x^4 + x^2) = 4x^3 + 2x
        #expect(x.grad?.item == 114)
    }

    @Test func backwardWithExplicitGradient() {
        let x = Tensor(shape: [3], scalars: [1, 2, 3], requiresGrad: true)
        (x * 2).backward(gradient: Tensor(shape: [3], scalars: [1, 0, -1]))
        #expect(x.grad?.scalars == [2, 0, -2])
    }

    @Test func noGradScopeAndDetachStopRecording() {
        let x = Tensor(shape: [2], scalars: [1, 2], requiresGrad: true)
        let inside = withNoGrad { x * 2 }
        #expect(!inside.requiresGrad)
        #expect(isGradEnabled)
        #expect(withNoGrad { isGradEnabled } == false)
        let detached = (x * 2).detach()
        #expect(!detached.requiresGrad)
        let mixed = x * detached
        mixed.sum().backward()
        #expect(x.grad?.scalars == [2, 4])
    }

    @Test func onlyInputsRequiringGradReceiveIt() {
        let w = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4], requiresGrad: true)
        let input = Tensor(shape: [1, 2], scalars: [1, 1])
        input.matmul(w).sum().backward()
        #expect(input.grad == nil)
        #expect(w.grad?.scalars == [1, 1, 1, 1])
    }

    @Test func topologicalOrderIsDeterministic() {
        func build() -> [[Int]] {
            let a = Tensor(shape: [2], scalars: [1, 2], requiresGrad: true)
            let b = Tensor(shape: [2], scalars: [3, 4], requiresGrad: true)
            let loss = ((a * b).exp() + (b - a).relu() * a).sum()
            return loss.topologicalOrder().map(\.shape)
        }
        #expect(build() == build())
        let x = Tensor(1, requiresGrad: true)
        let order = ((x + 1) * (x + 2)).topologicalOrder()
        #expect(order.first === x)
    }

    @Test func longChainsDoNotOverflowTheStack() {
        let x = Tensor(1, requiresGrad: true)
        var y = x
        for _ in 0..<20_000 { y = y + 1 }
        y.backward()
        #expect(x.grad?.item == 1)
    }
}

@Suite struct RandomGeneratorTests {
    @Test func sameSeedSameBits() {
        var a = RandomGenerator(seed: 42), b = RandomGenerator(seed: 42), c = RandomGenerator(seed: 43)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
    }

    @Test func stateRoundTripsThroughCodable() throws {
        var rng = RandomGenerator(seed: 7)
        _ = Tensor.randn([5], rng: &rng)
        let saved = try JSONEncoderRoundTrip.roundTrip(rng.state)
        var resumed = try RandomGenerator(state: saved)
        #expect(Tensor.randn([9], rng: &rng).rawBytes == Tensor.randn([9], rng: &resumed).rawBytes)
        #expect(rng == resumed)
    }

    @Test func distributionsLookRight() {
        var rng = RandomGenerator(seed: 3)
        let uniform = Tensor.uniform([10_000], low: -2, high: 6, rng: &rng)
        #expect(uniform.min().item >= -2 && uniform.max().item < 6)
        #expect(Swift.abs(uniform.mean().item - 2) < 0.1)
        let normal = Tensor.randn([10_001], mean: 1, std: 2, rng: &rng)
        #expect(normal.count == 10_001)
        #expect(Swift.abs(normal.mean().item - 1) < 0.1)
        #expect(Swift.abs(normal.variance().sqrt().item - 2) < 0.1)
    }

    @Test func permutationsAreDeterministicShuffles() {
        var a = RandomGenerator(seed: 5), b = RandomGenerator(seed: 5)
        let p = a.permutation(100)
        #expect(p.sorted() == Array(0..<100))
        #expect(p != Array(0..<100))
        #expect(p == b.permutation(100))
        var letters = ["a", "b", "c", "d"]
        var c = RandomGenerator(seed: 5)
        c.shuffle(&letters)
        var d = RandomGenerator(seed: 5)
        #expect(letters == d.permutation(4).map { ["a", "b", "c", "d"][$0] })
        #expect(a.permutation(0).isEmpty)
    }

    @Test func dropoutZeroesAndScales() {
        var rng = RandomGenerator(seed: 9)
        let x = Tensor.ones([1000])
        let y = x.dropout(p: 0.25, rng: &rng)
        let kept = y.scalars.filter { $0 != 0 }
        #expect(kept.allSatisfy { Swift.abs($0 - 4.0 / 3) < 1e-6 })
        #expect(kept.count > 700 && kept.count < 800)
        #expect(x.dropout(p: 0, rng: &rng) === x)
        #expect(x.dropout(p: 1, rng: &rng).scalars.allSatisfy { $0 == 0 })
    }
}

/// Encodes a Codable value to JSON and back.
enum JSONEncoderRoundTrip {
    static func roundTrip<Value: Codable>(_ value: Value) throws -> Value {
        try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(value))
    }
}

@Suite struct InPlaceUpdateTests {
    @Test func assignAndMutateLeavesLikeAnOptimizer() {
        let weight = Tensor(shape: [2], scalars: [1, 2], requiresGrad: true)
        let view = weight.reshape([2, 1])
        (weight * weight).sum().backward()
        withNoGrad { weight.assign(weight - weight.grad! * 0.25) }
        #expect(weight.scalars == [0.5, 1])
        #expect(view.scalars == [1, 2])           // earlier results keep their own values
        weight.withUnsafeMutableScalars { values in
            for index in values.indices { values[index] *= 2 }
        }
        #expect(weight.scalars == [1, 2])
        #expect(weight.requiresGrad)
    }

    @Test func assignConvertsToTheStorageType() throws {
        let counter = try Tensor(dtype: .i64, shape: [1], bytes: [UInt8](repeating: 0, count: 8), name: "steps")
        counter.assign(Tensor(shape: [1], scalars: [7]))
        #expect(counter.dtype == .i64)
        #expect(counter.rawBytes == [7, 0, 0, 0, 0, 0, 0, 0])
    }
}

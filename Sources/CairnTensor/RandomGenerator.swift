#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A seeded xoshiro256** generator whose whole state is four words, so it can
/// be saved in a checkpoint and resumed to draw exactly the same numbers.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// A generator seeded by expanding `seed` with SplitMix64 (never all zero).
    public init(seed: UInt64) {
        var mixer = seed
        func splitMix() -> UInt64 {
            mixer &+= 0x9E37_79B9_7F4A_7C15
            var z = mixer
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        words = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// Resumes from a saved `state`; throws unless it is four words, not all zero.
    public init(state: [UInt64]) throws {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else {
            throw TensorError.invalidGeneratorState(words: state.count)
        }
        words = (state[0], state[1], state[2], state[3])
    }

    /// The complete state, for saving.
    public var state: [UInt64] { [words.0, words.1, words.2, words.3] }

    public static func == (lhs: RandomGenerator, rhs: RandomGenerator) -> Bool { lhs.state == rhs.state }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotate(words.1 &* 5, 7) &* 9
        let shifted = words.1 << 17
        words.2 ^= words.0
        words.3 ^= words.1
        words.1 ^= words.2
        words.0 ^= words.3
        words.2 ^= shifted
        words.3 = rotate(words.3, 45)
        return result
    }

    private func rotate(_ value: UInt64, _ count: UInt64) -> UInt64 { (value << count) | (value >> (64 - count)) }

    /// A uniform Float in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Two independent standard normal values (Box–Muller, computed in Double).
    public mutating func nextNormalPair() -> (Float, Float) {
        let u1 = (Double(next() >> 11) + 1) * 0x1p-53  // in (0, 1], so the log is finite
        let u2 = Double(next() >> 11) * 0x1p-53
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        return (Float(radius * cos(angle)), Float(radius * sin(angle)))
    }

    /// A uniform integer in `0..<bound`, without modulo bias.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt: bound \(bound) must be positive")
        let limit = UInt64(bound)
        let threshold = (0 &- limit) % limit
        while true {
            let value = next()
            if value >= threshold { return Int(value % limit) }
        }
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var result = Array(0..<n)
        shuffle(&result)
        return result
    }

    /// Shuffles `elements` in place (Fisher–Yates, same draws as `permutation`).
    public mutating func shuffle<Element>(_ elements: inout [Element]) {
        guard elements.count > 1 else { return }
        for index in stride(from: elements.count - 1, to: 0, by: -1) {
            elements.swapAt(index, nextInt(below: index + 1))
        }
    }
}

extension Tensor {
    /// Uniform values in [low, high).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout RandomGenerator,
                               requiresGrad: Bool = false) -> Tensor {
        let values = (0..<Shape.count(shape)).map { _ in low + (high - low) * rng.nextUniform() }
        return Tensor(shape: shape, scalars: values, requiresGrad: requiresGrad)
    }

    /// Standard normal values (times `std`, plus `mean`).
    public static func randn(_ shape: [Int], mean: Float = 0, std: Float = 1, rng: inout RandomGenerator,
                             requiresGrad: Bool = false) -> Tensor {
        let n = Shape.count(shape)
        var values = [Float]()
        values.reserveCapacity(n + 1)
        while values.count < n {
            let (first, second) = rng.nextNormalPair()
            values.append(mean + std * first)
            values.append(mean + std * second)
        }
        values.removeLast(values.count - n)
        return Tensor(shape: shape, scalars: values, requiresGrad: requiresGrad)
    }

    /// Zeroes each element with probability `p` and scales the rest by 1/(1-p), as torch in training.
    public func dropout(p: Float, rng: inout RandomGenerator) -> Tensor {
        precondition(p >= 0 && p <= 1, "dropout: p \(p) must be in [0, 1] (shape \(shape))")
        if p == 0 { return self }
        let keepScale: Float = p == 1 ? 0 : 1 / (1 - p)
        let mask = (0..<count).map { _ in rng.nextUniform() >= p ? keepScale : 0 }
        return self * Tensor(shape: shape, scalars: mask)
    }
}

import CairnTensor
import Foundation
import OrderedCollections

/// Random access to a fixed number of examples, each a set of named tensors.
public protocol Dataset: Sendable {
    /// Number of examples.
    var count: Int { get }
    /// The example at `index` in `0..<count`.
    func example(at index: Int) -> Example
}

/// Errors met while building a data set, each naming its source.
public enum DatasetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The CSV itself is malformed (bad width, non-numeric cell, unreadable, empty).
    case csv(CSVError)
    /// The header has no column of that name.
    case missingColumn(file: String, column: String, header: [String])
    /// A class index is not a non-negative integer.
    case invalidLabel(file: String, line: Int, value: Float)
    /// The tensors of a ``TensorDataset`` disagree on the number of examples.
    case lengthMismatch(key: String, count: Int, expected: Int)
    /// A ``TokenWindowDataset`` cannot cut one window of the asked size from its tokens.
    case invalidWindow(reason: String)

    public var description: String {
        switch self {
        case let .csv(error): error.description
        case let .missingColumn(file, column, header): "\(file): no column '\(column)' in header \(header)"
        case let .invalidLabel(file, line, value): "\(file):\(line): class index \(value) is not a non-negative integer"
        case let .lengthMismatch(key, count, expected): "tensor '\(key)' holds \(count) examples on axis 0, the others \(expected)"
        case let .invalidWindow(reason): "token windows: \(reason)"
        }
    }
}

/// Named tensors sharing axis 0 as a data set (PyTorch's `TensorDataset`): example `i` is row
/// `i` of each tensor, dtype kept exactly.
public struct TensorDataset: Dataset, @unchecked Sendable {
    /// The tensors, each with the examples on axis 0.
    public let tensors: OrderedDictionary<String, Tensor>
    public let count: Int

    /// Throws when the tensors disagree on axis 0 or one is a scalar.
    public init(_ tensors: OrderedDictionary<String, Tensor>) throws {
        let expected = tensors.values.first?.shape.first ?? 0
        for (key, tensor) in tensors {
            guard let rows = tensor.shape.first, rows == expected else {
                throw DatasetError.lengthMismatch(key: key, count: tensor.shape.first ?? 0, expected: expected)
            }
        }
        self.tensors = tensors
        count = expected
    }

    public func example(at index: Int) -> Example {
        precondition(index >= 0 && index < count, "TensorDataset: index \(index) out of 0..<\(count)")
        return Example(tensors.mapValues { $0.row(index) })
    }
}

/// Windows over one long token sequence, for language models: example `i` holds `tokens`
/// (the `window` tokens from `i × stride`) and `targets` (the same window shifted by one),
/// both `[window]` I64.
public struct TokenWindowDataset: Dataset {
    /// The whole sequence.
    public let tokens: [Int64]
    /// Tokens per example.
    public let window: Int
    /// How far each window starts after the previous one.
    public let stride: Int
    public let count: Int

    /// Throws when `window` or `stride` is not positive or no window (plus its next token) fits.
    public init(tokens: [Int64], window: Int, stride: Int? = nil) throws {
        let stride = stride ?? window
        guard window > 0, stride > 0 else { throw DatasetError.invalidWindow(reason: "window \(window) and stride \(stride) must be positive") }
        guard tokens.count > window else {
            throw DatasetError.invalidWindow(reason: "\(tokens.count) tokens hold no window of \(window) plus the token after it")
        }
        self.tokens = tokens
        self.window = window
        self.stride = stride
        count = (tokens.count - window - 1) / stride + 1
    }

    public func example(at index: Int) -> Example {
        precondition(index >= 0 && index < count, "TokenWindowDataset: index \(index) out of 0..<\(count)")
        let start = index * stride
        return Example(["tokens": Tensor(int64s: tokens[start..<(start + window)]),
                        "targets": Tensor(int64s: tokens[(start + 1)..<(start + window + 1)])])
    }
}

/// A view of some examples of a base data set, by index.
public struct Subset<Base: Dataset>: Dataset {
    /// The underlying data set.
    public let base: Base
    /// Indices into `base`, in the order this subset presents them.
    public let indices: [Int]

    /// The examples of `base` at `indices`.
    public init(_ base: Base, indices: [Int]) {
        precondition(indices.allSatisfy { $0 >= 0 && $0 < base.count }, "Subset: an index is out of 0..<\(base.count)")
        self.base = base
        self.indices = indices
    }

    public var count: Int { indices.count }
    public func example(at index: Int) -> Example { base.example(at: indices[index]) }
}

/// Train, validation and test parts of one data set.
public struct DatasetSplits<Base: Dataset>: Sendable {
    /// Training examples.
    public let train: Subset<Base>
    /// Validation examples.
    public let validation: Subset<Base>
    /// Test examples.
    public let test: Subset<Base>
}

extension Dataset {
    /// Deterministic split: the indices are permuted by `seed`, then cut into parts of
    /// `validationFraction` and `testFraction` (rounded down), the rest for training.
    public func split(validationFraction: Double, testFraction: Double, seed: UInt64) -> DatasetSplits<Self> {
        precondition(validationFraction >= 0 && testFraction >= 0 && validationFraction + testFraction <= 1,
                     "split: fractions \(validationFraction) + \(testFraction) must lie in [0, 1]")
        var rng = RandomGenerator(seed: seed)
        let order = rng.permutation(count)
        let validationCount = Int(Double(count) * validationFraction)
        let testCount = Int(Double(count) * testFraction)
        let trainCount = count - validationCount - testCount
        return DatasetSplits(train: Subset(self, indices: Array(order[0..<trainCount])),
                             validation: Subset(self, indices: Array(order[trainCount..<(trainCount + validationCount)])),
                             test: Subset(self, indices: Array(order[(trainCount + validationCount)...])))
    }
}

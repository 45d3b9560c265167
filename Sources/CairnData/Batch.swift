import CairnTensor
import OrderedCollections

/// One example: named tensors of any shape and dtype, such as `["features": [8] F32, "target": [1] F32]`
/// or `["tokens": [T] I64, "targets": [T] I64]`.
public struct Example: @unchecked Sendable {
    /// The example's tensors by name, in the order the data set gives them.
    public var fields: OrderedDictionary<String, Tensor>

    /// An example of `fields`, in their order (a dictionary literal keeps its order here).
    public init(_ fields: OrderedDictionary<String, Tensor>) {
        self.fields = fields
    }

    /// The tensor named `key`, if any.
    public subscript(key: String) -> Tensor? { fields[key] }
}

/// A batch as the data produced it: named tensors (what the default collate makes by stacking
/// examples), or any value a custom collate makes, which the steps take back with ``value(as:)``.
public struct Batch: @unchecked Sendable {
    /// Named tensors, each with the batch on axis 0 (empty for a batch holding only a ``value``).
    public let tensors: OrderedDictionary<String, Tensor>
    /// What a custom collate made, if it made something other than named tensors.
    public let value: (any Sendable)?
    /// How many examples the batch holds (the weight of its metrics in epoch means).
    public let size: Int

    /// A batch of named tensors; `size` defaults to the first tensor's axis 0.
    public init(_ tensors: OrderedDictionary<String, Tensor>, size: Int? = nil) {
        self.tensors = tensors
        value = nil
        self.size = size ?? tensors.values.first?.shape.first ?? 1
    }

    /// A batch holding a value of the user's own type, made by a custom collate.
    public init(value: any Sendable, size: Int, tensors: OrderedDictionary<String, Tensor> = [:]) {
        self.tensors = tensors
        self.value = value
        self.size = size
    }

    /// The tensor named `key`, if any.
    public subscript(key: String) -> Tensor? { tensors[key] }

    /// The tensor named `key`, or an error naming the keys the batch has.
    public func tensor(_ key: String) throws -> Tensor {
        guard let tensor = tensors[key] else { throw BatchError.missingKey(key, available: Array(tensors.keys)) }
        return tensor
    }

    /// The custom collate's value as `type`, or an error saying what the batch holds instead.
    public func value<T>(as type: T.Type) throws -> T {
        guard let typed = value as? T else {
            throw BatchError.wrongValueType(expected: "\(T.self)", actual: value.map { "\(Swift.type(of: $0))" } ?? "named tensors only")
        }
        return typed
    }
}

/// Why a batch could not be read the way a step asked.
public enum BatchError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The step asked for a tensor the batch does not have.
    case missingKey(String, available: [String])
    /// The step asked for a value of another type than the collate made.
    case wrongValueType(expected: String, actual: String)

    public var description: String {
        switch self {
        case let .missingKey(key, available): "batch has no tensor '\(key)' (it has \(available.map { "'\($0)'" }.joined(separator: ", ")))"
        case let .wrongValueType(expected, actual): "batch holds \(actual), not \(expected)"
        }
    }
}

/// Turns the examples at some indices into one batch.
public typealias Collate = @Sendable (_ examples: [Example], _ indices: [Int]) throws -> Batch

/// Why the default collate could not stack some examples; each names the example and key.
public enum CollateError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An example lacks a key the batch's first example has.
    case missingKey(example: Int, key: String)
    /// An example has a key the batch's first example lacks.
    case unexpectedKey(example: Int, key: String)
    /// An example's tensor has another shape than the first example's.
    case shapeMismatch(example: Int, key: String, expected: [Int], actual: [Int])
    /// An example's tensor has another dtype than the first example's.
    case dtypeMismatch(example: Int, key: String, expected: DType, actual: DType)
    /// The batch holds no examples.
    case empty

    public var description: String {
        switch self {
        case let .missingKey(example, key): "example \(example) has no '\(key)', which the batch's first example has"
        case let .unexpectedKey(example, key): "example \(example) has '\(key)', which the batch's first example lacks"
        case let .shapeMismatch(example, key, expected, actual):
            "example \(example): '\(key)' has shape \(actual), the batch's first example has \(expected)"
        case let .dtypeMismatch(example, key, expected, actual):
            "example \(example): '\(key)' is \(actual.rawValue), the batch's first example's is \(expected.rawValue)"
        case .empty: "no examples to collate"
        }
    }
}

/// Collates that come with Cairn.
public enum Collation {
    /// Stacks each key's tensors on a new axis 0, whatever their shape and dtype (dtype kept
    /// exactly); every example must have the first example's keys, shapes and dtypes. Errors
    /// name the example by its data-set index.
    public static func stack(_ examples: [Example], indices: [Int]) throws -> Batch {
        guard let first = examples.first else { throw CollateError.empty }
        var stacked = OrderedDictionary<String, Tensor>()
        for (position, example) in examples.enumerated() {
            let index = position < indices.count ? indices[position] : position
            if let extra = example.fields.keys.first(where: { first.fields[$0] == nil }) {
                throw CollateError.unexpectedKey(example: index, key: extra)
            }
            for (key, reference) in first.fields {
                guard let tensor = example.fields[key] else { throw CollateError.missingKey(example: index, key: key) }
                guard tensor.dtype == reference.dtype else {
                    throw CollateError.dtypeMismatch(example: index, key: key, expected: reference.dtype, actual: tensor.dtype)
                }
                guard tensor.shape == reference.shape else {
                    throw CollateError.shapeMismatch(example: index, key: key, expected: reference.shape, actual: tensor.shape)
                }
            }
        }
        for key in first.fields.keys {
            stacked[key] = Tensor.stackRows(examples.compactMap { $0.fields[key] })
        }
        return Batch(stacked, size: examples.count)
    }
}

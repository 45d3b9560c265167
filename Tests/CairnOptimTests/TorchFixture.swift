import CairnNN
import CairnTensor
import Foundation
import OrderedCollections

/// Any JSON value of Fixtures/torch-nn.json, decoded without losing bool/number distinctions.
enum JSONValue: Decodable {
    case bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue]), null

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let flag = try? container.decode(Bool.self) { self = .bool(flag) }
        else if let number = try? container.decode(Double.self) { self = .number(number) }
        else if let text = try? container.decode(String.self) { self = .string(text) }
        else if let list = try? container.decode([JSONValue].self) { self = .array(list) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue {
        if case let .object(entries) = self, let value = entries[key] { return value }
        return .null
    }

    var array: [JSONValue] { if case let .array(list) = self { return list } else { return [] } }
    var number: Double { if case let .number(value) = self { return value } else { return .nan } }
    var string: String { if case let .string(text) = self { return text } else { return "" } }
    var isTrue: Bool { if case .bool(true) = self { return true } else { return false } }
    var floats: [Float] { array.map { Float($0.number) } }
    var ints: [Int] { array.map { Int($0.number) } }

    /// A `{"dtype", "shape", "values"}` entry as a tensor.
    var tensor: Tensor {
        let shape = self["shape"].ints
        if self["dtype"].string == "I64" { return Tensor(indices: self["values"].ints, shape: shape) }
        return Tensor(shape: shape, scalars: self["values"].floats)
    }

    /// A torch `state_dict` object as an ordered dictionary (JSON objects lose order, so sort like torch does not matter for loading).
    var stateDict: OrderedDictionary<String, Tensor> {
        guard case let .object(entries) = self else { return [:] }
        return OrderedDictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.value.tensor) })
    }

    /// A torch option as a state value (numbers become doubles, pairs lists of doubles).
    var stateValue: StateValue {
        switch self {
        case let .bool(flag): .bool(flag)
        case let .number(value): .double(value)
        case let .array(list): .list(list.map(\.stateValue))
        case let .string(text): .string(text)
        case .object, .null: .null
        }
    }
}

enum TorchFixture {
    static let root: JSONValue = load("torch-nn.json")
    /// Fixtures/torch-sequence.json, from tools/torch-reference/make_sequence_fixtures.py.
    static let sequence: JSONValue = load("torch-sequence.json")

    static func load(_ name: String) -> JSONValue {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Fixtures/\(name)").standardized
        guard let data = try? Data(contentsOf: path), let value = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            return .null
        }
        return value
    }

    /// The largest `|actual - expected| / (atol + rtol·|expected|)`; ≤ 1 means within tolerance.
    static func toleranceRatio(_ actual: [Float], _ expected: [Float], atol: Float = 1e-5, rtol: Float = 1e-5) -> Float {
        guard actual.count == expected.count else { return .infinity }
        return zip(actual, expected).map { abs($0 - $1) / (atol + rtol * abs($1)) }.max() ?? 0
    }
}

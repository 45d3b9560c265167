import Foundation

/// `Fixtures/torch-ops.json`, written by `tools/torch-reference/make_op_fixtures.py`.
struct TorchReferenceFixture: Decodable {
    let torchVersion: String
    let cases: [TorchReferenceCase]

    enum CodingKeys: String, CodingKey {
        case torchVersion = "torch_version"
        case cases
    }

    static func load() throws -> TorchReferenceFixture {
        let packageRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let url = packageRoot.appendingPathComponent("Fixtures/torch-ops.json")
        return try JSONDecoder().decode(TorchReferenceFixture.self, from: Data(contentsOf: url))
    }
}

/// One op applied to fixed inputs, with PyTorch's output and input gradients.
struct TorchReferenceCase: Decodable, CustomStringConvertible {
    let name: String
    let op: String
    let inputs: [ReferenceTensor]
    let args: [String: ReferenceArgument]
    let output: ReferenceTensor
    /// The cotangent: `grads[i]` is d sum(output * upstream) / d inputs[i].
    let upstream: ReferenceTensor?
    let grads: [ReferenceTensor?]?

    var description: String { name }

    func int(_ key: String) -> Int? { args[key]?.intValue }
    func ints(_ key: String) -> [Int]? { args[key]?.intArray }
    func double(_ key: String) -> Double? { args[key]?.doubleValue }
    func bool(_ key: String) -> Bool? { args[key]?.boolValue }
    func string(_ key: String) -> String? { args[key]?.stringValue }
}

/// A tensor as the fixture writes it: flat row-major numbers (BOOL as 0/1).
struct ReferenceTensor: Decodable {
    let shape: [Int]
    let dtype: String?
    let data: [Double]

    var floats: [Float] { data.map { Float($0) } }
}

/// An op argument: the fixture uses ints, floats, strings, bools, null and int lists.
enum ReferenceArgument: Decodable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case list([ReferenceArgument])
    case null

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else {
            self = .list(try container.decode([ReferenceArgument].self))
        }
    }

    var doubleValue: Double? { if case .number(let value) = self { value } else { nil } }
    var intValue: Int? { doubleValue.map { Int($0) } }
    var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }
    var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    /// An int list, or a single int read as a one-element list (as torch's `dim` args allow).
    var intArray: [Int]? {
        switch self {
        case .list(let items): items.compactMap(\.intValue)
        case .number: intValue.map { [$0] }
        default: nil
        }
    }
}

import Foundation

/// One identifying argument of a callback's state key, written as JSON.
public enum StateKeyArgument: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    /// JSON `null`, as Lightning writes an unset monitor.
    case null

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }

    /// The JSON spelling: strings quoted and escaped, numbers and Booleans bare.
    public var json: String {
        switch self {
        case let .string(text): Self.quoted(text)
        case let .int(number): String(number)
        case let .double(number): number.isFinite ? "\(number)" : Self.quoted("\(number)")
        case let .bool(flag): flag ? "true" : "false"
        case .null: "null"
        }
    }

    /// `typeName<"k":v,...>`.
    static func key(typeName: String, arguments: [(key: String, value: StateKeyArgument)]) -> String {
        let pairs = arguments.map { "\(quoted($0.key)):\($0.value.json)" }
        return "\(typeName)<\(pairs.joined(separator: ","))>"
    }

    /// JSON string syntax from Foundation's encoder (slashes left as they are).
    static func quoted(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        // Encoding a String cannot fail; the fallback keeps the key readable regardless.
        guard let data = try? encoder.encode(text), let json = String(data: data, encoding: .utf8) else { return "\"\(text)\"" }
        return json
    }
}

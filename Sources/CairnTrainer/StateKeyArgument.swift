import Foundation

/// One identifying argument of a callback's state key, written as JSON.
public enum StateKeyArgument: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

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
        }
    }

    /// `typeName<"k":v,...>`.
    static func key(typeName: String, arguments: [(key: String, value: StateKeyArgument)]) -> String {
        let pairs = arguments.map { "\(quoted($0.key)):\($0.value.json)" }
        return "\(typeName)<\(pairs.joined(separator: ","))>"
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

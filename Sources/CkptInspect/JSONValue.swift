import CairnCheckpoint
import Foundation

/// A JSON document with keys in insertion order, so output is stable for scripts.
enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// Non-finite numbers, which JSON lacks, are written as the strings "NaN", "Infinity", "-Infinity".
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.rendered(pretty: false) == rhs.rendered(pretty: false) }

    static func int(_ value: Int) -> JSONValue { .int(Int64(value)) }
    static func optional(_ value: Double?) -> JSONValue { value.map(JSONValue.double) ?? .null }

    /// The document as text: indented by two spaces, or on one line.
    func rendered(pretty: Bool = true) -> String {
        var output = ""
        write(to: &output, indent: pretty ? 0 : nil)
        return output
    }

    private func write(to output: inout String, indent: Int?) {
        switch self {
        case .null: output += "null"
        case let .bool(value): output += value ? "true" : "false"
        case let .int(value): output += String(value)
        case let .double(value): output += Self.number(value)
        case let .string(value): output += JSONText.quoted(value)
        case let .array(items):
            writeContainer(items.map { (nil, $0) }, open: "[", close: "]", to: &output, indent: indent)
        case let .object(entries):
            writeContainer(entries.map { ($0.0, $0.1) }, open: "{", close: "}", to: &output, indent: indent)
        }
    }

    private func writeContainer(_ items: [(String?, JSONValue)], open: String, close: String, to output: inout String, indent: Int?) {
        guard !items.isEmpty else { output += open + close; return }
        // Arrays of scalars stay on one line: tensor data and shapes would otherwise take a line per number.
        let flat = indent == nil || items.allSatisfy { $0.0 == nil && !$0.1.isContainer }
        output += open
        for (index, (key, value)) in items.enumerated() {
            if index > 0 { output += flat && indent != nil ? ", " : "," }
            if !flat, let indent { output += "\n" + String(repeating: " ", count: indent + 2) }
            if let key { output += JSONText.quoted(key) + (indent == nil ? ":" : ": ") }
            value.write(to: &output, indent: flat ? nil : indent.map { $0 + 2 })
        }
        if !flat, let indent { output += "\n" + String(repeating: " ", count: indent) }
        output += close
    }

    private var isContainer: Bool {
        switch self {
        case .array, .object: return true
        default: return false
        }
    }

    static func number(_ value: Double) -> String {
        if value.isNaN { return "\"NaN\"" }
        if value.isInfinite { return value > 0 ? "\"Infinity\"" : "\"-Infinity\"" }
        if value == value.rounded(), abs(value) < 1e15 { return String(format: "%.1f", value) }
        return "\(value)"
    }

}

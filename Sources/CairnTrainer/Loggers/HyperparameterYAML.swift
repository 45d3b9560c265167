import CairnCheckpoint
import Foundation
import OrderedCollections

/// Writes a hyper-parameter tree as block-style YAML (what Lightning's `hparams.yaml` holds),
/// spelled so that YAML 1.1 readers such as PyYAML read back the same types.
enum HyperparameterYAML {
    /// The whole document; a top-level scalar or list becomes the value of a `value` key.
    static func document(_ tree: CheckpointValue) -> String {
        var lines: [String] = []
        switch tree {
        case let .dictionary(entries) where !entries.isEmpty:
            append(entries, indent: "", to: &lines)
        case .dictionary:
            lines.append("{}")
        default:
            append(["value": tree], indent: "", to: &lines)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func append(_ entries: OrderedDictionary<CheckpointKey, CheckpointValue>, indent: String, to lines: inout [String]) {
        for (key, value) in entries {
            let keyText: String = if case let .int(number) = key { String(number) } else { scalarString(key.token) }
            if let inline = inlineText(value) {
                lines.append("\(indent)\(keyText): \(inline)")
            } else {
                lines.append("\(indent)\(keyText):")
                appendBlock(value, indent: indent + "  ", to: &lines)
            }
        }
    }

    private static func appendBlock(_ value: CheckpointValue, indent: String, to lines: inout [String]) {
        switch value {
        case let .dictionary(entries):
            append(entries, indent: indent, to: &lines)
        case let .list(items):
            for item in items {
                if let inline = inlineText(item) {
                    lines.append("\(indent)- \(inline)")
                } else {
                    // A nested block starts on the dash's line, indented past it.
                    var nested: [String] = []
                    appendBlock(item, indent: indent + "  ", to: &nested)
                    if let first = nested.first {
                        lines.append("\(indent)- " + first.dropFirst(indent.count + 2))
                        lines.append(contentsOf: nested.dropFirst())
                    }
                }
            }
        default:
            if let inline = inlineText(value) { lines.append(indent + inline) }
        }
    }

    /// The value on one line, or nil for a non-empty dictionary or list.
    private static func inlineText(_ value: CheckpointValue) -> String? {
        switch value {
        case let .dictionary(entries): return entries.isEmpty ? "{}" : nil
        case let .list(items): return items.isEmpty ? "[]" : nil
        case let .int(number): return String(number)
        case let .double(number): return floatText(number)
        case let .bool(flag): return flag ? "true" : "false"
        case .null: return "null"
        case let .string(text): return scalarString(text)
        case let .bytes(bytes): return "!!binary \(Data(bytes).base64EncodedString())"
        case let .tensor(tensor): return scalarString("tensor(\(tensor.dtype), shape \(tensor.shape))")
        }
    }

    /// The value in YAML's one-line flow style (`[8, 4]`, `{lr: 0.1}`).
    static func flowText(_ value: CheckpointValue) -> String {
        switch value {
        case let .list(items): return "[" + items.map(flowText).joined(separator: ", ") + "]"
        case let .dictionary(entries):
            return "{" + entries.map { "\(scalarString($0.key.token)): \(flowText($0.value))" }.joined(separator: ", ") + "}"
        default: return inlineText(value) ?? ""
        }
    }

    /// YAML 1.1 floats need a dot (`1.0e-05`, not `1e-05`) and spell the specials `.inf`, `.nan`.
    static func floatText(_ number: Double) -> String {
        if number.isNaN { return ".nan" }
        if number.isInfinite { return number < 0 ? "-.inf" : ".inf" }
        let text = "\(number)"
        guard !text.contains("."), let exponent = text.firstIndex(of: "e") else { return text }
        return text[..<exponent] + ".0" + text[exponent...]
    }

    private static let reservedWords: Set<String> = ["true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"]

    /// Plain when nothing in the text could be read as another type or as syntax; JSON-quoted
    /// (a subset of YAML's double-quoted style) otherwise.
    static func scalarString(_ text: String) -> String {
        let plainCharacters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./ ")
        let isPlain = !text.isEmpty
            && text.unicodeScalars.allSatisfy { plainCharacters.contains($0) }
            && text.first.map { $0.isLetter || $0 == "_" } == true
            && text.last != " "
            && !reservedWords.contains(text.lowercased())
        return isPlain ? text : StateKeyArgument.quoted(text)
    }
}

import Foundation

/// Python's `repr` of the plain hashable values a pickle uses as dict keys, so that such keys
/// read (and are addressed by JSON Pointer) as Python prints them.
enum PythonRepr {
    /// The repr of `object`, or nil for what cannot be a plain-data dict key (lists, dicts, tensors).
    static func of(_ object: PickleObject, depth: Int = 0) -> String? {
        guard depth < 64 else { return nil }
        switch object {
        case .none: return "None"
        case let .bool(value): return value ? "True" : "False"
        case let .int(value): return String(value)
        case let .bigInt(digits): return digits
        case let .float(value): return float(value)
        case let .string(text): return string(text)
        case let .bytes(bytes): return "b" + quoted(bytes.map { byte in
            switch byte {
            case UInt8(ascii: "\\"): return "\\\\"
            case UInt8(ascii: "\n"): return "\\n"
            case UInt8(ascii: "\t"): return "\\t"
            case UInt8(ascii: "\r"): return "\\r"
            case 0x20..<0x7F: return String(UnicodeScalar(byte))
            default: return String(format: "\\x%02x", byte)
            }
        }, raw: bytes.map { Character(UnicodeScalar($0)) })
        case let .tuple(items):
            let parts = items.compactMap { of($0, depth: depth + 1) }
            guard parts.count == items.count else { return nil }
            return "(" + parts.joined(separator: ", ") + (parts.count == 1 ? ",)" : ")")
        case .list, .dict, .global, .storage, .tensor:
            return nil
        }
    }

    /// `repr(float)`: the shortest round-tripping digits, positional from 1e-4 up to 1e16 and with
    /// an exponent (`1e+16`, `1e-05`) outside that range, as Python writes them.
    static func float(_ value: Double) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        let swift = "\(value)"  // Swift also prints the shortest round-tripping digits
        let magnitude = abs(value)
        let positional = magnitude == 0 || (magnitude >= 1e-4 && magnitude < 1e16)
        // Without an exponent Swift's text is positional, as Python's is for these magnitudes.
        guard let e = swift.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return swift }
        let mantissa = String(swift[..<e]), exponentText = swift[swift.index(after: e)...]
        guard let exponent = Int(exponentText) else { return swift }
        if !positional {
            // Python pads the exponent to two digits and always signs it.
            let sign = exponent < 0 ? "-" : "+"
            let digits = String(abs(exponent))
            let body = mantissa.hasSuffix(".0") ? String(mantissa.dropLast(2)) : mantissa
            return body + "e" + sign + (digits.count < 2 ? "0" + digits : digits)
        }
        // Swift chose an exponent where Python writes the number out: shift the point by hand.
        let negative = mantissa.hasPrefix("-")
        let unsigned = negative ? String(mantissa.dropFirst()) : mantissa
        let parts = unsigned.split(separator: ".", omittingEmptySubsequences: false)
        var digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
        let point = parts[0].count + exponent
        while digits.count > 1, digits.hasSuffix("0"), digits.count > point { digits.removeLast() }
        let text: String
        if point <= 0 {
            text = "0." + String(repeating: "0", count: -point) + digits
        } else if point >= digits.count {
            text = digits + String(repeating: "0", count: point - digits.count) + ".0"
        } else {
            text = String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
        }
        return (negative ? "-" : "") + text
    }

    /// `repr(str)`: single quotes unless the text holds one and no double quote, with backslash escapes.
    static func string(_ text: String) -> String {
        quoted(text.map { character -> String in
            switch character {
            case "\\": return "\\\\"
            case "\n": return "\\n"
            case "\t": return "\\t"
            case "\r": return "\\r"
            default: return String(character)
            }
        }, raw: Array(text))
    }

    private static func quoted(_ escaped: [String], raw: [Character]) -> String {
        let quote: Character = raw.contains("'") && !raw.contains("\"") ? "\"" : "'"
        let body = escaped.map { $0 == String(quote) ? "\\" + $0 : $0 }.joined()
        return String(quote) + body + String(quote)
    }
}

extension PickleObject {
    /// The Python kind of the object, for messages.
    var kindName: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .string: "str"
        case .bytes: "bytes"
        case .tuple: "tuple"
        case .list: "list"
        case .dict: "dict"
        case .global: "global"
        case .storage: "storage"
        case .tensor: "tensor"
        }
    }
}

import Foundation

/// JSON text written by hand where an encoder would reorder keys or reformat numbers
/// (safetensors headers, `ckpt-inspect --json`).
public enum JSONText {
    /// `text` as a JSON string literal (RFC 8259 §7), control characters escaped.
    public static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}

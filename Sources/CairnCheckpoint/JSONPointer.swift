/// An RFC 6901 JSON Pointer naming a node of a checkpoint tree, such as
/// `/optimizer_states/0/state/3/exp_avg`; `~0` escapes `~` and `~1` escapes `/`.
///
/// See [RFC 6901](https://www.rfc-editor.org/rfc/rfc6901).
public struct JSONPointer: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The unescaped reference tokens, outermost first; empty for the root.
    public var tokens: [String]

    /// The pointer to the whole tree.
    public static let root = JSONPointer(tokens: [])

    public init(tokens: [String]) { self.tokens = tokens }

    public init(arrayLiteral elements: String...) { self.tokens = elements }

    /// Parses the textual form, throwing ``CheckpointError/malformedPointer(_:reason:)``.
    public init(parsing text: String) throws {
        if text.isEmpty {
            tokens = []
            return
        }
        guard text.first == "/" else {
            throw CheckpointError.malformedPointer(text, reason: "must be empty or start with '/'")
        }
        tokens = try text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map { raw in
            try Self.unescape(raw, in: text)
        }
    }

    private static func unescape(_ raw: Substring, in text: String) throws -> String {
        guard raw.contains("~") else { return String(raw) }
        var result = ""
        var iterator = raw.makeIterator()
        while let character = iterator.next() {
            guard character == "~" else {
                result.append(character)
                continue
            }
            switch iterator.next() {
            case "0": result.append("~")
            case "1": result.append("/")
            default: throw CheckpointError.malformedPointer(text, reason: "'~' must be followed by '0' or '1'")
            }
        }
        return result
    }

    /// The pointer one level down.
    public func appending(_ token: String) -> JSONPointer {
        JSONPointer(tokens: tokens + [token])
    }

    /// The pointer one level down through a dictionary key or list index.
    public func appending(_ key: CheckpointKey) -> JSONPointer {
        appending(key.token)
    }

    /// The escaped textual form.
    public var description: String {
        var text = ""
        for token in tokens {
            text += "/"
            // Escaping is rare; checking first keeps saves of many small nodes cheap.
            if token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) {
                text += token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
            } else {
                text += token
            }
        }
        return text
    }
}

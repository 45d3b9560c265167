import Foundation

/// ModelCheckpoint's file-name templates: `{epoch}-{step}` becomes `epoch=2-step=30`, and
/// `{val_loss:.2f}` becomes `val_loss=0.12` (Python format specs `.Nf`, `d`, `0Nd`).
enum CheckpointFilename {
    static let defaultTemplate = "{epoch}-{step}"
    static let lastTemplate = "last"

    /// Fills every `{name}` or `{name:spec}` from `values` (a missing metric reads 0, as in
    /// Lightning); with `insertNames` each field is written `name=value`.
    static func format(_ template: String, _ values: [String: Double], insertNames: Bool = true) -> String {
        var output = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            output += rest[..<open]
            guard let close = rest[open...].firstIndex(of: "}") else {
                output += rest[open...]
                return output
            }
            let field = rest[rest.index(after: open)..<close]
            let parts = field.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let spec = parts.count > 1 ? String(parts[1]) : ""
            let value = values[name] ?? 0
            output += (insertNames ? "\(name)=" : "") + render(value, spec: spec, integral: name == "epoch" || name == "step")
            rest = rest[rest.index(after: close)...]
        }
        output += rest
        return output
    }

    private static func render(_ value: Double, spec: String, integral: Bool) -> String {
        if spec.hasSuffix("f"), let digits = Int(spec.dropFirst(spec.hasPrefix(".") ? 1 : 0).dropLast()) {
            return String(format: "%.\(digits)f", value)
        }
        if spec.hasSuffix("d"), value.isFinite, abs(value) < 9e15 {
            let width = spec.dropLast()
            return String(format: "%\(width)lld", Int64(value))
        }
        if integral, value.isFinite, abs(value) < 9e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

import Foundation

/// ModelCheckpoint's file-name templates: `{epoch}-{step}` becomes `epoch=2-step=30`, and
/// `{val_loss:.2f}` becomes `val_loss=0.12` (Python format specs such as `.2f`, `03d`, `02.0f`, `.3e`).
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
            // A missing metric is Lightning's integer 0, so `{missing}` reads `missing=0`.
            let value = values[name] ?? 0
            let integral = name == "epoch" || name == "step" || values[name] == nil
            output += (insertNames ? "\(name)=" : "") + render(value, spec: spec, integral: integral)
            rest = rest[rest.index(after: close)...]
        }
        output += rest
        return output
    }

    /// Python's `[0][width][.precision](d|f|e|g)`, the part of the format mini-language names use.
    private static func render(_ value: Double, spec: String, integral: Bool) -> String {
        guard let type = spec.last, "dfeEgG".contains(type) else {
            if integral, value.isFinite, abs(value) < 9e15 { return String(Int64(value)) }
            return "\(value)"
        }
        let flags = spec.dropLast()
        guard flags.allSatisfy({ $0.isNumber || $0 == "." }), flags.filter({ $0 == "." }).count <= 1 else { return "\(value)" }
        if type == "d" {
            guard value.isFinite, abs(value) < 9e15, !flags.contains(".") else { return "\(value)" }
            return String(format: "%\(flags)lld", Int64(value))
        }
        return String(format: "%\(flags)\(type)", value)
    }
}

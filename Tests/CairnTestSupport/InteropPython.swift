import Foundation

/// The Python venv shared by the tests that round-trip files through real `torch`,
/// `safetensors` and `numpy`, made (once per machine) by `tools/python-interop/ensure-venv.sh`.
public enum InteropPython {
    /// What setting up the venv gave.
    public enum Availability: Sendable {
        /// The venv's interpreter, with every package importable.
        case ready(python: String)
        /// No python3 able to make a venv: the only reason to skip.
        case missing(reason: String)
        /// Python exists but the venv could not be made (e.g. pip failed): a test failure.
        case failed(reason: String)
    }

    /// `tools/python-interop/`, the scripts beside the venv maker.
    public static let scriptsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../tools/python-interop").standardized

    /// Set up on first use; `CAIRN_PYTHON` names an interpreter to use instead.
    public static let availability: Availability = {
        if let chosen = ProcessInfo.processInfo.environment["CAIRN_PYTHON"], !chosen.isEmpty {
            return .ready(python: chosen)
        }
        let script = BuiltProduct(url: scriptsDirectory.appendingPathComponent("ensure-venv.sh"))
        let result: BuiltProduct.Result
        do {
            result = try script.run([])
        } catch {
            return .failed(reason: "cannot run \(script.url.path): \(error)")
        }
        let python = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        switch result.status {
        case 0 where !python.isEmpty: return .ready(python: python)
        case 3: return .missing(reason: result.stderr.trimmingCharacters(in: .whitespacesAndNewlines))
        default: return .failed(reason: "\(script.url.path) exited with \(result.status): \(result.stderr)")
        }
    }()

    /// Whether tests needing Python should run (they fail, not skip, when setup broke).
    public static var isAvailable: Bool {
        if case .missing = availability { return false }
        return true
    }

    /// Why tests needing Python are skipped (a constant, so listing tests sets up nothing).
    public static let skipMessage =
        "skipped: no python3 with venv and ensurepip, which tools/python-interop/ensure-venv.sh needs"

    /// The interpreter, or a thrown error saying why setup failed.
    public static func interpreter() throws -> String {
        switch availability {
        case let .ready(python): return python
        case let .missing(reason), let .failed(reason): throw InteropPythonError(reason: reason)
        }
    }

    /// Runs `tools/python-interop/<script>` and parses its standard output as JSON.
    public static func runJSON(_ script: String, _ arguments: [String]) throws -> Any {
        let result = try run(script, arguments)
        guard result.status == 0 else {
            throw InteropPythonError(reason: "\(script) \(arguments.joined(separator: " ")) exited with \(result.status): \(result.stderr)")
        }
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// Runs `tools/python-interop/<script>` with the venv's interpreter.
    public static func run(_ script: String, _ arguments: [String]) throws -> BuiltProduct.Result {
        let python = BuiltProduct(url: URL(fileURLWithPath: try interpreter()))
        return try python.run([scriptsDirectory.appendingPathComponent(script).path] + arguments)
    }
}

/// The venv could not be set up, or a Python script failed; the reason holds its output.
public struct InteropPythonError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

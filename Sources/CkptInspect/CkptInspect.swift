import ArgumentParser
import CairnCheckpoint
import CairnInterop
import Foundation

/// `ckpt-inspect`: read-only inspection of Cairn checkpoint files.
@main
struct CkptInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt-inspect",
        abstract: "Inspect, compare and verify Cairn checkpoint files.",
        discussion: exitStatusText,
        version: cairnCheckpointEngineVersion,
        subcommands: [Show.self, Tree.self, Tensors.self, Get.self, Callbacks.self, Diff.self, Verify.self, SQL.self, List.self,
                      Convert.self])

    static let exitStatusText = """
        Exit status: 0 on success (diff: equal; verify: all good), 1 when diff finds differences or \
        verify finds damage, 2 on a usage or input error (a bad flag, a missing or unreadable file).
        """

    /// Like `diff(1)`, every failure exits 2 with one line on stderr, so a
    /// script can tell "different" (1) from "could not tell" (2).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let error as CheckpointError {
            failAndExit(error.description)
        } catch let error as InspectionError {
            failAndExit(error.description)
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }
            let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            failAndExit(message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message)
        }
        Foundation.exit(0)
    }

    static func failAndExit(_ message: String) -> Never {
        let line = message.replacingOccurrences(of: "\n", with: " ")
        FileHandle.standardError.write(Data("ckpt-inspect: \(line)\n".utf8))
        Foundation.exit(2)
    }
}

/// A failure the tool itself reports, naming the file it concerns.
struct InspectionError: Error, CustomStringConvertible {
    var file: String
    var message: String
    var description: String { "\(file): \(message)" }
}

/// Options every subcommand shares.
struct OutputOptions: ParsableArguments {
    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    @Flag(name: .customLong("no-color"), help: "Never colour the output (also when NO_COLOR is set or stdout is not a terminal).")
    var noColor = false

    var style: TextStyle {
        TextStyle(enabled: !noColor && ProcessInfo.processInfo.environment["NO_COLOR"] == nil && isatty(STDOUT_FILENO) == 1)
    }

    /// Prints a JSON document or the human text, whichever was asked for.
    func emit(json document: @autoclosure () throws -> JSONValue, text: (TextStyle) throws -> String) throws {
        if json {
            print(try document().rendered())
        } else {
            let output = try text(style)
            print(output, terminator: output.hasSuffix("\n") || output.isEmpty ? "" : "\n")
        }
    }
}

/// ANSI styling that is a no-op unless enabled.
struct TextStyle {
    var enabled: Bool

    private func wrap(_ text: String, _ code: String) -> String {
        enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
    func bold(_ text: String) -> String { wrap(text, "1") }
    func green(_ text: String) -> String { wrap(text, "32") }
    func red(_ text: String) -> String { wrap(text, "31") }
    func yellow(_ text: String) -> String { wrap(text, "33") }
    func dim(_ text: String) -> String { wrap(text, "2") }
}

/// Parses a JSON Pointer given on the command line, naming the file in the error.
func parsePointer(_ text: String, file: String) throws -> JSONPointer {
    do {
        return try JSONPointer(parsing: text)
    } catch let error as CheckpointError {
        throw InspectionError(file: file, message: error.description)
    }
}

/// The value at `pointer`, or an error naming the file and pointer.
func value(at pointer: JSONPointer, in tree: CheckpointValue, file: String) throws -> CheckpointValue {
    guard let found = tree[pointer] else { throw CheckpointError.noValue(file: file, path: pointer.description) }
    return found
}

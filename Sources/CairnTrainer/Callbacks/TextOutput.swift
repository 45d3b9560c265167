import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the printing callbacks (``ProgressBar``, ``ModelSummaryCallback``) write: standard
/// output, standard error, any file descriptor, or a closure for tests; knows whether it is a terminal.
public struct TextOutput: Sendable {
    /// Whether the text goes to a terminal, so a progress bar may redraw its line in place.
    public let isTerminal: Bool
    private let columnsProvider: @Sendable () -> Int?
    private let sink: @Sendable (String) -> Void

    /// An output writing through `write`; `columns` gives the terminal width when known.
    public init(isTerminal: Bool, columns: @escaping @Sendable () -> Int? = { nil },
                write: @escaping @Sendable (String) -> Void) {
        self.isTerminal = isTerminal
        columnsProvider = columns
        sink = write
    }

    /// The process's standard output (Lightning's progress bar writes there too).
    public static var standardOutput: TextOutput { fileDescriptor(STDOUT_FILENO) }
    /// The process's standard error.
    public static var standardError: TextOutput { fileDescriptor(STDERR_FILENO) }

    /// Writes to `descriptor` directly, after flushing C's buffered streams so the text keeps
    /// its place among lines printed with `print`.
    public static func fileDescriptor(_ descriptor: Int32) -> TextOutput {
        TextOutput(isTerminal: isatty(descriptor) == 1, columns: { terminalColumns(descriptor) }) { text in
            fflush(nil)
            var bytes = Array(text.utf8)[...]
            while !bytes.isEmpty {
                let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
                if written < 0 {
                    if errno == EINTR { continue }
                    return  // A closed or full output must not stop training.
                }
                bytes = bytes.dropFirst(written)
            }
        }
    }

    /// Writes to an open file handle (a pipe or a file in tests).
    public static func fileHandle(_ handle: FileHandle) -> TextOutput { fileDescriptor(handle.fileDescriptor) }

    /// Writes `text` as it is (no newline added).
    public func write(_ text: String) { sink(text) }

    /// The terminal's width in columns, or nil when unknown.
    public var columns: Int? { columnsProvider() }
}

/// The width of the terminal behind `descriptor`, from the kernel, then `$COLUMNS`.
private func terminalColumns(_ descriptor: Int32) -> Int? {
    var size = winsize()
    if ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
    return ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
}

import Foundation

/// An executable that `swift test` built next to the test binary, run as a real subprocess.
public struct BuiltProduct: Sendable {
    /// What a finished run printed and how it ended.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// The executable's location in the build products directory.
    public let url: URL

    /// The product called `name` in the directory holding the running tests, for any
    /// `--scratch-path`: `CAIRN_<NAME>` in the environment overrides it.
    public init(_ name: String) {
        let override = "CAIRN_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
        if let path = ProcessInfo.processInfo.environment[override] {
            url = URL(fileURLWithPath: path)
            return
        }
        var directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        // Where tests live in a bundle (macOS), climb out of it.
        while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        url = directory.appendingPathComponent(name)
    }

    /// Any executable file, run the same way (a script, an interpreter).
    public init(url: URL) {
        self.url = url
    }

    /// Whether the product was built.
    public var exists: Bool { FileManager.default.isExecutableFile(atPath: url.path) }

    /// A configured process, not yet started (for tests that signal it).
    public func process(_ arguments: [String], environment: [String: String] = [:],
                        currentDirectory: URL? = nil) -> Process {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        return process
    }

    /// Runs to the end and captures both streams; a run still going after `timeout` seconds
    /// is SIGKILLed (its status is then 9), so a child that blocks cannot stall the suite.
    public func run(_ arguments: [String], environment: [String: String] = [:],
                    currentDirectory: URL? = nil, timeout: TimeInterval? = nil) throws -> Result {
        let process = process(arguments, environment: environment, currentDirectory: currentDirectory)
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let pid = process.processIdentifier
        let killer = DispatchWorkItem { kill(pid, SIGKILL) }
        if let timeout { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer) }
        defer { killer.cancel() }
        // Drain stderr on another thread so neither pipe can fill up and stall the child.
        let errorReader = PipeDrain(err.fileHandleForReading)
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = errorReader.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// Reads a pipe to its end on a background thread.
private final class PipeDrain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

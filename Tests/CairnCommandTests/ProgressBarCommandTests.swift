import CairnTestSupport
import Foundation
import Testing

/// `cairn fit`'s progress bar and model summary, in a pipe and in a real terminal (tmux).
@Suite struct ProgressBarCommandTests {
    static let cairn = FitCommandTests.cairn
    static let digits = FitCommandTests.digits

    /// In a pipe: the summary table, then plain bar lines (one at half an epoch, one at its end).
    /// The flags switch both off, leaving EpochPrinter's lines.
    @Test func pipedFitPrintsSummaryAndPlainBarsUnlessSwitchedOff() throws {
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let shown = try Self.cairn.run(["fit", "--data", Self.digits, "--max-epochs", "1", "--default-root-dir", root.path])
        #expect(shown.status == 0, "\(shown.stderr)")
        let lines = shown.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("4 | 4    | Linear") && $0.hasSuffix("| [1, 10]") }, "\(shown.stdout)")
        #expect(lines.contains { $0.hasSuffix("Total params") })
        #expect(lines.filter { $0.hasPrefix("Epoch 1/1:") }.map { String($0.prefix(32)) }
                == ["Epoch 1/1:  50%|█████     | 10/2", "Epoch 1/1: 100%|██████████| 20/2"], "\(shown.stdout)")
        #expect(lines.contains { $0.hasPrefix("Testing: 100%") })
        #expect(!shown.stdout.contains("\u{1B}"))

        let quiet = try Self.cairn.run(["fit", "--data", Self.digits, "--max-epochs", "1", "--default-root-dir", root.path,
                                        "--no-progress-bar", "--no-model-summary"])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(!quiet.stdout.contains("Total params") && !quiet.stdout.contains("Epoch 1/1:"))
        #expect(quiet.stdout.contains("epoch 1/1  step"))
    }

    /// In a real terminal (a detached tmux session of 120×30): the bar redraws its line, so the
    /// screen ends with one finished line per epoch rather than a line per batch.
    @Test func terminalFitRedrawsOneLinePerEpoch() throws {
        guard let tmux = Self.executable("tmux") else {
            print("skipping terminalFitRedrawsOneLinePerEpoch: tmux is not installed")
            return
        }
        #expect(Self.cairn.exists, "cairn was not built at \(Self.cairn.url.path)")
        let root = try FitCommandTests.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        // A private tmux server, so the test neither sees nor touches anyone else's sessions.
        let socket = "cairn-test-\(UUID().uuidString.prefix(8))"
        func tmuxRun(_ arguments: [String], startsServer: Bool = false) throws -> String {
            let process = Process()
            process.executableURL = tmux
            process.arguments = ["-L", socket] + arguments
            // The server new-session starts holds on to descriptors Process watches, so that
            // call is neither piped nor waited for; the session is polled instead.
            let out = Pipe()
            process.standardOutput = startsServer ? FileHandle.nullDevice : out
            process.standardError = FileHandle.nullDevice
            try process.run()
            if startsServer { return "" }
            let data = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let command = [Self.cairn.url.path, "fit", "--data", Self.digits, "--max-epochs", "2", "--default-root-dir", root.path]
            .map { "'\($0)'" }.joined(separator: " ") + "; echo cairn-exit-$?; sleep 120"
        _ = try tmuxRun(["new-session", "-d", "-s", "fit", "-x", "120", "-y", "30", command], startsServer: true)
        defer { _ = try? tmuxRun(["kill-server"]) }

        var screen = ""
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            screen = try tmuxRun(["capture-pane", "-p", "-t", "fit", "-S", "-200"])
            if screen.contains("cairn-exit-") { break }
        }
        #expect(screen.contains("cairn-exit-0"), "\(screen)")
        let lines = screen.split(separator: "\n").map(String.init)
        let epochLines = lines.filter { $0.hasPrefix("Epoch ") }
        #expect(epochLines.count == 2, "\(screen)")
        #expect(epochLines.first?.hasPrefix("Epoch 1/2: 100%|██████████| 20/20 [") == true, "\(screen)")
        #expect(epochLines.last?.hasPrefix("Epoch 2/2: 100%|██████████| 20/20 [") == true, "\(screen)")
        #expect(epochLines.allSatisfy { $0.contains("val_loss=") && $0.count < 120 })
        #expect(!screen.contains("Sanity Checking"))
        #expect(lines.count < 30, "\(screen)")
    }

    /// The first executable called `name` on `$PATH`.
    static func executable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}

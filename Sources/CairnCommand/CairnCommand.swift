import ArgumentParser
import Cairn
import Foundation

/// `cairn`: trains and evaluates Cairn's bundled models from the command line.
@main
struct CairnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "Train Cairn's bundled models, with checkpoints in SQLite.",
        discussion: exitStatusText,
        version: cairnCheckpointEngineVersion,
        subcommands: [Fit.self, Validate.self, Test.self, Predict.self, Generate.self],
        defaultSubcommand: Fit.self
    )

    static let exitStatusText = """
        Exit status: 0 on success, 2 on a usage or input error (a bad flag, an unreadable file), \
        130 when interrupted by Ctrl-C (checkpoints written so far are intact).
        """

    /// ArgumentParser exits 64 on a usage error; both of Cairn's tools exit 2 there, as
    /// `ckpt-inspect` and most Unix tools do.
    static func main() {
        AllocatorTuning.keepFreedMemoryForReuse()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(2)
        }
    }
}

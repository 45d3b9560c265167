import ArgumentParser

/// `cairn`: trains and evaluates Cairn's bundled models from the command line.
@main
struct CairnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cairn",
        abstract: "Train Cairn's bundled models, with checkpoints in SQLite.",
        subcommands: [Fit.self, Validate.self, Test.self, Predict.self],
        defaultSubcommand: Fit.self
    )
}

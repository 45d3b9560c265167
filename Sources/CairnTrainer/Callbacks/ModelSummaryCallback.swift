import CairnNN
import CairnTensor
import Foundation

/// Lightning's ModelSummary callback (registered as `ModelSummary`): at fit start prints a table
/// of the module's submodules down to ``maxDepth`` with their type, parameter count and mode,
/// their output shapes when the module has an ``TrainingModule/exampleInput``, and the totals.
public final class ModelSummaryCallback: Callback, @unchecked Sendable {
    /// How deep the table goes: 1 lists the direct submodules, -1 every level, 0 prints nothing.
    public let maxDepth: Int
    /// Where the table is written.
    public let output: TextOutput
    /// Stay silent unless ``output`` is a terminal (the trainer's own summary does).
    public let onlyOnTerminal: Bool

    /// A summary printed to `output` at fit start.
    public init(maxDepth: Int = 1, output: TextOutput = .standardOutput, onlyOnTerminal: Bool = false) {
        precondition(maxDepth >= -1, "ModelSummary: maxDepth \(maxDepth) must be -1 (all levels) or more")
        self.maxDepth = maxDepth
        self.output = output
        self.onlyOnTerminal = onlyOnTerminal
        super.init()
    }

    override public func onFitStart(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard maxDepth != 0, !onlyOnTerminal || output.isTerminal else { return }
        output.write(Self.table(for: module, maxDepth: maxDepth) + "\n")
    }

    /// The summary table. The example input runs in evaluation mode (then the mode is put back)
    /// so dropout draws no random numbers and training is the same with or without a summary.
    public static func table(for module: TrainingModule, maxDepth: Int = 1) -> String {
        let modes = Dictionary(module.namedModules().map { ($0.name, $0.module.isTraining) }) { first, _ in first }
        let wasTraining = module.isTraining
        module.eval()
        let summary = ModelSummary(module, sampleInput: module.exampleInput)
        module.train(wasTraining)

        let shown = summary.rows.filter { row in
            !row.name.isEmpty && (maxDepth < 0 || row.name.split(separator: ".").count <= maxDepth)
        }
        let showsShapes = module.exampleInput != nil
        var header = ["", "Name", "Type", "Params", "Mode"]
        if showsShapes { header.append("Out sizes") }
        let body: [[String]] = shown.enumerated().map { index, row in
            var cells = [String(index), row.name, row.type, humanReadableCount(row.parameterCount),
                         modes[row.name] == false ? "eval" : "train"]
            if showsShapes { cells.append(row.outputShape.map { "\($0)" } ?? "?") }
            return cells
        }
        let widths = header.indices.map { column in ([header] + body).map { $0[column].count }.max() ?? 0 }
        func format(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) }
                .joined(separator: " | ").replacingOccurrences(of: " +$", with: "", options: .regularExpression)
        }
        let headerLine = format(header)
        let rule = String(repeating: "-", count: ([headerLine] + body.map(format)).map(\.count).max() ?? 0)
        var lines = [headerLine, rule] + body.map(format) + [rule]
        let nonTrainable = summary.totalParameters - summary.trainableParameters
        func footer(_ value: String, _ label: String) -> String { value.padding(toLength: 10, withPad: " ", startingAt: 0) + label }
        lines.append(footer(humanReadableCount(summary.trainableParameters), "Trainable params"))
        lines.append(footer(humanReadableCount(nonTrainable), "Non-trainable params"))
        lines.append(footer(humanReadableCount(summary.totalParameters), "Total params"))
        lines.append(footer(String(format: "%.3f", Double(summary.sizeInBytes) / 1e6), "Total estimated model params size (MB)"))
        return lines.joined(separator: "\n")
    }

    /// `58`, `1.2 K`, `3.4 M`, … as Lightning prints parameter counts.
    static func humanReadableCount(_ count: Int) -> String {
        guard count >= 1000 else { return String(count) }
        let labels = ["K", "M", "B", "T"]
        var value = Double(count)
        var index = -1
        while value >= 1000, index < labels.count - 1 {
            value /= 1000
            index += 1
        }
        return String(format: "%.1f", value) + " " + labels[index]
    }
}

extension ModelSummaryCallback: RegistrableCallback {
    public static var registryName: String { "ModelSummary" }

    public static func make(from arguments: inout CallbackArguments) throws -> Callback {
        let depth = try arguments.int("max_depth") ?? 1
        guard depth >= -1 else {
            throw CallbackSpecError.badValue(callback: registryName, key: "max_depth", value: "\(depth)", expected: "depth of -1 or more")
        }
        return ModelSummaryCallback(maxDepth: depth)
    }
}

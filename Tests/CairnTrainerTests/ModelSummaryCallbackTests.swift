import CairnData
import CairnNN
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

@Suite struct ModelSummaryCallbackTests {
    @Test func tableListsSubmodulesShapesAndTotals() throws {
        let module = BarClassifier(seed: 2)
        let table = ModelSummaryCallback.table(for: module)
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("  | Name"), "\(table)")
        #expect(lines[0].hasSuffix("| Out sizes"))
        #expect(lines[2].hasPrefix("0 | hidden  | Linear  | 32     | train | [1, 8]"), "\(table)")
        #expect(lines[3].hasPrefix("1 | dropout | Dropout | 0      | train | [1, 8]"), "\(table)")
        #expect(lines[4].hasPrefix("2 | output  | Linear  | 18     | train | [1, 2]"), "\(table)")
        #expect(lines.contains("50        Trainable params"))
        #expect(lines.contains("0         Non-trainable params"))
        #expect(lines.contains("50        Total params"))
        #expect(lines.contains("0.000     Total estimated model params size (MB)"))
        // The example input ran in evaluation mode and the mode is back.
        #expect(module.isTraining && module.dropout.isTraining)
    }

    @Test func depthAndMissingExampleInput() {
        let plain = TinyClassifier(seed: 2)
        let table = ModelSummaryCallback.table(for: plain, maxDepth: -1)
        #expect(!table.contains("Out sizes"))
        #expect(table.contains("| hidden"))
        #expect(ModelSummaryCallback.humanReadableCount(1234) == "1.2 K")
        #expect(ModelSummaryCallback.humanReadableCount(5_600_000) == "5.6 M")
        #expect(ModelSummaryCallback.humanReadableCount(999) == "999")
    }

    /// Printed once, at fit start, and training is unchanged by the summary's forward pass.
    @Test func printsOnceAtFitStartWithoutChangingTraining() throws {
        let collector = TextCollector()
        let summarized = BarClassifier(seed: 5)
        try Trainer(quietOptions(maxEpochs: 2), callbacks: [ModelSummaryCallback(output: collector.output(isTerminal: false))])
            .fit(summarized, data: try freshData())
        #expect(collector.text.components(separatedBy: "Total params").count == 2)
        let plain = BarClassifier(seed: 5)
        try Trainer(quietOptions(maxEpochs: 2)).fit(plain, data: try freshData())
        #expect(summarized.hidden.weight.value.scalars == plain.hidden.weight.value.scalars)
        let silent = TextCollector()
        try Trainer(quietOptions(), callbacks: [ModelSummaryCallback(maxDepth: 0, output: silent.output(isTerminal: false))])
            .fit(BarClassifier(seed: 5), data: try freshData())
        #expect(silent.text.isEmpty)
    }
}

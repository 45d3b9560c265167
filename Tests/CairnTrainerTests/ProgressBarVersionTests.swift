import CairnData
@testable import CairnTrainer
import Foundation
import Testing

@Suite struct ProgressBarVersionTests {
    /// The training bar shows the CSV logger's run version as `v_num`, first among the metrics;
    /// the second run in the same folder shows the next version.
    @Test func trainingLineShowsTheLoggersVersion() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        for expected in ["v_num=0", "v_num=1"] {
            let collector = TextCollector()
            let bar = ProgressBar(plainLinePercent: 40, output: collector.output(isTerminal: false))
            let trainer = try Trainer(quietOptions(maxEpochs: 1), callbacks: [bar], loggers: [CSVLogger(saveDirectory: root)])
            try trainer.fit(BarClassifier(seed: 3), data: try freshData())
            let lines = collector.text.split(separator: "\n").filter { $0.hasPrefix("Epoch 1/1") }
            #expect(lines.count == 3 && lines.allSatisfy { $0.contains("it/s, \(expected)") || $0.contains("s/it, \(expected)") },
                    "\(lines)")
        }
        let collector = TextCollector()
        try Trainer(quietOptions(maxEpochs: 1), callbacks: [ProgressBar(output: collector.output(isTerminal: false))])
            .fit(BarClassifier(seed: 3), data: try freshData())
        #expect(!collector.text.contains("v_num"))
    }

    @Test func versionNumberFollowsLightning() {
        #expect(ProgressBar.versionNumber(of: []) == nil)
        #expect(ProgressBar.versionNumber(of: ["version_3", "version_3"]) == "3")
        #expect(ProgressBar.versionNumber(of: ["version_0", "version_2"]) == "0_2")
        #expect(ProgressBar.versionNumber(of: ["experiment-2024"]) == "2024")
    }
}

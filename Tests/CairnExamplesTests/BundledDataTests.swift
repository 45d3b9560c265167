import CairnExamples
import CairnTrainer
import Foundation
import Testing

@Suite("Bundled example data")
struct BundledDataTests {
    @Test("digits.csv is found beside the built products, whatever the working folder")
    func digitsAreBundled() throws {
        let url = try BundledData.digitsCSV()
        #expect(url.path.contains(BundledData.bundleName))
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(text.hasPrefix("p0,p1,"))
        #expect(text.split(separator: "\n").count == 1798)
    }

    @Test("a file that is not bundled is an error naming it and where it looked, not a crash")
    func missingResourceIsAnError() {
        #expect(throws: BundledData.MissingResource.self) { try BundledData.url(of: "no-such-file.csv") }
        do {
            _ = try BundledData.url(of: "no-such-file.csv")
        } catch {
            #expect("\(error)".contains("no-such-file.csv"))
            #expect("\(error)".contains("--data"))
        }
    }

    @Test("the CairnExamples article's example trains on the bundled data")
    func articleExampleRuns() throws {
        // As in Documentation.docc/CairnExamples.md.
        let trainer = try Trainer(Trainer.Options(maxEpochs: 2, enableCheckpointing: false))
        let data = DigitsDataModule()
        try trainer.fit(DigitsClassifier(), data: data)
        #expect(data.splitSizes?.train == 1259)
        #expect(trainer.currentEpoch == 2)
    }
}

import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// A clock that reads the trainer's processed train batches as seconds, so a time-triggered
/// ModelCheckpoint fires at the same batches in every run and a resumed run's clock continues
/// where the checkpoint left it.
final class BatchClock: @unchecked Sendable {
    weak var trainer: Trainer?
    private let start = ContinuousClock.now

    func now() -> ContinuousClock.Instant {
        start + .seconds(trainer?.progress.trainBatch.total.processed ?? 0)
    }
}

/// ``SaveEverywhere`` as a checkpointing callback: it runs after the ModelCheckpoints in every
/// hook, as a crash right after their files were written would leave the run.
final class SaveEverywhereAfterCheckpoints: SaveEverywhere, CheckpointingCallback, @unchecked Sendable {}

/// Step-, epoch- and time-triggered ModelCheckpoints, each in its own folder under `root`, with
/// top-k by `val_loss` and a `last.ckpt`.
struct CheckpointingSet {
    static let folders = ["step", "epoch", "time"]
    let clock = BatchClock()
    let callbacks: [ModelCheckpoint]

    init(root: URL) throws {
        let clock = clock
        callbacks = [
            try ModelCheckpoint(dirpath: root.appendingPathComponent("step").path, filename: "{epoch}-{step}-{val_loss:.4f}",
                                monitor: "val_loss", saveTopK: 2, saveLast: true, everyNTrainSteps: 2),
            try ModelCheckpoint(dirpath: root.appendingPathComponent("epoch").path, monitor: "val_loss", saveTopK: 2,
                                saveLast: true, everyNEpochs: 1),
            try ModelCheckpoint(dirpath: root.appendingPathComponent("time").path, saveTopK: -1, saveLast: true,
                                trainTimeInterval: .seconds(3), clock: { clock.now() }),
        ]
    }

    /// Every file under the folders, by path relative to `root`, with what a resume or a user reads
    /// from it: weights, optimizer, progress and every callback state, printed.
    static func contents(under root: URL) throws -> [String: String] {
        var found: [String: String] = [:]
        for folder in folders {
            let directory = root.appendingPathComponent(folder)
            guard FileManager.default.fileExists(atPath: directory.path) else { continue }
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
                let tree = try Checkpoint.open(directory.appendingPathComponent(name)).materializedTree()
                var parts: [String] = []
                for pointer in ["/global_step", "/epoch", "/state_dict", "/optimizer_states", "/loops", "/callbacks"] {
                    parts.append(pointer + ": " + (tree[pointer].map { String(describing: $0) } ?? "absent"))
                }
                found[folder + "/" + name] = parts.joined(separator: "\n")
            }
        }
        return found
    }

    static func copyFolders(from source: URL, to destination: URL) throws {
        try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
        for folder in folders {
            let from = source.appendingPathComponent(folder), to = destination.appendingPathComponent(folder)
            try? FileManager.default.removeItem(at: to)
            if FileManager.default.fileExists(atPath: from.path) { try FileManager.default.copyItem(at: from, to: to) }
        }
    }
}

/// Where one resume of ``ExhaustiveCheckpointResumeTests`` starts: the folders as in a snapshot, and a file.
struct ResumeStart {
    var snapshot: Int
    var file: URL
    var label: String
}

/// The first differing line of two printed checkpoints, around its first differing character.
func firstDifference(_ expected: String, _ actual: String) -> String {
    let expectedLines = expected.split(separator: "\n"), actualLines = actual.split(separator: "\n")
    for (left, right) in zip(expectedLines, actualLines) where left != right {
        let a = Array(left), b = Array(right)
        var at = 0
        while at < min(a.count, b.count), a[at] == b[at] { at += 1 }
        let from = max(0, at - 100)
        let shownA = String(a[from..<min(a.count, at + 400)])
        let shownB = String(b[from..<min(b.count, at + 400)])
        return shownA + " ≠ " + shownB
    }
    return "a different number of lines"
}

/// The exhaustive resume, with ModelCheckpoints writing files: from every point a run can be
/// saved at, and from every `last.ckpt` a ModelCheckpoint wrote, with the checkpoint folders as
/// they were at that moment, the resumed run ends with exactly the uninterrupted run's files,
/// holding the same contents.
@Suite struct ExhaustiveCheckpointResumeTests {
    typealias Validation = ExhaustiveResumeTests.Validation

    func run(_ validation: Validation, root: URL, extra: [Callback] = [], seed: UInt64 = 5, ckptPath: URL? = nil) throws {
        let checkpointing = try CheckpointingSet(root: root)
        let callbacks = try validation.callbacks()
        let trainer = try Trainer(ExhaustiveResumeTests.options(validation),
                                  callbacks: callbacks.list() + checkpointing.callbacks + extra)
        checkpointing.clock.trainer = trainer
        let selection: CheckpointSelection? = ckptPath.map { .path($0) }
        try trainer.fit(ResumeProbe(seed: seed), data: try freshData(), ckptPath: selection)
    }

    @Test(arguments: Validation.allCases) func resumedRunEndsWithTheSameCheckpointFiles(_ validation: Validation) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = directory.appendingPathComponent("run")
        let points = directory.appendingPathComponent("points")
        try FileManager.default.createDirectory(at: points, withIntermediateDirectories: true)
        let saver = SaveEverywhereAfterCheckpoints(directory: points, logger: RecordingLogger())
        saver.afterSave = { index in
            try CheckpointingSet.copyFolders(from: root, to: directory.appendingPathComponent("snapshot-\(index)"))
        }
        try run(validation, root: root, extra: [saver])
        let expected = try CheckpointingSet.contents(under: root)
        // Each trigger wrote files, and the step trigger saved at steps accumulation holds still.
        for folder in CheckpointingSet.folders {
            let topK = expected.keys.filter { $0.hasPrefix(folder + "/") && !$0.hasSuffix("last.ckpt") }
            #expect(!topK.isEmpty, "\(folder) wrote top-k files")
        }
        #expect(!expected.keys.contains { $0.contains("-v1") }, "no step saved twice: \(expected.keys.sorted())")

        // Resumed from each point SaveEverywhere wrote, and (as `kill -9` and `ckptPath: .last`
        // would) from each new `last.ckpt` a ModelCheckpoint wrote itself, whose own state was
        // taken while that save was under way.
        var starts: [ResumeStart] = []
        for (index, point) in saver.points.enumerated() {
            starts.append(ResumeStart(snapshot: index, file: point.file, label: point.description))
        }
        var lastSeen: [String: Data] = [:]
        for index in saver.points.indices {
            for folder in CheckpointingSet.folders {
                let last = directory.appendingPathComponent("snapshot-\(index)/\(folder)/last.ckpt")
                guard let bytes = try? Data(contentsOf: last), bytes != lastSeen[folder] else { continue }
                lastSeen[folder] = bytes
                let label = folder + "/last.ckpt after " + saver.points[index].description
                starts.append(ResumeStart(snapshot: index, file: root.appendingPathComponent(folder + "/last.ckpt"), label: label))
            }
        }
        #expect(starts.count > saver.points.count + 6)
        for start in starts {
            try CheckpointingSet.copyFolders(from: directory.appendingPathComponent("snapshot-\(start.snapshot)"), to: root)
            do {
                try run(validation, root: root, seed: 77, ckptPath: start.file)
            } catch {
                Issue.record("resumed from \(start.label): \(error)")
                continue
            }
            let resumed = try CheckpointingSet.contents(under: root)
            #expect(resumed.keys.sorted() == expected.keys.sorted(), "files, resumed from \(start.label)")
            for (name, content) in expected where resumed[name] != content {
                Issue.record("\(name) differs, resumed from \(start.label): \(firstDifference(content, resumed[name] ?? ""))")
            }
        }
    }
}

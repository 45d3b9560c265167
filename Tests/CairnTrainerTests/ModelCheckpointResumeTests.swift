import CairnCheckpoint
import CairnData
import CairnTensor
@testable import CairnTrainer
import Foundation
import Testing

/// Logs `val_acc` (share of rows whose larger logit is the label) beside `val_loss`.
final class AccuracyClassifier: TinyClassifier, @unchecked Sendable {
    override func validationStep(_ batch: Batch, batchIndex: Int) throws -> Tensor? {
        let logits = self(try batch.tensor("features"))
        let scores = logits.scalars, labels = try batch.tensor("target").scalars
        let rows = labels.count
        let correct = (0..<rows).filter { row in (scores[2 * row + 1] > scores[2 * row] ? 1 : 0) == Int(labels[row]) }.count
        log("val_acc", Double(correct) / Double(rows))
        return try super.validationStep(batch, batchIndex: batchIndex)
    }
}

/// ModelCheckpoint across resumes: the same files as an uninterrupted run, several callbacks
/// at once, and a run directory that moved.
@Suite struct ModelCheckpointResumeTests {
    static func options(maxEpochs: Int, root: URL) -> Trainer.Options {
        Trainer.Options(maxEpochs: maxEpochs, numSanityValSteps: 0, defaultRootDir: root.path)
    }

    /// Visible `.ckpt` names in `directory`, sorted.
    static func checkpointNames(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".ckpt") && !$0.hasPrefix(".") }.sorted()
    }

    static func fit(_ callbacks: [Callback], maxEpochs: Int, root: URL, module: TrainingModule = TinyClassifier(seed: 4),
                    ckptPath: CheckpointSelection? = nil) throws {
        try Trainer(options(maxEpochs: maxEpochs, root: root), callbacks: callbacks).fit(module, data: try freshData(), ckptPath: ckptPath)
    }

    static func scratchDirectories(_ count: Int) throws -> [URL] { try (0..<count).map { _ in try temporaryDirectory() } }

    static func remove(_ directories: [URL]) {
        for url in directories { try? FileManager.default.removeItem(at: url) }
    }

    static func stateDictBytes(_ file: URL) throws -> [String: [UInt8]] {
        let tree = try Checkpoint.load(file)
        let weights = try #require(tree["/state_dict"])
        return Dictionary(uniqueKeysWithValues: try weights.tensors().map { ($0.path.description, try $0.tensor.bytes()) })
    }

    /// The bookkeeping with every path reduced to its file name, to compare runs in different directories.
    static func byName(_ state: ModelCheckpoint.State) -> [String: String] {
        func name(_ path: String) -> String { path.isEmpty ? "" : URL(fileURLWithPath: path).lastPathComponent }
        var summary = ["best": name(state.bestModelPath), "kth": name(state.kthBestModelPath), "last": name(state.lastModelPath),
                       "best_score": "\(state.bestModelScore ?? .nan)", "kth_value": "\(state.kthValue ?? .nan)"]
        for (path, value) in state.bestKModels { summary["k:" + name(path)] = "\(value)" }
        return summary
    }

    @Test func resumedRunEndsWithTheSameTopKFilesAsAnUninterruptedRun() throws {
        let scratch = try Self.scratchDirectories(2)
        defer { Self.remove(scratch) }
        let (whole, split) = (scratch[0], scratch[1])
        func callback() throws -> ModelCheckpoint {
            try ModelCheckpoint(filename: "{epoch}-{step}-{val_loss:.4f}", monitor: "val_loss", saveTopK: 3, saveLast: true)
        }
        let reference = try callback()
        let recorder = ValidationLossRecorder()
        try Self.fit([recorder, reference], maxEpochs: 8, root: whole)

        let firstHalf = try callback()
        try Self.fit([firstHalf], maxEpochs: 4, root: split)
        let keptAtTheBreak = Set(firstHalf.state.bestKModels.keys.map { URL(fileURLWithPath: $0).lastPathComponent })
        let resumed = try callback()
        try Self.fit([resumed], maxEpochs: 8, root: split, ckptPath: .last)

        let names = try Self.checkpointNames(reference.dirpath)
        #expect(names.count == 4 && names.contains("last.ckpt"))
        #expect(try Self.checkpointNames(resumed.dirpath) == names)
        // The second half evicted files of the first, so the restored bookkeeping did the work.
        #expect(!keptAtTheBreak.isSubset(of: Set(names)))
        #expect(recorder.losses.values.sorted().prefix(3).map { String(format: "%.4f", $0) }
            == reference.state.bestKModels.values.sorted().map { String(format: "%.4f", $0) })
        for name in names {
            let expected = try Self.stateDictBytes(reference.dirpath.appendingPathComponent(name))
            #expect(try Self.stateDictBytes(resumed.dirpath.appendingPathComponent(name)) == expected, "\(name) differs")
        }
        #expect(Self.byName(resumed.state) == Self.byName(reference.state))
    }

    /// val_loss (min) and val_acc (max) at once: distinct state keys, each keeps its own two
    /// files through a resume, and the one `last.ckpt` holds both callbacks' newest states.
    @Test func twoMonitorsKeepTheirOwnTopKThroughAResume() throws {
        let scratch = try Self.scratchDirectories(2)
        defer { Self.remove(scratch) }
        let (whole, split) = (scratch[0], scratch[1])
        func callbacks() throws -> [ModelCheckpoint] {
            [try ModelCheckpoint(filename: "loss-{epoch}", monitor: "val_loss", saveTopK: 2, saveLast: true),
             try ModelCheckpoint(filename: "acc-{epoch}", monitor: "val_acc", mode: .max, saveTopK: 2)]
        }
        let reference = try callbacks()
        #expect(reference[0].stateKey != reference[1].stateKey)
        #expect(reference[1].stateKey
            == #"ModelCheckpoint<"monitor":"val_acc","mode":"max","every_n_train_steps":0,"every_n_epochs":1,"train_time_interval":null>"#)
        try Self.fit(reference, maxEpochs: 6, root: whole, module: AccuracyClassifier(seed: 4))

        try Self.fit(try callbacks(), maxEpochs: 3, root: split, module: AccuracyClassifier(seed: 4))
        let resumed = try callbacks()
        let trainer = try Trainer(Self.options(maxEpochs: 6, root: split), callbacks: resumed)
        try trainer.fit(AccuracyClassifier(seed: 4), data: try freshData(), ckptPath: .last)
        #expect(trainer.callbackStateWarnings.isEmpty)

        let names = try Self.checkpointNames(resumed[0].dirpath)
        #expect(names == (try Self.checkpointNames(reference[0].dirpath)))
        #expect(names.filter { $0.hasPrefix("loss-") }.count == 2)
        #expect(names.filter { $0.hasPrefix("acc-") }.count == 2)
        #expect(names.filter { $0.hasPrefix("last") } == ["last.ckpt"])
        for (live, expected) in zip(resumed, reference) {
            #expect(Self.byName(live.state) == Self.byName(expected.state))
            #expect(Set(live.state.bestKModels.keys.map { URL(fileURLWithPath: $0).lastPathComponent })
                .isSubset(of: Set(names)))
        }
        #expect(resumed[1].state.bestModelScore == reference[1].state.bestModelScore)
        // last.ckpt was written by the first callback before the second saved; it was rewritten after.
        let last = try Checkpoint.load(resumed[0].dirpath.appendingPathComponent("last.ckpt"))
        let saved = try #require(last[JSONPointer(tokens: ["callbacks", resumed[1].stateKey]).description])
        #expect(try CheckpointDecoder().decode(ModelCheckpoint.State.self, from: saved) == resumed[1].state)
    }

    /// A crash after the second callback's top-k file but before it rewrote the first one's
    /// `last.ckpt`: that file's own copy of the second callback's state is newer than the one in
    /// `last.ckpt`, and the resume takes it, ending as the uninterrupted run does.
    @Test func aNewerOwnStateAtTheRestoredStepIsTakenOver() throws {
        let scratch = try Self.scratchDirectories(3)
        defer { Self.remove(scratch) }
        let (whole, crashed, stash) = (scratch[0], scratch[1], scratch[2])
        func callbacks() throws -> [ModelCheckpoint] {
            [try ModelCheckpoint(filename: "loss-{epoch}", monitor: "val_loss", saveTopK: 2, saveLast: true),
             try ModelCheckpoint(filename: "acc-{epoch}", monitor: "val_acc", mode: .max, saveTopK: -1)]
        }
        let reference = try callbacks()
        try Self.fit(reference, maxEpochs: 5, root: whole, module: AccuracyClassifier(seed: 4))

        let early = try callbacks()
        let copier = LastFileCopier(to: stash.appendingPathComponent("last.ckpt"), atEpoch: 2)
        try Trainer(Self.options(maxEpochs: 3, root: crashed), callbacks: [early[0], copier, early[1]])
            .fit(AccuracyClassifier(seed: 4), data: try freshData())
        let directory = early[0].dirpath
        try FileManager.default.removeItem(at: directory.appendingPathComponent("last.ckpt"))
        try FileManager.default.copyItem(at: stash.appendingPathComponent("last.ckpt"), to: directory.appendingPathComponent("last.ckpt"))
        let stale = try CheckpointDecoder().decode(ModelCheckpoint.State.self, from: try #require(
            try Checkpoint.load(directory.appendingPathComponent("last.ckpt"))[JSONPointer(tokens: ["callbacks", early[1].stateKey]).description]))
        #expect(stale.bestKModels.count == 2, "last.ckpt should predate the accuracy callback's third file")

        let resumed = try callbacks()
        try Self.fit(resumed, maxEpochs: 5, root: crashed, module: AccuracyClassifier(seed: 4), ckptPath: .last)
        #expect(try Self.checkpointNames(directory) == (try Self.checkpointNames(reference[0].dirpath)))
        for (live, expected) in zip(resumed, reference) { #expect(Self.byName(live.state) == Self.byName(expected.state)) }
    }

    /// As Lightning: two callbacks that both keep a last file get `last.ckpt` and `last-v1.ckpt`.
    @Test func secondLastFileGetsAVersion() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let callbacks = [try ModelCheckpoint(monitor: "val_loss", saveTopK: 0, saveLast: true),
                         try ModelCheckpoint(saveTopK: 0, saveLast: true, everyNEpochs: 2)]
        try Self.fit(callbacks, maxEpochs: 4, root: root)
        #expect(try Self.checkpointNames(callbacks[0].dirpath) == ["last-v1.ckpt", "last.ckpt"])
        #expect(callbacks[1].lastModelPath.map { URL(fileURLWithPath: $0).lastPathComponent } == "last-v1.ckpt")
    }

    /// `mv` the whole run, resume from the new place: the restored paths follow the files, so
    /// eviction still deletes the right ones and a foreign file there is left alone.
    @Test func movingTheRunDirectoryKeepsTopKWorking() throws {
        let scratch = try Self.scratchDirectories(3)
        defer { Self.remove(scratch) }
        let (whole, original, parent) = (scratch[0], scratch[1], scratch[2])
        func callback() throws -> ModelCheckpoint { try ModelCheckpoint(monitor: "val_loss", saveTopK: 2, saveLast: true) }
        let reference = try callback()
        try Self.fit([reference], maxEpochs: 6, root: whole)

        try Self.fit([try callback()], maxEpochs: 3, root: original)
        let moved = parent.appendingPathComponent("moved-run")
        try FileManager.default.moveItem(at: original, to: moved)
        let foreign = moved.appendingPathComponent("checkpoints/epoch=0-step=5-notes.ckpt")
        try Data("someone else's".utf8).write(to: foreign)

        let resumed = try callback()
        let trainer = try Trainer(Self.options(maxEpochs: 6, root: moved), callbacks: [resumed])
        #expect(try trainer.resolve(.best)?.deletingLastPathComponent().standardizedFileURL.path == resumed.dirpathAfterSetup(moved))
        try trainer.fit(TinyClassifier(seed: 4), data: try freshData(), ckptPath: .last)

        let names = try Self.checkpointNames(resumed.dirpath)
        #expect(names.filter { $0 != foreign.lastPathComponent } == (try Self.checkpointNames(reference.dirpath)))
        #expect(names.filter { $0 != foreign.lastPathComponent }.count == 3)
        #expect(FileManager.default.fileExists(atPath: foreign.path))
        #expect(Self.byName(resumed.state) == Self.byName(reference.state))
        for path in Array(resumed.state.bestKModels.keys) + [resumed.state.bestModelPath, resumed.state.lastModelPath] {
            #expect(path.hasPrefix(resumed.dirpath.path + "/"), "\(path) is outside the moved directory")
        }
    }

    /// Resuming another run's checkpoint into a new directory (the old one still there) is not a
    /// move: the old run's files are neither ranked nor deleted, as in Lightning.
    @Test func resumingIntoAnotherDirectoryLeavesTheOldRunAlone() throws {
        let scratch = try Self.scratchDirectories(2)
        defer { Self.remove(scratch) }
        let (first, second) = (scratch[0], scratch[1])
        func callback() throws -> ModelCheckpoint { try ModelCheckpoint(monitor: "val_loss", saveTopK: 2, saveLast: true) }
        let original = try callback()
        try Self.fit([original], maxEpochs: 3, root: first)
        let before = try Self.checkpointNames(original.dirpath)
        let branch = try callback()
        try Self.fit([branch], maxEpochs: 6, root: second, ckptPath: .path(original.dirpath.appendingPathComponent("last.ckpt")))
        #expect(try Self.checkpointNames(original.dirpath) == before)
        #expect(try Self.checkpointNames(branch.dirpath).count == 3)
        #expect(branch.state.bestKModels.keys.allSatisfy { $0.hasPrefix(branch.dirpath.path + "/") })
    }

    /// As Lightning: the file a run resumed from is never deleted, even when it drops out of the top k.
    @Test func theFileResumedFromIsKept() throws {
        let scratch = try Self.scratchDirectories(1)
        defer { Self.remove(scratch) }
        func callback() throws -> ModelCheckpoint { try ModelCheckpoint(monitor: "val_loss", saveTopK: 1) }
        let first = try callback()
        try Self.fit([first], maxEpochs: 2, root: scratch[0])
        let resumedFrom = try #require(first.bestModelPath)
        let second = try callback()
        try Self.fit([second], maxEpochs: 8, root: scratch[0], ckptPath: .path(URL(fileURLWithPath: resumedFrom)))
        #expect(second.bestModelPath != resumedFrom)
        #expect(FileManager.default.fileExists(atPath: resumedFrom))
        #expect(try Self.checkpointNames(second.dirpath).count == 2)
    }

    /// What a crash between saving and evicting leaves: own files the restored state no longer
    /// names. Those from after the restored step are a rolled-back future the replay overwrites
    /// by name (no `-v1` copies); those from before it were evicted, and the resume deletes them.
    @Test func leftoversOfACrashedEvictionAreTidiedOnResume() throws {
        let scratch = try Self.scratchDirectories(3)
        defer { Self.remove(scratch) }
        let (whole, crashed, stash) = (scratch[0], scratch[1], scratch[2])
        func callback() throws -> ModelCheckpoint { try ModelCheckpoint(monitor: "val_loss", saveTopK: 1, saveLast: true) }
        let reference = try callback()
        try Self.fit([reference], maxEpochs: 6, root: whole)

        // The run reaches epoch 6 but every file it evicts survives (a hard link taken just
        // before the deletion is put back), and last.ckpt is set back to epoch 3.
        let early = try callback()
        try Self.fit([early], maxEpochs: 3, root: crashed)
        let directory = early.dirpath
        let lastAtEpoch3 = try Data(contentsOf: directory.appendingPathComponent("last.ckpt"))
        let continued = try callback()
        continued.beforeEviction = { path in
            try? FileManager.default.linkItem(atPath: path, toPath: stash.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent).path)
        }
        try Self.fit([continued], maxEpochs: 6, root: crashed, ckptPath: .last)
        let evicted = try FileManager.default.contentsOfDirectory(atPath: stash.path).filter { $0 != "last.ckpt" }.sorted()
        #expect(!evicted.isEmpty)
        for name in evicted {
            try FileManager.default.copyItem(at: stash.appendingPathComponent(name), to: directory.appendingPathComponent(name))
        }
        try lastAtEpoch3.write(to: directory.appendingPathComponent("last.ckpt"))
        #expect(try Self.checkpointNames(directory).count > 2)

        let resumed = try callback()
        try Self.fit([resumed], maxEpochs: 6, root: crashed, ckptPath: .last)
        #expect(try Self.checkpointNames(directory) == (try Self.checkpointNames(reference.dirpath)))
        #expect(Self.byName(resumed.state) == Self.byName(reference.state))

        // A finished run with an evicted file back in place: resuming it trains nothing but tidies.
        let leftover = try #require(evicted.last)
        try FileManager.default.copyItem(at: stash.appendingPathComponent(leftover), to: directory.appendingPathComponent(leftover))
        try Self.fit([try callback()], maxEpochs: 6, root: crashed, ckptPath: .last)
        #expect(try Self.checkpointNames(directory) == (try Self.checkpointNames(reference.dirpath)))
    }
}

/// Copies `last.ckpt` at the end of one epoch, placed between two ModelCheckpoints: the copy is
/// what the first wrote before the second saved.
final class LastFileCopier: Callback, @unchecked Sendable {
    let destination: URL
    let epoch: Int

    init(to destination: URL, atEpoch epoch: Int) {
        self.destination = destination
        self.epoch = epoch
    }

    override var monitorsMetrics: Bool { true }

    override func onTrainEpochEnd(_ trainer: Trainer, _ module: TrainingModule) throws {
        guard trainer.currentEpoch == epoch, let last = trainer.lastCheckpointPath else { return }
        try FileManager.default.copyItem(at: last, to: destination)
    }
}

extension ModelCheckpoint {
    /// The directory setup will pick under `root` when none was given.
    func dirpathAfterSetup(_ root: URL) -> String {
        (configuredDirpath.map { URL(fileURLWithPath: $0) } ?? root.appendingPathComponent("checkpoints")).standardizedFileURL.path
    }
}

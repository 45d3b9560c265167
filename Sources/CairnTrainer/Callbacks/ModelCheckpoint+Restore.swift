import CairnCheckpoint
import Foundation
import Logging

/// What a restore needs from the trainer, captured in `onLoadCheckpoint` just before the state arrives.
struct RestoreContext {
    var stage: Stage?
    /// The checkpoint file being restored, standardized.
    var file: String?
    /// Its `global_step`.
    var step: Int?
    var logger: Logger
}

// Lightning restores the bookkeeping only when the saved `dirpath` equals the current one and
// otherwise keeps only `best_model_path`. Cairn also follows a run directory that moved, and
// tidies what a crash between saving and evicting left behind.
extension ModelCheckpoint {
    func restore(_ restored: State) {
        let context = restoreContext
        restoreContext = nil
        guard context?.stage == .fit else {
            // validate/test/predict write nothing: take the state as Lightning does.
            if restored.dirpath == state.dirpath { state = restored } else { state.bestModelPath = restored.bestModelPath }
            return
        }
        if restored.dirpath == state.dirpath {
            adopt(restored, context: context)
        } else if movedHere(restored, context: context) {
            context?.logger.notice("ModelCheckpoint: \(restored.dirpath) moved to \(state.dirpath); its top-k files are followed there by name")
            adopt(relocated(restored), context: context)
        } else {
            context?.logger.warning("""
                ModelCheckpoint: the dirpath changed from \(restored.dirpath) to \(state.dirpath); only best_model_path is \
                restored and the files there are neither ranked nor deleted
                """)
            state.bestModelPath = restored.bestModelPath
            return
        }
        if let context { tidyDirectory(context) }
    }

    /// The old directory is gone, or the checkpoint being resumed lives in the new one: the run
    /// moved (or was copied) here, so its files are here under the same names.
    private func movedHere(_ restored: State, context: RestoreContext?) -> Bool {
        if !FileManager.default.fileExists(atPath: restored.dirpath) { return true }
        return context?.file.map(isInsideDirectory) ?? false
    }

    /// `path` relative to the directory `directory` (its file name when it lies elsewhere).
    private func relativePath(_ path: String, in directory: String) -> String {
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        return path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : URL(fileURLWithPath: path).lastPathComponent
    }

    private func relocated(_ restored: State) -> State {
        func moved(_ path: String) -> String {
            path.isEmpty ? "" : dirpath.appendingPathComponent(relativePath(path, in: restored.dirpath)).path
        }
        var state = restored
        state.dirpath = self.state.dirpath
        state.bestKModels = Dictionary(restored.bestKModels.map { (moved($0.key), $0.value) }, uniquingKeysWith: { first, _ in first })
        state.kthBestModelPath = moved(restored.kthBestModelPath)
        state.bestModelPath = moved(restored.bestModelPath)
        state.lastModelPath = moved(restored.lastModelPath)
        return state
    }

    /// Takes the state over, minus files that no longer exist (so the count of kept files stays
    /// true), and owns the files it names.
    private func adopt(_ restored: State, context: RestoreContext?) {
        var adopted = restored
        let exists = { (path: String) in FileManager.default.fileExists(atPath: path) }
        let missing = adopted.bestKModels.keys.filter { !exists($0) }
        if !missing.isEmpty {
            context?.logger.warning("ModelCheckpoint: top-k files missing on resume, no longer ranked: \(missing.sorted().joined(separator: ", "))")
            for path in missing { adopted.bestKModels[path] = nil }
            let order = ranked(adopted.bestKModels)
            adopted.kthBestModelPath = order.last?.key ?? ""
            adopted.kthValue = order.last?.value
            if monitor != nil {
                adopted.bestModelPath = order.first?.key ?? ""
                adopted.bestModelScore = order.first?.value
            }
        }
        if !adopted.lastModelPath.isEmpty, !exists(adopted.lastModelPath) { adopted.lastModelPath = "" }
        state = adopted
        ownedFiles = Set(([state.bestModelPath, state.lastModelPath] + Array(state.bestKModels.keys)).filter { !$0.isEmpty && isInsideDirectory($0) })
    }

    /// Files in the directory that this callback wrote (each file's own copy of this callback's
    /// state names it) but the restored state does not. One written at the restored step, after
    /// the restored file (another ModelCheckpoint's `last` cut short by a crash), holds this
    /// callback's newer state for that very step, which is taken over. Then those from before
    /// the restored step were evicted when a crash cut the eviction short, so they go; those
    /// from after it belong to the future the resume rolls back, and the replay may overwrite them.
    private func tidyDirectory(_ context: RestoreContext) {
        guard let restoredStep = context.step else { return }
        func named() -> Set<String> { Set([state.bestModelPath, state.lastModelPath] + Array(state.bestKModels.keys)) }
        let known = named()
        let orphans = checkpointFiles().filter { !known.contains($0) && $0 != context.file }
            .compactMap { path in ownClaim(of: path).map { (path: path, claim: $0) } }
        if let newer = orphans.first(where: { $0.claim.step == restoredStep }) {
            context.logger.notice("ModelCheckpoint: \(newer.path) holds this callback's newer state for step \(restoredStep); taking it")
            adopt(newer.claim.state.dirpath == state.dirpath ? newer.claim.state : relocated(newer.claim.state), context: context)
        }
        let current = named()
        for (path, claim) in orphans where !current.contains(path) {
            if claim.step > restoredStep {
                replayableFiles.insert(path)
            } else {
                context.logger.notice("ModelCheckpoint: removing \(path), evicted before a crash cut the eviction short")
                try? FileManager.default.removeItem(atPath: path)
            }
        }
    }

    /// Every visible `.ckpt` file below the directory.
    private func checkpointFiles() -> [String] {
        guard let walker = FileManager.default.enumerator(at: dirpath, includingPropertiesForKeys: nil,
                                                          options: [.skipsHiddenFiles]) else { return [] }
        return walker.compactMap { ($0 as? URL)?.standardizedFileURL }.filter { $0.pathExtension == "ckpt" }.map(\.path)
    }

    /// The file's step and its own copy of this callback's state, when that state names the
    /// file itself (so this callback wrote it); nil for foreign, weights-only or other files.
    private func ownClaim(of path: String) -> (step: Int, state: State)? {
        guard let tree = try? Checkpoint.open(URL(fileURLWithPath: path)).tree(),
              case let .int(step)? = tree["/global_step"], let step = Int(exactly: step),
              let saved = tree[JSONPointer(tokens: ["callbacks", stateKey]).description],
              let embedded = try? CheckpointDecoder().decode(State.self, from: saved) else { return nil }
        let own = relativePath(path, in: state.dirpath)
        let named = [embedded.bestModelPath, embedded.lastModelPath] + Array(embedded.bestKModels.keys)
        guard named.contains(where: { !$0.isEmpty && relativePath($0, in: embedded.dirpath) == own }) else { return nil }
        return (step, embedded)
    }
}

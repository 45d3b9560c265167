import CairnCheckpoint
import Foundation
import OrderedCollections

/// A Hugging Face sharded checkpoint: an index (`model.safetensors.index.json` or
/// `pytorch_model.bin.index.json`) whose `weight_map` names the shard file of every tensor,
/// read as one dictionary of tensors. safetensors shards are read in place (mapped).
public enum ShardedCheckpoint {
    /// The index file names looked for in a folder, in this order.
    public static let indexNames = ["model.safetensors.index.json", "pytorch_model.bin.index.json"]
    /// Most bytes an index file may have; a real one is a few hundred KiB.
    public static let maximumIndexSize = 64 << 20

    /// The index file that `url` is or (for a folder) holds, or nil when it is neither.
    public static func index(at url: URL) -> URL? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return nil }
        if !isDirectory.boolValue { return url.lastPathComponent.hasSuffix(".index.json") ? url : nil }
        return indexNames.map { url.appendingPathComponent($0) }.first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// The shard files the index at `url` lists, in name order (checked as ``read(index:)`` checks them).
    public static func shardFiles(index url: URL) throws -> [URL] {
        let file = url.path
        let size = try InputFile.requireReadableRegularFile(file)
        guard size <= maximumIndexSize else {
            throw InteropError.limitExceeded(file: file, reason: "index is \(size) bytes, over \(maximumIndexSize)")
        }
        let folder = url.deletingLastPathComponent()
        return try shards(inIndex: try Data(contentsOf: url), file: file).keys.sorted().map { folder.appendingPathComponent($0) }
    }

    /// Every tensor of every shard, by name: shards in name order, each shard's tensors in its
    /// own order. Refuses an index that is not JSON or has no `weight_map` of names to plain
    /// file names, a missing shard, a tensor the index names but its shard lacks, a tensor a
    /// shard holds but the index does not name, and a shard file beside them that the index
    /// does not list.
    public static func read(index url: URL) throws -> CheckpointValue {
        let file = url.path
        let size = try InputFile.requireReadableRegularFile(file)
        guard size <= maximumIndexSize else {
            throw InteropError.limitExceeded(file: file, reason: "index is \(size) bytes, over \(maximumIndexSize)")
        }
        let tensorsByShard = try shards(inIndex: try Data(contentsOf: url), file: file)
        let folder = url.deletingLastPathComponent()
        try refuseUnlistedShards(in: folder, listed: Set(tensorsByShard.keys), index: file)

        var merged = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for shard in tensorsByShard.keys.sorted() {
            let shardURL = folder.appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: shardURL.path) else {
                throw InteropError.io(file: shardURL.path, reason: "shard listed in \(url.lastPathComponent) is missing")
            }
            let tensors = try shardTensors(shardURL)
            let expected = tensorsByShard[shard] ?? []
            if let absent = expected.sorted().first(where: { tensors[$0] == nil }) {
                throw InteropError.malformedIndex(file: file, reason: "weight_map puts \"\(absent)\" in \(shard), which does not hold it")
            }
            for (name, tensor) in tensors {
                guard expected.contains(name) else {
                    throw InteropError.malformedIndex(file: file, reason: "\(shard) holds \"\(name)\", which weight_map does not list")
                }
                merged[.string(name)] = .tensor(tensor)
            }
        }
        return .dictionary(merged)
    }

    /// The index's `weight_map` grouped by shard: shard file name → tensor names. Refuses text
    /// that is not JSON, a missing `weight_map` and any shard name that is not a plain file name
    /// beside the index; `file` names the index in errors.
    public static func shards(inIndex data: Data, file: String) throws -> [String: Set<String>] {
        func fail(_ reason: String) -> InteropError { .malformedIndex(file: file, reason: reason) }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data) } catch { throw fail("not valid JSON") }
        guard let root = json as? [String: Any], let map = root["weight_map"] as? [String: Any] else {
            throw fail("no \"weight_map\" object")
        }
        var tensorsByShard: [String: Set<String>] = [:]
        for (tensor, value) in map {
            guard let shard = value as? String else { throw fail("weight_map[\"\(tensor)\"] is not a file name") }
            guard !shard.isEmpty, !shard.contains("/"), !shard.contains("\\"), shard != ".", shard != ".." else {
                throw fail("weight_map[\"\(tensor)\"] names \"\(shard)\", not a file beside the index")
            }
            tensorsByShard[shard, default: []].insert(tensor)
        }
        return tensorsByShard
    }

    /// A shard's tensors: safetensors in place, a torch file through the restricted unpickler.
    private static func shardTensors(_ url: URL) throws -> OrderedDictionary<String, CheckpointTensor> {
        if url.pathExtension == "safetensors" { return try SafetensorsFile.readContents(url).tensors }
        guard case let .dictionary(entries) = try TorchCheckpoint.read(url) else {
            throw InteropError.invalidTensor(file: url.path, reason: "a torch shard must hold a dictionary of tensors")
        }
        var tensors = OrderedDictionary<String, CheckpointTensor>()
        for (key, value) in entries {
            guard case let .tensor(tensor) = value else {
                throw InteropError.invalidTensor(file: url.path, reason: "shard entry \"\(key.token)\" is not a tensor")
            }
            tensors[key.token] = tensor
        }
        return tensors
    }

    /// Files named like the listed shards (`<prefix>-NNNNN-of-NNNNN.<ext>`) that the index does
    /// not list: a half-copied or mixed-up folder.
    private static func refuseUnlistedShards(in folder: URL, listed: Set<String>, index: String) throws {
        let pattern = /^(.+)-\d+-of-(\d+)\.([A-Za-z0-9]+)$/
        let families = Set(listed.compactMap { name in (try? pattern.wholeMatch(in: name)).map { "\($0.1)|\($0.3)" } })
        guard !families.isEmpty, let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names.sorted() where !listed.contains(name) {
            guard let match = try? pattern.wholeMatch(in: name), families.contains("\(match.1)|\(match.3)") else { continue }
            throw InteropError.malformedIndex(file: index, reason: "\(name) lies beside the shards but weight_map does not list it")
        }
    }
}

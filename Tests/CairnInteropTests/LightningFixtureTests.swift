import CairnCheckpoint
import Foundation
import Testing
@testable import CairnInterop

/// Compares an imported tree with the `torch.load` JSON dump next to each fixture.
struct DumpComparison {
    var mismatches: [String] = []
    var tensorCount = 0
    /// Tensor values grouped by their storage view, to check shared references.
    var viewValues: [String: [[Double]]] = [:]

    static let dtypes: [String: CheckpointDType] = [
        "torch.float32": .f32, "torch.float64": .f64, "torch.float16": .f16, "torch.bfloat16": .bf16,
        "torch.int64": .i64, "torch.int32": .i32, "torch.int16": .i16, "torch.int8": .i8,
        "torch.uint8": .u8, "torch.bool": .bool,
    ]

    mutating func compare(_ node: [String: Any], _ value: CheckpointValue?, at path: String) throws {
        guard let value else { mismatches.append("\(path): missing"); return }
        switch node["kind"] as? String {
        case "dict":
            guard case let .dictionary(entries) = value else { mismatches.append("\(path): not a dictionary"); return }
            let expected = node["entries"] as? [[String: Any]] ?? []
            var keys: [CheckpointKey] = []
            for entry in expected {
                let keyNode = entry["key"] as? [String: Any] ?? [:]
                switch keyNode["value"] {
                case let text as String: keys.append(.string(text))
                case let number as NSNumber: keys.append(.int(number.int64Value))
                default: mismatches.append("\(path): unexpected key kind \(keyNode)")
                }
            }
            if node["attributes"] != nil { keys.append(.string(TorchCheckpoint.attributesKey)) }
            guard Array(entries.keys) == keys else {
                mismatches.append("\(path): keys \(Array(entries.keys)) vs \(keys)")
                return
            }
            for (key, entry) in zip(keys, expected) {
                try compare(entry["value"] as? [String: Any] ?? [:], entries[key], at: "\(path)/\(key)")
            }
            if let attributes = node["attributes"] as? [String: Any] {
                try compare(attributes, entries[.string(TorchCheckpoint.attributesKey)], at: "\(path)/@attributes")
            }
        case "list", "tuple":
            guard case let .list(items) = value else { mismatches.append("\(path): not a list"); return }
            let expected = node["items"] as? [[String: Any]] ?? []
            guard items.count == expected.count else { mismatches.append("\(path): \(items.count) items vs \(expected.count)"); return }
            for (index, item) in items.enumerated() { try compare(expected[index], item, at: "\(path)/\(index)") }
        case "tensor":
            guard let tensor = value.tensor else { mismatches.append("\(path): not a tensor"); return }
            tensorCount += 1
            let dtypeName = node["dtype"] as? String ?? ""
            if tensor.dtype != Self.dtypes[dtypeName] { mismatches.append("\(path): dtype \(tensor.dtype) vs \(dtypeName)") }
            let shape = (node["shape"] as? [NSNumber] ?? []).map(\.intValue)
            if tensor.shape != shape { mismatches.append("\(path): shape \(tensor.shape) vs \(shape)") }
            let values = try doubles(tensor)
            let sum = values.reduce(0, +)
            let expectedSum = Self.number(node["sum"])
            if !Self.close(sum, expectedSum, tolerance: 1e-9) { mismatches.append("\(path): sum \(sum) vs \(expectedSum)") }
            let first = (node["first"] as? [Any] ?? []).map(Self.number)
            if !zip(values, first).allSatisfy({ Self.close($0, $1, tolerance: 1e-12) }) || values.prefix(first.count).count != first.count {
                mismatches.append("\(path): first \(values.prefix(first.count)) vs \(first)")
            }
            let storage = node["storage"] as? [String: Any] ?? [:]
            let view = "\(storage["key"] ?? "?")@\(node["storage_offset"] ?? "?")\(shape)\(node["stride"] ?? "?")"
            viewValues[view, default: []].append(values)
        case "leaf":
            compareLeaf(node, value, at: path)
        default:
            mismatches.append("\(path): unknown node kind")
        }
    }

    /// A JSON number, or one of the words standing in for non-finite floats.
    static func number(_ json: Any?) -> Double {
        switch json {
        case let number as NSNumber: return number.doubleValue
        case "inf" as String: return .infinity
        case "-inf" as String: return -.infinity
        default: return .nan
        }
    }

    /// Equal up to a relative `tolerance`: Foundation's JSON parser can be off
    /// in the last bit or two of a double.
    static func close(_ lhs: Double, _ rhs: Double, tolerance: Double) -> Bool {
        if lhs.isNaN || rhs.isNaN { return lhs.isNaN && rhs.isNaN }
        if lhs.isInfinite || rhs.isInfinite { return lhs == rhs }
        return abs(lhs - rhs) <= tolerance * max(1, abs(lhs), abs(rhs))
    }

    mutating func compareLeaf(_ node: [String: Any], _ value: CheckpointValue, at path: String) {
        let type = node["py_type"] as? String ?? ""
        let repr = node["repr"] as? String ?? ""
        let matches: Bool
        switch (type, value) {
        case ("builtins.NoneType", .null): matches = true
        case let ("builtins.bool", .bool(flag)): matches = (node["value"] as? Bool) == flag
        case let ("builtins.int", .int(number)): matches = repr == String(number)
        case let ("builtins.float", .double(number)):
            if let expected = node["value"] as? NSNumber { matches = Self.close(expected.doubleValue, number, tolerance: 1e-12) } else { matches = repr == "\(number)" }
        case let ("builtins.str", .string(text)): matches = (node["value"] as? String) == text
        default: matches = false
        }
        if !matches { mismatches.append("\(path): \(value) vs \(type) \(repr)") }
    }
}

@Suite struct LightningFixtureTests {
    static let files = ["last.ckpt", "midepoch-epoch=1-step=30.ckpt", "plain_state_dict.pt"]

    @Test(arguments: files)
    func importMatchesTorchDump(_ name: String) throws {
        let tree = try TorchCheckpoint.read(lightningFixture(name))
        // Python's json writes non-finite floats as bare words, which strict JSON lacks.
        let dumpText = try String(contentsOf: lightningFixture("\(name).json"), encoding: .utf8)
            .replacingOccurrences(of: "-Infinity", with: "\"-inf\"")
            .replacingOccurrences(of: "Infinity", with: "\"inf\"")
            .replacingOccurrences(of: "NaN", with: "\"nan\"")
        let dumpData = Data(dumpText.utf8)
        let dump = try #require(try JSONSerialization.jsonObject(with: dumpData) as? [String: Any])
        var comparison = DumpComparison()
        try comparison.compare(try #require(dump["content"] as? [String: Any]), tree, at: "")
        #expect(comparison.mismatches.isEmpty, "\(comparison.mismatches.prefix(10))")
        #expect(comparison.tensorCount > 0)
        for (view, values) in comparison.viewValues {
            #expect(values.allSatisfy { $0 == values[0] }, "tensors sharing view \(view) differ")
        }
    }

    @Test func sharedTensorReferencesComeOutEqual() throws {
        let tree = try TorchCheckpoint.read(lightningFixture("last.ckpt"))
        guard case let .dictionary(callbacks)? = tree["/callbacks"] else { Issue.record("no callbacks"); return }
        let checkpointState = try #require(callbacks.first { $0.key.token.hasPrefix("ModelCheckpoint{'monitor': 'val_loss'") }?.value)
        let best = try #require(checkpointState["/best_model_score"]?.tensor)
        let current = try #require(checkpointState["/current_score"]?.tensor)
        #expect(try best.bytes() == current.bytes())
        #expect(best.shape == [] && best.dtype == .f32)
    }

    @Test func lightningStateKeysAndMidEpochProgressAreKeptVerbatim() throws {
        let tree = try TorchCheckpoint.read(lightningFixture("midepoch-epoch=1-step=30.ckpt"))
        guard case let .dictionary(callbacks)? = tree["/callbacks"] else { Issue.record("no callbacks"); return }
        #expect(callbacks.keys.contains(.string("Counter{'what': 'batches'}")))
        #expect(callbacks.keys.contains(.string("Timer")))
        guard case let .bool(isLast)? = tree["/loops/fit_loop/epoch_loop.batch_progress/is_last_batch"] else {
            Issue.record("no fit loop progress"); return
        }
        #expect(isLast == false)
        guard case let .int(step)? = tree["/global_step"] else { Issue.record("no global_step"); return }
        #expect(step == 30)
    }

    @Test func optimizerStateKeysAreIntegers() throws {
        let tree = try TorchCheckpoint.read(lightningFixture("last.ckpt"))
        guard case let .dictionary(state)? = tree["/optimizer_states/0/state"] else { Issue.record("no optimizer state"); return }
        #expect(state.keys.first == .int(0))
        let step = try #require(tree["/optimizer_states/0/state/0/step"]?.tensor)
        #expect(step.dtype == .f32 && step.shape == [])
    }

    @Test func stateDictMetadataIsKeptAsAttributes() throws {
        let tree = try TorchCheckpoint.read(lightningFixture("last.ckpt"))
        guard case let .dictionary(metadata)? = tree["/state_dict/\(TorchCheckpoint.attributesKey)/_metadata"] else {
            Issue.record("no _metadata"); return
        }
        #expect(!metadata.isEmpty)
    }
}

import Foundation
@testable import CairnCheckpoint

/// Deterministic bytes so a failing comparison is reproducible.
///
/// A 64-bit LCG's high byte: unlike an arithmetic pattern, no 64-byte window
/// repeats, so tests can find a tensor's bytes in the file to damage them.
func patternBytes(_ count: Int, seed: UInt8) -> [UInt8] {
    var state = UInt64(seed) &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
}

/// Compares two trees, reading tensor bytes; returns the first difference.
func firstDifference(_ lhs: CheckpointValue, _ rhs: CheckpointValue, at path: JSONPointer = .root) throws -> String? {
    switch (lhs, rhs) {
    case let (.dictionary(a), .dictionary(b)):
        guard Array(a.keys) == Array(b.keys) else { return "\(path): keys \(Array(a.keys)) vs \(Array(b.keys))" }
        for (key, value) in a {
            if let difference = try firstDifference(value, b[key]!, at: path.appending(key)) { return difference }
        }
        return nil
    case let (.list(a), .list(b)):
        guard a.count == b.count else { return "\(path): \(a.count) vs \(b.count) items" }
        for (index, pair) in zip(a, b).enumerated() {
            if let difference = try firstDifference(pair.0, pair.1, at: path.appending(String(index))) { return difference }
        }
        return nil
    case let (.int(a), .int(b)): return a == b ? nil : "\(path): \(a) vs \(b)"
    case let (.double(a), .double(b)): return a.bitPattern == b.bitPattern ? nil : "\(path): \(a) vs \(b)"
    case let (.string(a), .string(b)): return a == b ? nil : "\(path): strings differ"
    case let (.bool(a), .bool(b)): return a == b ? nil : "\(path): \(a) vs \(b)"
    case (.null, .null): return nil
    case let (.bytes(a), .bytes(b)): return a == b ? nil : "\(path): bytes differ"
    case let (.tensor(a), .tensor(b)):
        guard a.dtype == b.dtype, a.shape == b.shape else { return "\(path): \(a.dtype) \(a.shape) vs \(b.dtype) \(b.shape)" }
        return try a.bytes() == b.bytes() ? nil : "\(path): tensor bytes differ"
    default:
        return "\(path): \(lhs.kindName) vs \(rhs.kindName)"
    }
}

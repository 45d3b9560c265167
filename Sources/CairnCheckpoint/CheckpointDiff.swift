/// One difference between two checkpoints, at a JSON Pointer.
public struct CheckpointDifference: Sendable {
    /// What changed.
    public enum Change: Sendable {
        case added(kind: String)
        case removed(kind: String)
        case kindChanged(old: String, new: String)
        case dtypeChanged(old: CheckpointDType, new: CheckpointDType)
        case shapeChanged(old: [Int], new: [Int])
        /// A scalar, string or byte string changed; both sides as they print.
        case valueChanged(old: CheckpointValue, new: CheckpointValue)
        case tensorChanged(TensorComparison)
    }

    public var path: JSONPointer
    public var change: Change
}

/// Compares the trees of two open checkpoints: structure first, then values;
/// tensors whose stored SHA-256 agree are skipped without reading them.
public struct CheckpointDiff: Sendable {
    /// Only paths at or below one of these are compared (all when empty).
    public var only: [JSONPointer] = []
    /// Paths at or below one of these are not compared.
    public var ignore: [JSONPointer] = []
    public var tolerance = TensorTolerance.exact

    public init(only: [JSONPointer] = [], ignore: [JSONPointer] = [], tolerance: TensorTolerance = .exact) {
        self.only = only
        self.ignore = ignore
        self.tolerance = tolerance
    }

    /// Every difference from `old` to `new`, in tree order: two Cairn files, two foreign files
    /// read in place, or one of each.
    public func differences(from old: any DiffableCheckpoint, to new: any DiffableCheckpoint) throws -> [CheckpointDifference] {
        var found: [CheckpointDifference] = []
        try walk(old.tree(), new.tree(), at: .root, old: old, new: new, into: &found)
        return found
    }

    /// The kind name used in the file format's `nodes.kind` column.
    public static func kindName(_ value: CheckpointValue) -> String {
        switch value {
        case .dictionary: return "dict"
        case .list: return "list"
        case .int: return "int"
        case .double: return "double"
        case .string: return "string"
        case .bool: return "bool"
        case .null: return "null"
        case .bytes: return "bytes"
        case .tensor: return "tensor"
        }
    }

    private static func isPrefix(_ prefix: JSONPointer, of path: JSONPointer) -> Bool {
        prefix.tokens.count <= path.tokens.count
            && zip(prefix.tokens, path.tokens).enumerated().allSatisfy { index, pair in
                tokenMatches(pair.0, pair.1, callbackLevel: index == 1 && path.tokens[0] == "callbacks")
            }
    }

    /// Whether a selector token names `token`. Under `/callbacks` a bare class name such as
    /// `ModelCheckpoint` also names each of its state keys (`ModelCheckpoint{"monitor": …}`,
    /// `Counter<"what":"batches">`), since nobody types a whole state key on a command line.
    static func tokenMatches(_ selector: String, _ token: String, callbackLevel: Bool) -> Bool {
        if selector == token { return true }
        guard callbackLevel, token.hasPrefix(selector), let next = token.dropFirst(selector.count).first else { return false }
        return next == "{" || next == "<"
    }

    /// Whether `path` is selected, or lies on the way to a selected path.
    private func isRelevant(_ path: JSONPointer) -> Bool {
        if ignore.contains(where: { Self.isPrefix($0, of: path) }) { return false }
        return only.isEmpty || only.contains { Self.isPrefix($0, of: path) || Self.isPrefix(path, of: $0) }
    }

    /// Whether `path` itself is inside a selected subtree (so a change there is reported).
    private func isSelected(_ path: JSONPointer) -> Bool {
        only.isEmpty || only.contains { Self.isPrefix($0, of: path) }
    }

    private func walk(_ a: CheckpointValue, _ b: CheckpointValue, at path: JSONPointer,
                      old: any DiffableCheckpoint, new: any DiffableCheckpoint, into found: inout [CheckpointDifference]) throws {
        guard isRelevant(path) else { return }
        func report(_ change: CheckpointDifference.Change) {
            if isSelected(path) { found.append(CheckpointDifference(path: path, change: change)) }
        }
        switch (a, b) {
        case let (.dictionary(left), .dictionary(right)):
            for (key, value) in left {
                let child = path.appending(key)
                if let other = right[key] {
                    try walk(value, other, at: child, old: old, new: new, into: &found)
                } else if isRelevant(child), isSelected(child) {
                    found.append(CheckpointDifference(path: child, change: .removed(kind: Self.kindName(value))))
                }
            }
            for (key, value) in right where left[key] == nil {
                let child = path.appending(key)
                if isRelevant(child), isSelected(child) {
                    found.append(CheckpointDifference(path: child, change: .added(kind: Self.kindName(value))))
                }
            }
        case let (.list(left), .list(right)):
            for index in 0..<max(left.count, right.count) {
                let child = path.appending(String(index))
                guard isRelevant(child), isSelected(child) || index < min(left.count, right.count) else { continue }
                if index >= right.count {
                    found.append(CheckpointDifference(path: child, change: .removed(kind: Self.kindName(left[index]))))
                } else if index >= left.count {
                    found.append(CheckpointDifference(path: child, change: .added(kind: Self.kindName(right[index]))))
                } else {
                    try walk(left[index], right[index], at: child, old: old, new: new, into: &found)
                }
            }
        case let (.tensor(oldLeaf), .tensor(newLeaf)):
            let oldTensor = try old.comparedTensor(at: path, leaf: oldLeaf)
            let newTensor = try new.comparedTensor(at: path, leaf: newLeaf)
            if oldTensor.dtype != newTensor.dtype {
                report(.dtypeChanged(old: oldTensor.dtype, new: newTensor.dtype))
            } else if oldTensor.shape != newTensor.shape {
                report(.shapeChanged(old: oldTensor.shape, new: newTensor.shape))
            } else if oldTensor.sha256 == nil || oldTensor.sha256 != newTensor.sha256, isSelected(path) {
                let comparison = try TensorComparison.of(oldTensor, newTensor, tolerance: tolerance)
                if comparison.differingCount > 0 { report(.tensorChanged(comparison)) }
            }
        default:
            let oldKind = Self.kindName(a), newKind = Self.kindName(b)
            if oldKind != newKind {
                report(.kindChanged(old: oldKind, new: newKind))
            } else if !Self.scalarsEqual(a, b) {
                report(.valueChanged(old: a, new: b))
            }
        }
    }

    private static func scalarsEqual(_ a: CheckpointValue, _ b: CheckpointValue) -> Bool {
        switch (a, b) {
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.string(x), .string(y)): return x == y
        case let (.bool(x), .bool(y)): return x == y
        case (.null, .null): return true
        case let (.bytes(x), .bytes(y)): return x == y
        default: return false
        }
    }
}

/// One side of a diff: a checkpoint's tree, and how each of its tensors is read.
public protocol DiffableCheckpoint {
    /// The file named in errors.
    var file: String { get }
    func tree() throws -> CheckpointValue
    /// How the tensor at `path` (the leaf `leaf` of ``tree()``) is read for comparison.
    func comparedTensor(at path: JSONPointer, leaf: CheckpointTensor) throws -> ComparedTensor
}

/// A tensor as a diff reads it: from a Cairn file (chunk by chunk, hashes checked), or lent in place.
public enum ComparedTensor {
    case stored(CheckpointTensorInfo, in: CheckpointReader)
    /// Bytes lent by the tensor itself (mapped from a foreign file, or in memory).
    case lent(CheckpointTensor, file: String, path: JSONPointer)

    public var dtype: CheckpointDType {
        switch self {
        case let .stored(info, _): return info.dtype
        case let .lent(tensor, _, _): return tensor.dtype
        }
    }

    public var shape: [Int] {
        switch self {
        case let .stored(info, _): return info.shape
        case let .lent(tensor, _, _): return tensor.shape
        }
    }

    /// The stored SHA-256; nil where none is stored.
    public var sha256: String? {
        if case let .stored(info, _) = self { return info.sha256 }
        return nil
    }

    /// Runs `body` with a source of this tensor's elements, valid only inside it.
    func withElements<R>(_ body: (any TensorElementSource) throws -> R) throws -> R {
        switch self {
        case let .stored(info, reader): return try body(TensorElementStream(reader: reader, info: info))
        case let .lent(tensor, _, _):
            return try tensor.withUnsafeBytes { raw in try body(LentElementCursor(raw: raw, dtype: tensor.dtype)) }
        }
    }

    var file: String {
        switch self {
        case let .stored(_, reader): return reader.file
        case let .lent(_, file, _): return file
        }
    }
}

extension CheckpointReader: DiffableCheckpoint {
    public func comparedTensor(at path: JSONPointer, leaf: CheckpointTensor) throws -> ComparedTensor {
        .stored(try tensorInfo(at: path), in: self)
    }
}

/// A tree whose tensors lend their own bytes (a foreign file read in place, or a tree in memory) as a diff side.
public struct LentCheckpoint: DiffableCheckpoint {
    public let file: String
    public let root: CheckpointValue

    public init(file: String, tree: CheckpointValue) {
        self.file = file
        root = tree
    }

    public func tree() throws -> CheckpointValue { root }

    public func comparedTensor(at path: JSONPointer, leaf: CheckpointTensor) throws -> ComparedTensor {
        .lent(leaf, file: file, path: path)
    }
}

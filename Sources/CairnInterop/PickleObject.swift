import CairnCheckpoint

/// A Python object as the restricted unpickler builds it. Lists and dicts are
/// classes because pickles mutate them after memoizing them (`APPEND`,
/// `SETITEMS`, `BUILD`), and every memo reference must see those changes.
enum PickleObject {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleObject])
    case list(PickleList)
    case dict(PickleDict)
    /// An allow-listed global (a callable or a storage class), never called directly.
    case global(AllowedGlobal)
    /// A typed storage from the archive's `data/` folder (a persistent id).
    case storage(PickleStorage)
    case tensor(CheckpointTensor)
}

/// A Python list (or set, read as a list) under construction.
final class PickleList {
    var items: [PickleObject] = []
}

/// A Python dict or OrderedDict; `attributes` holds what `BUILD` set on it
/// (the state_dict's `_metadata`).
final class PickleDict {
    var entries: [(key: PickleObject, value: PickleObject)] = []
    var attributes: [(key: PickleObject, value: PickleObject)] = []
}

/// A storage read from `<root>/data/<key>`: raw little-endian elements.
final class PickleStorage {
    let dtype: CheckpointDType
    let key: String
    let bytes: [UInt8]

    init(dtype: CheckpointDType, key: String, bytes: [UInt8]) {
        self.dtype = dtype
        self.key = key
        self.bytes = bytes
    }

    var elementCount: Int { bytes.count / dtype.byteWidth }
}

/// The only globals a pickle may name: those torch's `weights_only` unpickler
/// allows that occur in plain checkpoints. Anything else is refused when the
/// `GLOBAL` opcode is read, before it could be used.
enum AllowedGlobal: Equatable {
    case orderedDict
    case counter
    case rebuildTensorV2
    case rebuildParameter
    case typedStorage(CheckpointDType)
    case torchSize
    case torchDevice
    case codecsEncode
    case set
    case frozenset
    case bytearray

    static let storageTypes: [String: CheckpointDType] = [
        "FloatStorage": .f32, "DoubleStorage": .f64, "HalfStorage": .f16, "BFloat16Storage": .bf16,
        "LongStorage": .i64, "IntStorage": .i32, "ShortStorage": .i16, "CharStorage": .i8,
        "ByteStorage": .u8, "BoolStorage": .bool,
    ]

    init?(module: String, name: String) {
        switch (module, name) {
        case ("collections", "OrderedDict"): self = .orderedDict
        case ("collections", "Counter"): self = .counter
        case ("torch._utils", "_rebuild_tensor_v2"): self = .rebuildTensorV2
        case ("torch._utils", "_rebuild_parameter"): self = .rebuildParameter
        case ("torch", "Size"): self = .torchSize
        case ("torch", "device"): self = .torchDevice
        case ("_codecs", "encode"): self = .codecsEncode
        case ("builtins", "set"), ("__builtin__", "set"): self = .set
        case ("builtins", "frozenset"), ("__builtin__", "frozenset"): self = .frozenset
        case ("builtins", "bytearray"), ("__builtin__", "bytearray"): self = .bytearray
        case ("torch", _):
            guard let dtype = Self.storageTypes[name] else { return nil }
            self = .typedStorage(dtype)
        default: return nil
        }
    }
}

extension CheckpointDType {
    /// torch's name of the typed storage class for this dtype.
    var torchStorageName: String {
        switch self {
        case .f32: return "FloatStorage"
        case .f64: return "DoubleStorage"
        case .f16: return "HalfStorage"
        case .bf16: return "BFloat16Storage"
        case .i64: return "LongStorage"
        case .i32: return "IntStorage"
        case .i16: return "ShortStorage"
        case .i8: return "CharStorage"
        case .u8: return "ByteStorage"
        case .bool: return "BoolStorage"
        }
    }
}

extension PickleObject {
    /// Empties every list and dict reachable from `roots`, so that cycles a
    /// hostile pickle built (a list holding itself) do not outlive the read.
    static func breakReferenceCycles(from roots: [PickleObject]) {
        var pending = roots
        var visited = Set<ObjectIdentifier>()
        while let object = pending.popLast() {
            switch object {
            case let .list(list):
                guard visited.insert(ObjectIdentifier(list)).inserted else { continue }
                pending += list.items
                list.items = []
            case let .dict(dict):
                guard visited.insert(ObjectIdentifier(dict)).inserted else { continue }
                for entry in dict.entries + dict.attributes { pending += [entry.key, entry.value] }
                dict.entries = []
                dict.attributes = []
            case let .tuple(items):
                pending += items
            default:
                continue
            }
        }
    }
}

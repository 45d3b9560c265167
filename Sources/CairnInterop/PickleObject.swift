import CairnCheckpoint

/// A Python object as the restricted unpickler builds it. Lists and dicts are
/// classes because pickles mutate them after memoizing them (`APPEND`,
/// `SETITEMS`, `BUILD`), and every memo reference must see those changes.
enum PickleObject {
    case none
    case bool(Bool)
    case int(Int64)
    /// A Python integer beyond 64 bits, as its exact decimal text.
    case bigInt(String)
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
extension PickleObject {
    /// Whether this is Python's `None`.
    var isNone: Bool {
        if case .none = self { return true }
        return false
    }
}

final class PickleDict {
    var entries: [(key: PickleObject, value: PickleObject)] = []
    var attributes: [(key: PickleObject, value: PickleObject)] = []
    /// A plain-data object read as a record (`@class` first, then its fields): `BUILD` sets
    /// fields rather than attributes.
    var isRecord = false
}

/// A storage `<root>/data/<key>` (or a legacy file's storage record): raw little-endian
/// elements, lent in place from the mapped file, or inflated on each use when the zip member is
/// compressed. A tensor viewing the whole storage lends through this object, so every such view
/// shares one identity (and export writes the storage once).
final class PickleStorage: CheckpointTensorStorage, @unchecked Sendable {
    /// Where the bytes are.
    enum Backing {
        case mapped(MappedTensorBytes)
        /// A deflated zip member, inflated whenever the bytes are lent.
        case deflated(DeflatedMember)
        /// Not yet known: a legacy file stores its storages after the pickle that names them.
        case unplaced
    }

    let dtype: CheckpointDType
    let key: String
    let file: String
    /// From the persistent id's element count, checked against the backing when it is set.
    let byteCount: Int
    private(set) var backing: Backing

    init(dtype: CheckpointDType, key: String, file: String, byteCount: Int, backing: Backing) {
        self.dtype = dtype
        self.key = key
        self.file = file
        self.byteCount = byteCount
        self.backing = backing
    }

    var elementCount: Int { byteCount / dtype.byteWidth }

    /// Sets where a legacy file holds the bytes, once its storage records are found.
    func place(_ bytes: MappedTensorBytes) {
        backing = .mapped(bytes)
    }

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        switch backing {
        case let .mapped(bytes): return try bytes.withUnsafeBytes(body)
        case let .deflated(member): return try member.inflated().withUnsafeBytes(body)
        case .unplaced: throw InteropError.invalidTensor(file: file, reason: "storage '\(key)' has no data record")
        }
    }

    /// A tensor of `shape` over the storage's bytes `bytes` (relative to its start), in place.
    func tensor(shape: [Int], bytes: Range<Int>) -> CheckpointTensor {
        if bytes == 0..<byteCount { return CheckpointTensor(dtype: dtype, shape: shape, storage: .external(self)) }
        return CheckpointTensor(dtype: dtype, shape: shape, storage: .external(PickleStorageSlice(storage: self, bytes: bytes)))
    }
}

/// Part of a storage, lent through it (so it works whatever backs the storage).
struct PickleStorageSlice: CheckpointTensorStorage {
    let storage: PickleStorage
    let bytes: Range<Int>

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[bytes])) }
    }
}

/// A strided view of a storage, gathered into contiguous bytes each time they are lent; its
/// bounds were checked against the storage when the view was made.
struct StridedStorageView: CheckpointTensorStorage {
    let storage: PickleStorage
    let offset: Int
    let shape: [Int]
    let strides: [Int]

    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let width = storage.dtype.byteWidth
        let count = shape.reduce(1, *)
        var output = [UInt8](repeating: 0, count: count * width)
        try storage.withUnsafeBytes { raw in
            try output.withUnsafeMutableBytes { destination in
                guard let source = raw.baseAddress, let target = destination.baseAddress, raw.count == storage.byteCount else {
                    throw InteropError.invalidTensor(file: storage.file, reason: "storage '\(storage.key)' lent \(raw.count) bytes, not \(storage.byteCount)")
                }
                var index = [Int](repeating: 0, count: shape.count)
                for position in 0..<count {
                    var element = offset
                    for axis in shape.indices { element += index[axis] * strides[axis] }
                    target.advanced(by: position * width).copyMemory(from: source.advanced(by: element * width), byteCount: width)
                    var axis = shape.count - 1
                    while axis >= 0 {
                        index[axis] += 1
                        if index[axis] < shape[axis] { break }
                        index[axis] = 0
                        axis -= 1
                    }
                }
            }
        }
        return try output.withUnsafeBytes(body)
    }
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
    case complex
    case defaultDict
    /// `torch.float16` and the other dtypes, stored as values.
    case torchDType(String)
    /// `builtins.list` and the other builtin types, as values only (a defaultdict's factory).
    case builtinType(String)
    /// A plain-data class whose instances are read as records of their fields, never built.
    case plainClass(String)

    /// torch's dtype names (`torch.<name>`).
    static let torchDTypeNames: Set<String> = [
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex64", "cfloat", "complex128", "cdouble",
        "uint8", "int8", "int16", "short", "int32", "int", "int64", "long", "bool", "uint16", "uint32", "uint64",
        "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
    ]
    /// Builtin types a pickle may name as values (a defaultdict's factory); calling one is refused.
    static let builtinTypes: Set<String> = ["list", "dict", "int", "float", "str", "tuple", "bool"]
    /// Classes whose instances are plain data (`module.name`).
    static let plainClasses: Set<String> = ["argparse.Namespace"]

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
        case ("builtins", "complex"), ("__builtin__", "complex"): self = .complex
        case ("collections", "defaultdict"): self = .defaultDict
        case ("builtins", let type) where Self.builtinTypes.contains(type), ("__builtin__", let type) where Self.builtinTypes.contains(type):
            self = .builtinType(type)
        case let (module, name) where Self.plainClasses.contains("\(module).\(name)"):
            self = .plainClass("\(module).\(name)")
        case ("torch", let name) where Self.torchDTypeNames.contains(name):
            self = .torchDType(name)
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

/// Every list and dict one unpickling made. A pickle can build cycles (a dict
/// holding itself, even after popping it off the stack), which ARC never frees;
/// the tree is built from copies, so afterwards every container is emptied.
final class PickleContainers {
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []

    func list(_ items: [PickleObject] = []) -> PickleList {
        let list = PickleList()
        list.items = items
        lists.append(list)
        return list
    }

    func dict() -> PickleDict {
        let dict = PickleDict()
        dicts.append(dict)
        return dict
    }

    /// Cuts every link between containers; call once the result has been converted.
    func breakLinks() {
        for list in lists { list.items = [] }
        for dict in dicts {
            dict.entries = []
            dict.attributes = []
        }
        lists = []
        dicts = []
    }
}

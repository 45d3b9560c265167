import CairnCheckpoint

extension Unpickler {
    /// Applies an allow-listed global to its arguments (`REDUCE`, `NEWOBJ`).
    /// Each handler builds data; none runs anything named by the file.
    func call(_ callable: PickleObject, _ arguments: [PickleObject]) throws -> PickleObject {
        guard case let .global(global) = callable else { throw fail("REDUCE on an object that is not an allowed global") }
        switch global {
        case .orderedDict, .counter:
            let dict = containers.dict()
            if let source = arguments.first {
                switch source {
                case let .dict(other): dict.entries = other.entries
                case let .list(list): try appendPairsFromSequence(list.items, to: dict)
                case let .tuple(items): try appendPairsFromSequence(items, to: dict)
                default: throw fail("OrderedDict built from an unsupported object")
                }
            }
            return .dict(dict)
        case .rebuildTensorV2:
            return .tensor(try rebuildTensor(arguments))
        case .rebuildParameter:
            guard let data = arguments.first, case .tensor = data else { throw fail("_rebuild_parameter without a tensor") }
            return data
        case .torchSize:
            guard arguments.count == 1, case .tuple = arguments[0] else { throw fail("torch.Size needs one tuple") }
            return arguments[0]
        case .torchDevice:
            guard case let .string(name)? = arguments.first else { throw fail("torch.device needs a name") }
            if arguments.count > 1, case let .int(index) = arguments[1] { return .string("\(name):\(index)") }
            return .string(name)
        case .codecsEncode:
            // Protocol 2 spells a bytes object as _codecs.encode(text, 'latin1').
            guard case let .string(text)? = arguments.first else { throw fail("_codecs.encode needs a string") }
            var result: [UInt8] = []
            for scalar in text.unicodeScalars {
                guard scalar.value < 256 else { throw fail("_codecs.encode of a character outside latin-1") }
                result.append(UInt8(scalar.value))
            }
            return .bytes(result)
        case .set, .frozenset:
            let list = containers.list()
            switch arguments.first {
            case nil: break
            case let .list(items)?: list.items = items.items
            case let .tuple(items)?: list.items = items
            default: throw fail("set built from an unsupported object")
            }
            return .list(list)
        case .bytearray:
            switch arguments.first {
            case nil: return .bytes([])
            case let .bytes(bytes)?: return .bytes(bytes)
            default: throw fail("bytearray built from an unsupported object")
            }
        case let .typedStorage(dtype):
            throw fail("torch.\(dtype.torchStorageName) called directly; storages come only from persistent ids")
        case .complex:
            func part(_ index: Int) throws -> PickleObject {
                guard index < arguments.count else { return .float(0) }
                switch arguments[index] {
                case let .float(value): return .float(value)
                case let .int(value): return .float(Double(value))
                default: throw fail("complex needs numbers")
                }
            }
            return .dict(record("complex", [("real", try part(0)), ("imag", try part(1))]))
        case .defaultDict:
            // The factory is not kept: the entries are the data.
            return .dict(containers.dict())
        case let .plainClass(name):
            guard arguments.isEmpty else { throw fail("\(name) is built from its fields, not from arguments") }
            return .dict(record(name, []))
        case let .torchDType(name):
            throw fail("torch.\(name) called; a dtype is only stored")
        case let .builtinType(name):
            throw fail("builtins.\(name) called; only its name may be stored")
        }
    }

    /// A record: `@class` then `fields`; `BUILD` adds the object's own fields later.
    func record(_ className: String, _ fields: [(String, PickleObject)]) -> PickleDict {
        let dict = containers.dict()
        dict.isRecord = true
        dict.entries = [(.string("@class"), .string(className))] + fields.map { (.string($0.0), $0.1) }
        return dict
    }

    func appendPairsFromSequence(_ items: [PickleObject], to dict: PickleDict) throws {
        for item in items {
            guard case let .tuple(pair) = item, pair.count == 2 else { throw fail("dict item is not a pair") }
            dict.entries.append((pair[0], pair[1]))
        }
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks, …)`
    /// as a contiguous tensor, every element's index checked against the storage.
    func rebuildTensor(_ arguments: [PickleObject]) throws -> CheckpointTensor {
        guard arguments.count >= 4, case let .storage(storage) = arguments[0], case let .int(offset64) = arguments[1],
              let shape = integers(arguments[2]), let strides = integers(arguments[3]) else {
            throw fail("_rebuild_tensor_v2 needs (storage, offset, size, stride, …)")
        }
        func invalid(_ reason: String) -> InteropError {
            .invalidTensor(file: file, reason: "storage '\(storage.key)': \(reason)")
        }
        guard shape.count == strides.count else { throw invalid("size \(shape) and stride \(strides) differ in rank") }
        guard offset64 >= 0, offset64 <= Int64(storage.elementCount) else { throw invalid("storage offset \(offset64) is out of range") }
        guard shape.allSatisfy({ $0 >= 0 }), strides.allSatisfy({ $0 >= 0 }) else { throw invalid("negative size or stride") }
        let offset = Int(offset64)
        var count = 1
        var lastIndex = offset
        for (size, stride) in zip(shape, strides) {
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { throw invalid("size \(shape) overflows") }
            count = product
            if size > 0 {
                let (reach, reachOverflow) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, sumOverflow) = lastIndex.addingReportingOverflow(reach)
                guard !reachOverflow, !sumOverflow else { throw invalid("stride \(strides) overflows") }
                lastIndex = sum
            }
        }
        let width = storage.dtype.byteWidth
        // Zero or overlapping strides let a tiny storage claim a huge view; only
        // allow views larger than their storage up to a fixed budget.
        let (outputBytes, outputOverflow) = count.multipliedReportingOverflow(by: width)
        guard !outputOverflow, outputBytes <= max(storage.byteCount, TorchCheckpoint.maximumViewExpansionBytes) else {
            throw InteropError.limitExceeded(file: file, reason: "storage '\(storage.key)': a view of size \(shape), stride \(strides) would expand its storage beyond \(TorchCheckpoint.maximumViewExpansionBytes) bytes")
        }
        if count == 0 { return CheckpointTensor(dtype: storage.dtype, shape: shape, bytes: []) }
        guard lastIndex < storage.elementCount else {
            throw invalid("size \(shape), stride \(strides) and offset \(offset) reach element \(lastIndex) of a storage of \(storage.elementCount)")
        }
        var contiguousStrides = [Int](repeating: 1, count: shape.count)
        for axis in shape.indices.dropLast().reversed() { contiguousStrides[axis] = contiguousStrides[axis + 1] * shape[axis + 1] }
        let isContiguous = zip(zip(shape, strides), contiguousStrides).allSatisfy { $0.0 <= 1 || $0.1 == $1 }
        if isContiguous {
            let start = offset * width
            // In place; a view of the whole storage shares its identity, so export writes one storage for all its views.
            return storage.tensor(shape: shape, bytes: start..<(start + count * width))
        }
        // A strided view is gathered when its bytes are asked for (bounded by the expansion budget above).
        return CheckpointTensor(dtype: storage.dtype, shape: shape,
                                storage: .external(StridedStorageView(storage: storage, offset: offset, shape: shape, strides: strides)))
    }

    func integers(_ object: PickleObject) -> [Int]? {
        guard case let .tuple(items) = object else { return nil }
        var result: [Int] = []
        for item in items {
            guard case let .int(value) = item, let converted = Int(exactly: value) else { return nil }
            result.append(converted)
        }
        return result
    }
}

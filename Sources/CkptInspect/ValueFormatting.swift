import CairnCheckpoint
import Foundation

/// How tensors appear when a checkpoint value is turned into JSON.
enum TensorRendering {
    /// `{"dtype", "shape", "bytes"}`: reads no tensor bytes.
    case summary
    /// `{"dtype", "shape", "data": [...]}` with every element.
    case data
}

extension CheckpointValue {
    /// The value as plain JSON: dictionaries as objects, lists as arrays, scalars as JSON scalars.
    func json(tensors: TensorRendering) throws -> JSONValue {
        switch self {
        case let .dictionary(entries):
            return .object(try entries.map { ($0.key.token, try $0.value.json(tensors: tensors)) })
        case let .list(items): return .array(try items.map { try $0.json(tensors: tensors) })
        case let .int(value): return .int(value)
        case let .double(value): return .double(value)
        case let .string(value): return .string(value)
        case let .bool(value): return .bool(value)
        case .null: return .null
        case let .bytes(value): return .object([("base64", .string(Data(value).base64EncodedString()))])
        case let .tensor(tensor):
            var fields: [(String, JSONValue)] = [("dtype", .string(tensor.dtype.rawValue)), ("shape", .array(tensor.shape.map { .int($0) }))]
            switch tensors {
            case .summary: fields.append(("bytes", .int(tensor.byteCount)))
            case .data:
                // A 0-d tensor's data is its one value, as `tensor.tolist()` gives it.
                let values = try tensor.values().map(\.json)
                fields.append(("data", tensor.shape.isEmpty ? (values.first ?? .null) : .array(values)))
            }
            return .object(fields)
        }
    }

    /// The value as JSON with tensors summarised; reads no tensor bytes, so it cannot fail.
    var summaryJSON: JSONValue { (try? json(tensors: .summary)) ?? .null }

    /// A one-line rendering for tables and diffs; containers as their size.
    var inlineText: String {
        switch self {
        case let .dictionary(entries): return "dict (\(entries.count) keys)"
        case let .list(items): return "list (\(items.count) items)"
        case let .int(value): return String(value)
        case let .double(value): return "\(value)"
        case let .string(value): return JSONText.quoted(value)
        case let .bool(value): return value ? "true" : "false"
        case .null: return "null"
        case let .bytes(value): return "bytes (\(value.count))"
        case let .tensor(tensor): return "\(tensor.dtype.rawValue) \(shapeText(tensor.shape))"
        }
    }

    /// Bytes of all tensors below this node.
    var tensorBytes: Int {
        switch self {
        case let .tensor(tensor): return tensor.byteCount
        case let .dictionary(entries): return entries.values.reduce(0) { $0 + $1.tensorBytes }
        case let .list(items): return items.reduce(0) { $0 + $1.tensorBytes }
        default: return 0
        }
    }
}

extension CheckpointTensor {
    /// Every element as a `Double` (reads the tensor).
    func elements() throws -> [Double] {
        let dtype = self.dtype
        return try withUnsafeBytes { raw in
            (0..<raw.count / dtype.byteWidth).map { TensorElementDecoding.element(raw, at: $0 * dtype.byteWidth, dtype: dtype) }
        }
    }
}

extension CheckpointTensor {
    /// The first `limit` elements (all when nil) as stored, integers exactly (reads only those).
    func values(limit: Int? = nil) throws -> [TensorElementValue] {
        let dtype = self.dtype, width = dtype.byteWidth
        return try withUnsafeBytes { raw in
            (0..<min(raw.count / width, limit ?? Int.max)).map { TensorElementDecoding.value(raw, at: $0 * width, dtype: dtype) }
        }
    }
}

extension TensorElementValue {
    /// Integers and booleans stay exact in JSON; floats keep their decimal form.
    var json: JSONValue {
        switch self {
        case let .integer(value): return .int(value)
        case let .float(value): return .double(value)
        case let .bool(value): return .bool(value)
        }
    }

    var text: String {
        switch self {
        case let .integer(value): return String(value)
        case let .float(value): return shortNumber(value)
        case let .bool(value): return value ? "true" : "false"
        }
    }
}

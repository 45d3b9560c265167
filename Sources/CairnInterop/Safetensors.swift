import CairnCheckpoint
import Foundation
import OrderedCollections

/// Reads and writes Hugging Face `.safetensors` files: an 8-byte little-endian
/// header length, a JSON header, then the raw little-endian tensor bytes.
public enum SafetensorsFile {
    /// The reference implementation refuses headers above 100 MB; so do we,
    /// so a lying length can never make us allocate more than that.
    public static let maximumHeaderSize = 100_000_000
    static let metadataKey = "__metadata__"

    /// What a safetensors file holds: tensors in file order and the free-form metadata.
    public struct Contents: Sendable {
        /// Tensors by name, in the order of their data in the file.
        public var tensors: OrderedDictionary<String, CheckpointTensor>
        /// The header's `__metadata__` (string to string), empty if absent.
        public var metadata: [String: String]
    }

    /// The tensors of the file at `url` as a dictionary tree name → tensor.
    public static func read(_ url: URL) throws -> CheckpointValue {
        let contents = try readContents(url)
        var entries = OrderedDictionary<CheckpointKey, CheckpointValue>()
        for (name, tensor) in contents.tensors { entries[.string(name)] = .tensor(tensor) }
        return .dictionary(entries)
    }

    /// The metadata of the file at `url` (its header's `__metadata__`).
    public static func readMetadata(_ url: URL) throws -> [String: String] {
        try readContents(url).metadata
    }

    /// Tensors and metadata of the file at `url`, every offset checked first. The file is
    /// mapped, not read: each tensor lends its bytes from the mapping, so only the header is
    /// read until a tensor's bytes are asked for.
    public static func readContents(_ url: URL) throws -> Contents {
        let mapping = try MappedFile(path: url.path)
        return try parse(mapping.bytes, file: url.path) { dtype, shape, range in
            CheckpointTensor(dtype: dtype, shape: shape, storage: .external(MappedTensorBytes(mapping: mapping, range: range)))
        }
    }

    /// Parses a whole safetensors file already in memory; `file` names it in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws -> Contents {
        try bytes.withUnsafeBytes { raw in
            try parse(raw, file: file) { dtype, shape, range in
                CheckpointTensor(dtype: dtype, shape: shape, bytes: Array(raw[range]))
            }
        }
    }

    /// Checks the header against the file's `bytes` and makes each tensor from its byte range
    /// in `bytes` (all ranges checked: inside the data area, in order, no holes, no overlaps).
    static func parse(_ bytes: UnsafeRawBufferPointer, file: String,
                      tensor: (CheckpointDType, [Int], Range<Int>) -> CheckpointTensor) throws -> Contents {
        func fail(_ reason: String) -> InteropError { .malformedSafetensors(file: file, reason: reason) }
        guard bytes.count >= 8 else { throw fail("file is \(bytes.count) bytes, shorter than the 8-byte header length") }
        var declaredLength: UInt64 = 0
        for index in (0..<8).reversed() { declaredLength = declaredLength << 8 | UInt64(bytes[index]) }
        guard declaredLength <= UInt64(maximumHeaderSize) else {
            throw InteropError.limitExceeded(file: file, reason: "safetensors header length \(declaredLength) is over \(maximumHeaderSize) bytes")
        }
        let headerLength = Int(declaredLength)
        guard headerLength <= bytes.count - 8 else {
            throw fail("header length \(headerLength) runs past the end of the \(bytes.count)-byte file")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerLength)])
        guard headerBytes.first == UInt8(ascii: "{") else { throw fail("header does not start with '{'") }
        guard String(validating: headerBytes, as: UTF8.self) != nil else { throw fail("header is not valid UTF-8") }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(headerBytes)) } catch {
            throw fail("header is not valid JSON")
        }
        guard let header = json as? [String: Any] else { throw fail("header is not a JSON object") }

        var metadata: [String: String] = [:]
        var entries: [(name: String, entry: HeaderEntry)] = []
        for (name, value) in header {
            if name == metadataKey {
                guard let map = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (key, item) in map {
                    guard let text = item as? String else { throw fail("__metadata__[\(key)] is not a string") }
                    metadata[key] = text
                }
                continue
            }
            entries.append((name, try HeaderEntry(name: name, json: value, fail: fail)))
        }

        let dataStart = 8 + headerLength
        let dataLength = bytes.count - dataStart
        entries.sort { ($0.entry.start, $0.entry.end) < ($1.entry.start, $1.entry.end) }
        var expectedStart = 0
        var tensors = OrderedDictionary<String, CheckpointTensor>()
        for (name, entry) in entries {
            guard entry.start == expectedStart else {
                throw fail(entry.start < expectedStart
                    ? "tensor '\(name)' data_offsets [\(entry.start), \(entry.end)] overlap the previous tensor, which ends at \(expectedStart)"
                    : "hole in the data before tensor '\(name)': bytes \(expectedStart)..<\(entry.start) belong to no tensor")
            }
            guard entry.end <= dataLength else {
                throw fail("tensor '\(name)' data_offsets end \(entry.end) is beyond the \(dataLength) data bytes")
            }
            tensors[name] = tensor(entry.dtype, entry.shape, (dataStart + entry.start)..<(dataStart + entry.end))
            expectedStart = entry.end
        }
        guard expectedStart == dataLength else {
            throw fail("\(dataLength - expectedStart) trailing data bytes belong to no tensor")
        }
        return Contents(tensors: tensors, metadata: metadata)
    }

    /// One tensor's header record, checked on its own (dtype known, byte count
    /// equal to numel × element size, offsets ordered).
    struct HeaderEntry {
        var dtype: CheckpointDType
        var shape: [Int]
        var start: Int
        var end: Int

        init(name: String, json: Any, fail: (String) -> InteropError) throws {
            guard let record = json as? [String: Any] else { throw fail("tensor '\(name)' is not an object") }
            guard let dtypeName = record["dtype"] as? String else { throw fail("tensor '\(name)' has no dtype") }
            guard let dtype = CheckpointDType(rawValue: dtypeName) else {
                throw fail("tensor '\(name)' has the unsupported dtype \(dtypeName)")
            }
            guard let shape = Self.integers(record["shape"]) else { throw fail("tensor '\(name)' shape is not a list of non-negative integers") }
            guard let offsets = Self.integers(record["data_offsets"]), offsets.count == 2 else {
                throw fail("tensor '\(name)' data_offsets is not a pair of non-negative integers")
            }
            guard offsets[0] <= offsets[1] else { throw fail("tensor '\(name)' data_offsets [\(offsets[0]), \(offsets[1])] end before they start") }
            var expected = dtype.byteWidth
            for dimension in shape {
                let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
                guard !overflow else { throw fail("tensor '\(name)' shape \(shape) overflows") }
                expected = product
            }
            guard expected == offsets[1] - offsets[0] else {
                throw fail("tensor '\(name)' has \(offsets[1] - offsets[0]) bytes but \(dtypeName) of shape \(shape) needs \(expected)")
            }
            self.dtype = dtype
            self.shape = shape
            self.start = offsets[0]
            self.end = offsets[1]
        }

        /// Non-negative integers only, rejecting floats and values beyond `Int`.
        static func integers(_ json: Any?) -> [Int]? {
            guard let list = json as? [Any] else { return nil }
            var result: [Int] = []
            for item in list {
                guard let number = item as? NSNumber else { return nil }
                let value = number.int64Value
                guard value >= 0, number.stringValue == String(value) else { return nil }
                result.append(Int(value))
            }
            return result
        }
    }
}

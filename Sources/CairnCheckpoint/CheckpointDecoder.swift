import Foundation
import OrderedCollections

/// Rebuilds any `Decodable` value from a checkpoint subtree written by
/// ``CheckpointEncoder`` (or by hand in the same shape).
public struct CheckpointDecoder {
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from value: CheckpointValue) throws -> T {
        try TreeDecoder(value: value, codingPath: [], userInfo: userInfo).decodeValue(type)
    }
}

private struct TreeDecoder: Decoder {
    let value: CheckpointValue
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    func failure(_ reason: String) -> CheckpointError {
        .coding(path: checkpointPath(codingPath), reason: reason)
    }

    func child(_ value: CheckpointValue, _ key: any CodingKey) -> TreeDecoder {
        TreeDecoder(value: value, codingPath: codingPath + [key], userInfo: userInfo)
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if let primitive = try decodePrimitive(type) { return primitive }
        return try T(from: self)
    }

    /// Scalars read directly, mirroring `checkpointPrimitive`.
    private func decodePrimitive<T>(_ type: T.Type) throws -> T? {
        func mismatch() -> CheckpointError { failure("expected \(type), found \(value.kindName)") }
        switch type {
        case is Bool.Type:
            guard case let .bool(flag) = value else { throw mismatch() }
            return flag as? T
        case is String.Type:
            guard case let .string(text) = value else { throw mismatch() }
            return text as? T
        case is Double.Type, is Float.Type:
            let number: Double
            switch value {
            case let .double(stored): number = stored
            case let .int(stored): number = Double(stored)
            default: throw mismatch()
            }
            return (type is Float.Type ? Float(number) as Any : number as Any) as? T
        case is Data.Type:
            guard case let .bytes(bytes) = value else { throw mismatch() }
            return Data(bytes) as? T
        case let integerType as any FixedWidthInteger.Type:
            guard case let .int(stored) = value else { throw mismatch() }
            guard let converted = integerType.init(exactly: stored) else {
                throw failure("\(stored) does not fit in \(type)")
            }
            return converted as? T
        default:
            return nil
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case let .dictionary(entries) = value else { throw failure("expected a dictionary, found \(value.kindName)") }
        return KeyedDecodingContainer(KeyedTreeDecoder<Key>(decoder: self, entries: entries))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case let .list(items) = value else { throw failure("expected a list, found \(value.kindName)") }
        return UnkeyedTreeDecoder(decoder: self, items: items)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleTreeDecoder(decoder: self) }
}

private struct KeyedTreeDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: TreeDecoder
    let entries: OrderedDictionary<CheckpointKey, CheckpointValue>
    var codingPath: [any CodingKey] { decoder.codingPath }
    var allKeys: [Key] {
        entries.keys.compactMap { key in
            switch key {
            case let .string(text): return Key(stringValue: text)
            case let .int(number): return Int(exactly: number).flatMap { Key(intValue: $0) } ?? Key(stringValue: String(number))
            }
        }
    }

    private func entry(_ key: any CodingKey) throws -> CheckpointValue {
        if let value = entries[checkpointKey(key)] ?? entries[.string(key.stringValue)] { return value }
        throw decoder.child(.null, key).failure("no value for key '\(key.stringValue)'")
    }

    func contains(_ key: Key) -> Bool { entries[checkpointKey(key)] != nil || entries[.string(key.stringValue)] != nil }
    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = try entry(key) { return true }
        return false
    }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try decoder.child(try entry(key), key).decodeValue(type)
    }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try decoder.child(try entry(key), key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try decoder.child(try entry(key), key).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder {
        let key = SuperKey()
        return decoder.child(try entry(key), key)
    }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder.child(try entry(key), key) }
}

private struct UnkeyedTreeDecoder: UnkeyedDecodingContainer {
    let decoder: TreeDecoder
    let items: [CheckpointValue]
    var currentIndex = 0
    var codingPath: [any CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(decoder: TreeDecoder, items: [CheckpointValue]) {
        self.decoder = decoder
        self.items = items
    }

    private mutating func next() throws -> TreeDecoder {
        let key = IndexKey(intValue: currentIndex)
        guard !isAtEnd else { throw decoder.child(.null, key).failure("list has only \(items.count) items") }
        currentIndex += 1
        return decoder.child(items[key.intValue ?? 0], key)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .null = items[currentIndex] else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleTreeDecoder: SingleValueDecodingContainer {
    let decoder: TreeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool {
        if case .null = decoder.value { return true }
        return false
    }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(type) }
}

extension CheckpointValue {
    /// A word for the node's kind, used in error messages.
    var kindName: String {
        switch self {
        case .dictionary: return "a dictionary"
        case .list: return "a list"
        case .int: return "an integer"
        case .double: return "a double"
        case .string: return "a string"
        case .bool: return "a bool"
        case .null: return "null"
        case .bytes: return "bytes"
        case .tensor: return "a tensor"
        }
    }
}

import Foundation
import OrderedCollections

/// Turns any `Encodable` value (a callback's state, hyper-parameters) into a
/// checkpoint subtree: structs and dictionaries become ordered dictionaries,
/// arrays become lists, `Data` becomes bytes, integers stay 64-bit integers.
public struct CheckpointEncoder {
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> CheckpointValue {
        let box = EncodingBox()
        try box.store(value, path: [], userInfo: userInfo)
        return box.resolved()
    }
}

/// Mutable slot a container writes into; resolved into a value at the end.
final class EncodingBox {
    enum Content {
        case unset
        case value(CheckpointValue)
        case dictionary(OrderedDictionary<CheckpointKey, EncodingBox>)
        case list([EncodingBox])
    }

    var content: Content = .unset

    func resolved() -> CheckpointValue {
        switch content {
        case .unset: return .dictionary([:])
        case let .value(value): return value
        case let .dictionary(entries): return .dictionary(entries.mapValues { $0.resolved() })
        case let .list(items): return .list(items.map { $0.resolved() })
        }
    }

    func store<T: Encodable>(_ value: T, path: [any CodingKey], userInfo: [CodingUserInfoKey: Any]) throws {
        if let primitive = try checkpointPrimitive(value, path: path) {
            content = .value(primitive)
        } else {
            try value.encode(to: BoxEncoder(box: self, codingPath: path, userInfo: userInfo))
        }
    }
}

/// Scalars stored directly rather than through their own `encode(to:)`.
func checkpointPrimitive(_ value: Any, path: [any CodingKey]) throws -> CheckpointValue? {
    switch value {
    case let flag as Bool: return .bool(flag)
    case let text as String: return .string(text)
    case let number as Double: return .double(number)
    case let number as Float: return .double(Double(number))
    case let data as Data: return .bytes([UInt8](data))
    case let number as any BinaryInteger:
        guard let exact = Int64(exactly: number) else {
            throw CheckpointError.coding(path: checkpointPath(path), reason: "integer \(number) does not fit in Int64")
        }
        return .int(exact)
    default: return nil
    }
}

func checkpointKey(_ key: any CodingKey) -> CheckpointKey {
    if let number = key.intValue, key.stringValue == String(number) { return .int(Int64(number)) }
    return .string(key.stringValue)
}

func checkpointPath(_ codingPath: [any CodingKey]) -> String {
    JSONPointer(tokens: codingPath.map { checkpointKey($0).token }).description
}

/// The key `super` of `superEncoder()`/`superDecoder()`, whatever the container's key type.
struct SuperKey: CodingKey {
    let stringValue = "super"
    var intValue: Int? { nil }
    init() {}
    init?(stringValue: String) { return nil }
    init?(intValue: Int) { return nil }
}

/// Integer coding key for list positions.
struct IndexKey: CodingKey {
    let intValue: Int?
    let stringValue: String
    init(intValue: Int) { self.intValue = intValue; stringValue = String(intValue) }
    init?(stringValue: String) { return nil }
}

private struct BoxEncoder: Encoder {
    let box: EncodingBox
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .dictionary = box.content {} else { box.content = .dictionary([:]) }
        return KeyedEncodingContainer(KeyedBoxEncoder<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .list = box.content {} else { box.content = .list([]) }
        return UnkeyedBoxEncoder(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleBoxEncoder(encoder: self) }

    func child(_ key: any CodingKey) -> BoxEncoder {
        BoxEncoder(box: EncodingBox(), codingPath: codingPath + [key], userInfo: userInfo)
    }
}

private struct KeyedBoxEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: BoxEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func insert(_ key: any CodingKey) -> BoxEncoder {
        let child = encoder.child(key)
        if case var .dictionary(entries) = encoder.box.content {
            entries[checkpointKey(key)] = child.box
            encoder.box.content = .dictionary(entries)
        }
        return child
    }

    mutating func encodeNil(forKey key: Key) throws { insert(key).box.content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let child = insert(key)
        try child.box.store(value, path: child.codingPath, userInfo: encoder.userInfo)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        insert(key).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { insert(key).unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { insert(SuperKey()) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { insert(key) }
}

private struct UnkeyedBoxEncoder: UnkeyedEncodingContainer {
    let encoder: BoxEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int {
        if case let .list(items) = encoder.box.content { return items.count }
        return 0
    }

    private func append() -> BoxEncoder {
        let child = encoder.child(IndexKey(intValue: count))
        if case var .list(items) = encoder.box.content {
            items.append(child.box)
            encoder.box.content = .list(items)
        }
        return child
    }

    mutating func encodeNil() throws { append().box.content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let child = append()
        try child.box.store(value, path: child.codingPath, userInfo: encoder.userInfo)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        append().container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { append().unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { append() }
}

private struct SingleBoxEncoder: SingleValueEncodingContainer {
    let encoder: BoxEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.box.content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        try encoder.box.store(value, path: codingPath, userInfo: encoder.userInfo)
    }
}

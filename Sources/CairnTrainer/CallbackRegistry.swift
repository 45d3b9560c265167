import Foundation

/// Callbacks by name, so a command line can ask for `Name:key=value,key=value`.
/// Registration and lookup are safe from any thread.
public final class CallbackRegistry: @unchecked Sendable {
    /// Builds a callback from its parsed arguments.
    public typealias Factory = @Sendable (inout CallbackArguments) throws -> Callback

    /// The process-wide registry, holding the built-in callbacks.
    public static let shared = CallbackRegistry()

    private let lock = NSLock()
    private var factories: [String: Factory] = [:]

    /// A registry holding every built-in callback (see ``CallbackRegistry/builtIns``).
    public init() {
        for type in Self.builtIns { register(type.registryName) { try type.make(from: &$0) } }
    }

    /// Adds or replaces the factory for `name`.
    public func register(_ name: String, _ factory: @escaping Factory) {
        lock.withLock { factories[name] = factory }
    }

    /// The registered names, sorted.
    public var names: [String] { lock.withLock { factories.keys.sorted() } }

    /// Builds the callback a spec such as `ModelCheckpoint:monitor=val_loss,save_top_k=2` names;
    /// unknown names, keys the factory did not read, and bad values are errors.
    public func make(_ spec: String) throws -> Callback {
        let (name, arguments) = try CallbackArguments.parse(spec)
        guard let factory = lock.withLock({ factories[name] }) else {
            throw CallbackSpecError.unknownCallback(name: name, known: names)
        }
        var remaining = arguments
        let callback = try factory(&remaining)
        if let unused = remaining.unread.first {
            throw CallbackSpecError.unknownKey(callback: name, key: unused)
        }
        return callback
    }
}

/// A callback the registry can build from `key=value` arguments; the built-in ones are listed
/// in ``CallbackRegistry/builtIns``.
public protocol RegistrableCallback: Callback {
    /// The name a spec uses, such as `ModelCheckpoint`.
    static var registryName: String { get }
    /// Builds an instance, reading its arguments (Lightning's snake_case names) from `arguments`.
    static func make(from arguments: inout CallbackArguments) throws -> Callback
}

/// The `key=value` arguments of a callback spec; each read marks its key as used.
public struct CallbackArguments: Sendable {
    /// The callback name the arguments belong to.
    public let callback: String
    private var values: [String: String]
    private var read = Set<String>()

    /// Keys given but never read by the factory, sorted.
    public var unread: [String] { values.keys.filter { !read.contains($0) }.sorted() }

    init(callback: String, values: [String: String]) {
        self.callback = callback
        self.values = values
    }

    /// Splits `Name:key=value,key=value` (the part after the colon is optional).
    static func parse(_ spec: String) throws -> (String, CallbackArguments) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts[0].trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw CallbackSpecError.malformed(spec: spec, reason: "no callback name before ':'") }
        var values: [String: String] = [:]
        if parts.count > 1, !parts[1].isEmpty {
            for pair in parts[1].split(separator: ",", omittingEmptySubsequences: false) {
                let keyValue = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = keyValue[0].trimmingCharacters(in: .whitespaces)
                guard keyValue.count == 2, !key.isEmpty else {
                    throw CallbackSpecError.malformed(spec: spec, reason: "'\(pair)' is not key=value")
                }
                guard values[key] == nil else { throw CallbackSpecError.malformed(spec: spec, reason: "key \(key) given twice") }
                values[key] = keyValue[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return (name, CallbackArguments(callback: name, values: values))
    }

    /// The text given for `key`, or nil.
    public mutating func string(_ key: String) -> String? {
        read.insert(key)
        return values[key]
    }

    /// `key` converted by `convert`, `fallback` when absent; a value `convert` rejects is an error naming the key.
    public mutating func value<Value>(_ key: String, default fallback: Value, expected: String? = nil,
                                      _ convert: (String) -> Value?) throws -> Value {
        guard let text = string(key) else { return fallback }
        guard let converted = convert(text) else {
            throw CallbackSpecError.badValue(callback: callback, key: key, value: text, expected: expected ?? String(describing: Value.self))
        }
        return converted
    }

    /// `key` as an integer, or nil when absent.
    public mutating func int(_ key: String) throws -> Int? {
        try value(key, default: nil, expected: "integer") { Int($0).map { Optional($0) } }
    }

    /// `key` as a number, or nil when absent.
    public mutating func double(_ key: String) throws -> Double? {
        try value(key, default: nil, expected: "number") { Double($0).map { Optional($0) } }
    }

    /// `key` as `true`/`false` (also `1`/`0`).
    public mutating func bool(_ key: String, default fallback: Bool) throws -> Bool {
        try value(key, default: fallback, expected: "Boolean (true or false)") { ["true": true, "1": true, "false": false, "0": false][$0.lowercased()] }
    }
}

/// Why a callback spec could not be turned into a callback.
public enum CallbackSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No factory is registered under the name.
    case unknownCallback(name: String, known: [String])
    /// The spec is not `Name:key=value,...`.
    case malformed(spec: String, reason: String)
    /// A key the callback does not take.
    case unknownKey(callback: String, key: String)
    /// A value that does not convert to the key's type.
    case badValue(callback: String, key: String, value: String, expected: String)

    public var description: String {
        switch self {
        case let .unknownCallback(name, known): "unknown callback \(name); known: \(known.joined(separator: ", "))"
        case let .malformed(spec, reason): "callback spec '\(spec)': \(reason)"
        case let .unknownKey(callback, key): "\(callback): unknown argument \(key)"
        case let .badValue(callback, key, value, expected): "\(callback): \(key)=\(value) is not a valid \(expected)"
        }
    }
}

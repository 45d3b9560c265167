import CairnCheckpoint
import Foundation

/// A pickle reader for protocols 2–5 that builds plain data only: it knows a
/// fixed set of opcodes and calls nothing but the handlers of `AllowedGlobal`.
struct Unpickler {
    /// Caps that keep hostile input from exhausting memory.
    static let maximumStackDepth = 1 << 20

    /// The pickle's bytes (borrowed: the unpickler lives only while its caller lends them).
    let bytes: UnsafeRawBufferPointer
    let file: String
    /// Resolves a persistent id (`BINPERSID`) into a storage.
    let persistentLoad: (PickleObject) throws -> PickleObject
    var position = 0
    var opcodeStart = 0
    var stack: [PickleObject] = []
    var marks: [Int] = []
    var memo: [Int: PickleObject] = [:]
    /// Every list and dict made, so their links can be cut after conversion.
    let containers = PickleContainers()

    /// Reads from `start` in `bytes`; error offsets count from `bytes`' start plus `offsetBase`
    /// (where `bytes` lies in its file).
    init(bytes: UnsafeRawBufferPointer, start: Int = 0, offsetBase: Int = 0, file: String,
         persistentLoad: @escaping (PickleObject) throws -> PickleObject) {
        self.bytes = bytes
        self.file = file
        self.offsetBase = offsetBase
        self.persistentLoad = persistentLoad
        position = start
    }

    /// Added to positions in errors.
    let offsetBase: Int

    func fail(_ reason: String) -> InteropError {
        .malformedPickle(file: file, offset: offsetBase + opcodeStart, reason: reason)
    }

    // MARK: Reading raw fields

    mutating func take(_ count: Int) throws -> Slice<UnsafeRawBufferPointer> {
        guard count >= 0, count <= bytes.count - position else {
            throw fail("needs \(count) bytes but only \(bytes.count - position) remain")
        }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func littleEndian(_ count: Int) throws -> UInt64 {
        var value: UInt64 = 0
        for byte in try take(count).reversed() { value = value << 8 | UInt64(byte) }
        return value
    }

    mutating func length(_ width: Int) throws -> Int {
        let value = try littleEndian(width)
        guard value <= UInt64(bytes.count - position) else {
            throw fail("declared length \(value) runs past the end of the pickle")
        }
        return Int(value)
    }

    mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else { throw fail("unterminated text line") }
        let text = String(decoding: bytes[position..<end], as: UTF8.self)
        position = end + 1
        return text
    }

    mutating func utf8(_ count: Int) throws -> String {
        guard let text = String(validating: try take(count), as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return text
    }

    // MARK: Stack

    mutating func push(_ object: PickleObject) throws {
        guard stack.count < Self.maximumStackDepth else {
            throw InteropError.limitExceeded(file: file, reason: "pickle stack deeper than \(Self.maximumStackDepth)")
        }
        stack.append(object)
    }

    mutating func pop() throws -> PickleObject {
        guard stack.count > (marks.last ?? 0), let top = stack.popLast() else {
            throw fail("pop from an empty stack")
        }
        return top
    }

    mutating func top() throws -> PickleObject {
        guard stack.count > (marks.last ?? 0), let last = stack.last else { throw fail("empty stack") }
        return last
    }

    /// The objects pushed since the last `MARK`, which is removed.
    mutating func popToMark() throws -> [PickleObject] {
        guard let mark = marks.popLast() else { throw fail("no MARK on the stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    // MARK: Running

    /// Runs the pickle to `STOP` and returns its result.
    mutating func load() throws -> PickleObject {
        while true {
            opcodeStart = position
            guard position < bytes.count else { throw fail("pickle ends without STOP") }
            let opcode = bytes[position]
            position += 1
            if opcode == UInt8(ascii: ".") {
                guard stack.count == 1, marks.isEmpty else { throw fail("STOP with \(stack.count) objects on the stack") }
                return stack[0]
            }
            try execute(opcode)
        }
    }

    mutating func execute(_ opcode: UInt8) throws {
        switch opcode {
        case 0x80: _ = try take(1) // PROTO
        case 0x95: _ = try take(8) // FRAME: framing only groups opcodes
        case UInt8(ascii: "("): marks.append(stack.count)
        case UInt8(ascii: "0"): _ = try pop()
        case UInt8(ascii: "1"): _ = try popToMark()
        case UInt8(ascii: "2"): try push(try top())
        case UInt8(ascii: "N"): try push(.none)
        case 0x88: try push(.bool(true))
        case 0x89: try push(.bool(false))
        case UInt8(ascii: "J"): try push(.int(Int64(Int32(truncatingIfNeeded: try littleEndian(4)))))
        case UInt8(ascii: "K"): try push(.int(Int64(try littleEndian(1))))
        case UInt8(ascii: "M"): try push(.int(Int64(try littleEndian(2))))
        case 0x8a: try push(try longInteger(byteCount: try length(1)))
        case 0x8b: try push(try longInteger(byteCount: try length(4)))
        case UInt8(ascii: "G"): try push(.float(Double(bitPattern: try littleEndian(8).byteSwapped)))
        case 0x8c: try push(.string(try utf8(try length(1))))
        case UInt8(ascii: "X"): try push(.string(try utf8(try length(4))))
        case 0x8d: try push(.string(try utf8(try length(8))))
        case UInt8(ascii: "C"): try push(.bytes(Array(try take(try length(1)))))
        case UInt8(ascii: "B"): try push(.bytes(Array(try take(try length(4)))))
        case 0x8e, 0x96: try push(.bytes(Array(try take(try length(8)))))
        case UInt8(ascii: "U"): try push(.string(String(decoding: try take(try length(1)), as: UTF8.self)))
        case UInt8(ascii: "T"): try push(.string(String(decoding: try take(try length(4)), as: UTF8.self)))
        case UInt8(ascii: ")"): try push(.tuple([]))
        case UInt8(ascii: "t"): try push(.tuple(try popToMark()))
        case 0x85: let a = try pop(); try push(.tuple([a]))
        case 0x86: let b = try pop(), a = try pop(); try push(.tuple([a, b]))
        case 0x87: let c = try pop(), b = try pop(), a = try pop(); try push(.tuple([a, b, c]))
        case UInt8(ascii: "]"), 0x8f: try push(.list(containers.list()))
        case UInt8(ascii: "l"): try push(.list(containers.list(try popToMark())))
        case 0x91: try push(.list(containers.list(try popToMark())))
        case UInt8(ascii: "}"): try push(.dict(containers.dict()))
        case UInt8(ascii: "d"):
            let dict = containers.dict()
            try appendPairs(try popToMark(), to: dict)
            try push(.dict(dict))
        case UInt8(ascii: "a"):
            let item = try pop()
            try list(try top()).items.append(item)
        case UInt8(ascii: "e"), 0x90:
            let items = try popToMark()
            try list(try top()).items += items
        case UInt8(ascii: "s"):
            let value = try pop(), key = try pop()
            try dict(try top()).entries.append((key, value))
        case UInt8(ascii: "u"):
            let items = try popToMark()
            try appendPairs(items, to: try dict(try top()))
        case UInt8(ascii: "q"): memo[Int(try littleEndian(1))] = try top()
        case UInt8(ascii: "r"): memo[Int(try littleEndian(4))] = try top()
        case 0x94: memo[memo.count] = try top()
        case UInt8(ascii: "h"): try push(try memoized(Int(try littleEndian(1))))
        case UInt8(ascii: "j"): try push(try memoized(Int(try littleEndian(4))))
        case UInt8(ascii: "c"):
            let module = try line(), name = try line()
            try push(.global(try allowedGlobal(module: module, name: name)))
        case 0x93:
            let name = try pop(), module = try pop()
            guard case let .string(moduleName) = module, case let .string(globalName) = name else {
                throw fail("STACK_GLOBAL needs two strings")
            }
            try push(.global(try allowedGlobal(module: moduleName, name: globalName)))
        case UInt8(ascii: "R"):
            let arguments = try pop(), callable = try pop()
            guard case let .tuple(items) = arguments else { throw fail("REDUCE arguments are not a tuple") }
            try push(try call(callable, items))
        case 0x81:
            let arguments = try pop(), callable = try pop()
            guard case let .tuple(items) = arguments else { throw fail("NEWOBJ arguments are not a tuple") }
            try push(try call(callable, items))
        case UInt8(ascii: "b"):
            let state = try pop()
            try build(try top(), state: state)
        case UInt8(ascii: "Q"):
            let pid = try pop()
            try push(try persistentLoad(pid))
        default:
            throw fail(String(format: "unsupported opcode 0x%02x", opcode))
        }
    }

    /// Most bytes of a Python integer read exactly (about 2,466 decimal digits).
    static let maximumLongBytes = 1024

    /// `LONG1`/`LONG4`: a little-endian two's-complement integer, as `.int` when it fits 64 bits
    /// and otherwise as its exact decimal text.
    mutating func longInteger(byteCount: Int) throws -> PickleObject {
        guard byteCount <= Self.maximumLongBytes else {
            throw InteropError.limitExceeded(file: file, reason: "integer of \(byteCount) bytes, over \(Self.maximumLongBytes)")
        }
        guard byteCount > 0 else { return .int(0) }
        if byteCount <= 8 {
            let raw = try littleEndian(byteCount)
            let unusedBits = UInt64(64 - 8 * byteCount)
            return .int(Int64(bitPattern: raw << unusedBits) >> Int64(unusedBits))
        }
        return .bigInt(Self.decimal(twosComplement: Array(try take(byteCount))))
    }

    /// The decimal text of a little-endian two's-complement integer of any length.
    static func decimal(twosComplement bytes: [UInt8]) -> String {
        let negative = (bytes.last ?? 0) & 0x80 != 0
        var magnitude = bytes
        if negative {
            // Two's complement: invert and add one.
            var carry: UInt16 = 1
            for index in magnitude.indices {
                let sum = UInt16(~magnitude[index]) + carry
                magnitude[index] = UInt8(truncatingIfNeeded: sum)
                carry = sum >> 8
            }
        }
        // Repeated division by 10⁹ of the big-endian limbs.
        var limbs = magnitude.reversed().map { UInt32($0) }
        var chunks: [UInt32] = []
        while limbs.contains(where: { $0 != 0 }) {
            var remainder: UInt64 = 0
            for index in limbs.indices {
                let value = remainder << 8 | UInt64(limbs[index])
                limbs[index] = UInt32(value / 1_000_000_000)
                remainder = value % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
        }
        guard let top = chunks.last else { return "0" }
        let rest = chunks.dropLast().reversed().map { chunk -> String in
            let digits = String(chunk)
            return String(repeating: "0", count: 9 - digits.count) + digits
        }
        return (negative ? "-" : "") + String(top) + rest.joined()
    }

    func memoized(_ index: Int) throws -> PickleObject {
        guard let object = memo[index] else { throw fail("memo slot \(index) is empty") }
        return object
    }

    func list(_ object: PickleObject) throws -> PickleList {
        guard case let .list(list) = object else { throw fail("APPEND to something that is not a list") }
        return list
    }

    func dict(_ object: PickleObject) throws -> PickleDict {
        guard case let .dict(dict) = object else { throw fail("SETITEM on something that is not a dict") }
        return dict
    }

    func appendPairs(_ items: [PickleObject], to dict: PickleDict) throws {
        guard items.count % 2 == 0 else { throw fail("odd number of items for a dict") }
        for index in stride(from: 0, to: items.count, by: 2) { dict.entries.append((items[index], items[index + 1])) }
    }

    func allowedGlobal(module: String, name: String) throws -> AllowedGlobal {
        guard let global = AllowedGlobal(module: module, name: name) else {
            throw InteropError.forbiddenGlobal(file: file, module: module, name: name)
        }
        return global
    }

    /// `BUILD` sets attributes from a state dict (or the dict of a
    /// `(state, slots)` pair); only dicts accept them.
    func build(_ target: PickleObject, state: PickleObject) throws {
        var states = [state]
        if case let .tuple(items) = state, items.count == 2 { states = items }
        for part in states {
            switch (target, part) {
            case (_, .none): continue
            case let (.dict(dict), .dict(attributes)) where dict.isRecord: dict.entries += attributes.entries
            case let (.dict(dict), .dict(attributes)): dict.attributes += attributes.entries
            case (.tensor, _): continue // requires_grad hooks and the like: not part of the data
            default: throw fail("BUILD on an object that cannot take attributes")
            }
        }
    }
}

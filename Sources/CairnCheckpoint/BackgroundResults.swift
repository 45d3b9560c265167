import Dispatch
import Foundation

/// Computes `count` values in order on a background thread while the caller
/// consumes them in the same order: the two-stage pipeline that lets SHA-256
/// run on one core while SQLite copies bytes on the other.
final class BackgroundResults<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Value?]
    private var isCancelled = false
    private let available = DispatchSemaphore(value: 0)
    private let finished = DispatchGroup()

    init(count: Int, compute: @escaping @Sendable (Int) -> Value) {
        values = Array(repeating: nil, count: count)
        finished.enter()
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            defer { finished.leave() }
            for index in 0..<count {
                if lock.withLock({ isCancelled }) { return }
                let value = compute(index)
                lock.withLock { values[index] = value }
                available.signal()
            }
        }
    }

    /// The value at `index`, waiting for it; indices must be asked for in order.
    func value(at index: Int) -> Value {
        available.wait()
        return lock.withLock {
            guard let value = values[index] else { preconditionFailure("BackgroundResults read out of order at \(index)") }
            values[index] = nil
            return value
        }
    }

    /// Stops early and waits until the worker no longer touches borrowed memory.
    func cancelAndWait() {
        lock.withLock { isCancelled = true }
        finished.wait()
    }
}

/// Memory lent to a worker thread for the span of one save or load call.
struct SharedBytes: @unchecked Sendable {
    let buffer: UnsafeRawBufferPointer
}

/// Lowercase hexadecimal, the form checksums take in the file.
func hexString<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var characters: [UInt8] = []
    characters.reserveCapacity(64)
    for byte in bytes {
        characters.append(digits[Int(byte >> 4)])
        characters.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: characters, as: UTF8.self)
}

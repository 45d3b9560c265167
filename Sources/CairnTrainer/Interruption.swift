import Dispatch
import Foundation

/// A stop request raised from any thread (a signal handler, a UI) and honoured by the
/// trainer's loops after the batch in flight.
public final class InterruptFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false

    public init() {}

    /// Asks the running loop to stop after its current batch.
    public func raise() { lock.withLock { raised = true } }

    /// Whether a stop was asked for and not yet acted on.
    public var isRaised: Bool { lock.withLock { raised } }

    /// Returns whether the flag was raised, lowering it: one request stops one run.
    func consume() -> Bool {
        lock.withLock {
            defer { raised = false }
            return raised
        }
    }
}

/// While alive, SIGINT raises `flag` instead of killing the process; a second SIGINT before the
/// first is acted on exits at once with status 130 (checkpoint writes are atomic, so files stay whole).
public final class InterruptSignalHandler: @unchecked Sendable {
    private let source: DispatchSourceSignal
    private let signalNumber: Int32

    public init(flag: InterruptFlag, signal signalNumber: Int32 = SIGINT) {
        self.signalNumber = signalNumber
        // The default action would kill the process before the dispatch source saw the signal.
        signal(signalNumber, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler {
            if flag.isRaised { _exit(130) }
            flag.raise()
        }
        source.resume()
    }

    deinit {
        source.cancel()
        signal(signalNumber, SIG_DFL)
    }
}

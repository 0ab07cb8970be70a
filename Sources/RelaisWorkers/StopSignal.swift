import Foundation
import Synchronization

/// A flag set once to ask a long-running thread to stop, which also wakes it from a
/// `sleep(_:)` at once.
///
/// Loops check `isSet` between rounds (a load, cheap enough for every round) and pause
/// with `sleep(_:)`, which waits on a condition variable: a shutdown never waits for a
/// pause to run out, and a sleeping thread costs nothing while it waits.
public final class StopSignal: Sendable {
    private let latch = Latch()

    /// Creates a signal that is not set.
    public init() {}

    /// Whether `set()` was called.
    public var isSet: Bool { latch.isOpen }

    /// Sets the signal and wakes every thread sleeping on it. Setting it again does nothing.
    public func set() { latch.open() }

    /// Sleeps for `duration`, or less if the signal is or becomes set; returns whether it
    /// is set.
    @discardableResult
    public func sleep(_ duration: Duration) -> Bool { latch.wait(for: duration) }

    /// Sleeps until `deadline`, or less if the signal is or becomes set; returns whether
    /// it is set.
    @discardableResult
    public func sleep(until deadline: ContinuousClock.Instant) -> Bool { latch.wait(until: deadline) }
}

/// A gate that opens once; threads wait for it to open, with a deadline.
///
/// The flag is an atomic so that checking it takes no lock; the condition is only
/// taken to wait and to wake the waiters.
final class Latch: Sendable {
    private let flag = Atomic<Bool>(false)
    /// Taken to wait and to wake the waiters; `open()` sets the flag under it, so a waiter
    /// that found the flag unset under it cannot miss the wake-up.
    private let condition = NSCondition()

    /// The longest single wait on the condition. Its timed wait counts on the wall clock:
    /// a clock set back while a thread waits must not stretch a one-second pause into an
    /// hour (the health monitor's pause feeds the watchdog), so a long wait is made of
    /// waits of at most this, each measured again on the monotonic clock.
    static let longestWait: Duration = .seconds(1)

    init() {}

    /// Whether the gate is open.
    var isOpen: Bool { flag.load(ordering: .acquiring) }

    /// Opens the gate and wakes every waiter.
    func open() {
        condition.lock()
        flag.store(true, ordering: .releasing)
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the gate to open for at most `duration`; returns whether it is open.
    func wait(for duration: Duration) -> Bool {
        wait(until: ContinuousClock.now + duration)
    }

    /// Waits for the gate to open until `deadline`; returns whether it is open.
    func wait(until deadline: ContinuousClock.Instant) -> Bool {
        if isOpen { return true }
        condition.lock()
        defer { condition.unlock() }
        while !isOpen {
            let left = deadline - .now
            if left <= .zero { return false }
            let step = min(left, Self.longestWait)
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(step.components.seconds)
                + Double(step.components.attoseconds) / 1e18))
        }
        return true
    }
}

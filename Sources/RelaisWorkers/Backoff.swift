/// The pause between two tries at a server that failed (Redis, PostgreSQL), growing
/// with each failure in a row up to a cap, so that nothing spins on a dead server and a
/// server that comes back is used again within a few seconds.
///
/// The delay doubles from `initial` to `maximum`; jitter takes up to `jitter` of it off
/// at random, so that threads that failed together do not all try again together.
/// `reset()` after a success starts again from `initial`.
public struct Backoff: Sendable {
    /// The delay after the first failure.
    public let initial: Duration
    /// The longest delay.
    public let maximum: Duration
    /// The largest fraction (0 to 1) taken off a delay at random.
    public let jitter: Double
    /// Failures since the last `reset()`.
    public private(set) var failures = 0

    /// Creates a backoff from `initial` doubling to `maximum`, less up to `jitter` of each delay.
    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5), jitter: Double = 0.25) {
        self.initial = max(initial, .zero)
        self.maximum = max(maximum, self.initial)
        self.jitter = min(max(jitter, 0), 1)
    }

    /// Counts a failure and returns how long to wait before the next try.
    ///
    /// `random` (0 up to 1) chooses the jitter; a test passes a fixed one.
    public mutating func next(random: Double = Double.random(in: 0..<1)) -> Duration {
        failures = failures == Int.max ? failures : failures + 1
        return delay(afterFailures: failures, random: random)
    }

    /// Starts again from `initial`: the server answered.
    public mutating func reset() { failures = 0 }

    /// Whether the failure just counted is worth a log line: the first of a run, then
    /// every 60th, so that an outage is reported without a line per try.
    public var isWorthLogging: Bool { failures == 1 || failures % 60 == 0 }

    /// The delay after `failures` failures in a row (1 or more).
    public func delay(afterFailures failures: Int, random: Double) -> Duration {
        // 2^30 times any initial delay is past any sensible cap: no overflow beyond it.
        let doublings = failures <= 1 ? 0 : min(failures - 1, 30)
        let full = min(initial * (1 << doublings), maximum)
        let taken = jitter * min(max(random, 0), 1)
        return full * (1 - taken)
    }
}

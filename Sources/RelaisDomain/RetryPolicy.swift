/// When to try a job again after a transient failure: exponential backoff with jitter.
public struct RetryPolicy: Sendable, Equatable {
    /// How many times a job is tried in all before it goes to the dead letters.
    public var maxAttempts: Int
    /// The delay before the second attempt.
    public var baseDelay: Duration
    /// The longest delay between two attempts.
    public var maxDelay: Duration
    /// How much of each delay is random, from 0 (none) to 1 (all of it).
    public var jitter: Double

    /// Creates a policy; the defaults fit jobs that wait on another service.
    public init(maxAttempts: Int = 8, baseDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(600), jitter: Double = 0.5) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
    }

    /// The decision after `attempt` (1-based) failed transiently.
    public enum Decision: Sendable, Equatable {
        /// Try again after this delay.
        case retry(after: Duration)
        /// No attempts left.
        case giveUp
    }

    /// What to do after attempt number `attempt` failed; `random` is in [0, 1).
    ///
    /// The delay doubles with each attempt up to `maxDelay`; the jittered share is
    /// scaled by `random` so that jobs failing together do not return together.
    ///
    /// Any `attempt` is safe, however absurd: the arithmetic saturates and the delay
    /// stays within `0...maxDelay`.
    public func decide(afterAttempt attempt: Int, random: Double) -> Decision {
        guard attempt < maxAttempts else { return .giveUp }
        let exponent = min(max(attempt, 1), 41) - 1
        let base = min(baseDelay.seconds * pow2(exponent), maxDelay.seconds)
        let share = random.isFinite ? min(max(random, 0), 1) : 0
        let delay = max(0, base * (1 - jitter) + base * jitter * share)
        return .retry(after: .milliseconds(Int64((delay * 1000).rounded())))
    }

    /// The attempt number a stream entry claims, as Relais counts it: a number in
    /// `1...maxAttempts`. The `attempt` field is written by the retry mover, but any
    /// field of an entry can come from a producer: anything else (missing, not a number,
    /// out of range) is clamped, so that a forged value can at most make its own job
    /// give up early, never break the arithmetic.
    public func attempt(fromField bytes: [UInt8]?) -> Int {
        guard let bytes, !bytes.isEmpty, bytes.count <= 19, bytes.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let value = Int(String(decoding: bytes, as: UTF8.self))
        else { return 1 }
        return min(max(value, 1), max(maxAttempts, 1))
    }

    private func pow2(_ n: Int) -> Double { Double(UInt64(1) << UInt64(n)) }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

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
    public func decide(afterAttempt attempt: Int, random: Double) -> Decision {
        guard attempt < maxAttempts else { return .giveUp }
        let exponent = min(max(attempt - 1, 0), 40)
        let base = min(baseDelay.seconds * pow2(exponent), maxDelay.seconds)
        let delay = base * (1 - jitter) + base * jitter * min(max(random, 0), 1)
        return .retry(after: .milliseconds(Int64((delay * 1000).rounded())))
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

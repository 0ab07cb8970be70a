import RelaisDomain

/// How the queue engine consumes: the operator's configuration (docs/configuration.md).
public struct QueueSettings: Sendable, Equatable {
    /// The key prefix of every stream: `<prefix>:<queue>`, `<prefix>:dead`.
    public var prefix: String = "relais"
    /// The consumer group on each stream.
    public var group: String = "relais"
    /// This instance's stable name; consumers are `<instance>-<queue>-<n>` so that a
    /// restarted instance finds the entries it held before.
    public var instance: String = "relais"
    /// Entries fetched per read.
    public var batchSize: Int = 500
    /// Consumer threads per queue.
    public var workersPerQueue: Int = 4
    /// How long one read waits for new entries; also bounds how long a stop waits for a read.
    public var blockTimeout: Duration = .seconds(1)
    /// An entry pending this long with no lease renewal is taken over by another consumer.
    public var claimIdle: Duration = .seconds(60)
    /// An entry delivered more often than this is a poison job: it goes to the dead letters.
    public var maxDeliveries: Int = 10
    /// The retry schedule for transient failures.
    public var retry: RetryPolicy = RetryPolicy()
    /// The payload size limit.
    public var maxPayloadBytes: Int = EnvelopeRules.maxBytes
    /// Payload bytes one batch may hold; bigger jobs make smaller batches, so that
    /// catalogue jobs spread over every consumer instead of filling one batch. About six
    /// 1,000-SKU catalogues: batches holding many more shops made the consumers wait for
    /// each other's shop locks (docs/performance.md).
    public var maxBatchBytes: Int = 256 << 10
    /// The dead-letter stream is trimmed to about this many entries.
    public var deadLetterMaxLength: Int = 100_000

    /// The defaults.
    public init() {}

    /// The dead-letter stream every queue shares: `<prefix>:dead`.
    public var deadLetterStream: String { "\(prefix):dead" }

    /// The keys of `queue`.
    public func keys(_ queue: String) -> QueueKeys { QueueKeys(prefix: prefix, queue: queue, dead: deadLetterStream) }
}

/// The Redis keys of one queue.
public struct QueueKeys: Sendable, Equatable {
    /// The queue's name, such as `stock`.
    public let queue: String
    /// The stream producers add to: `<prefix>:<queue>`.
    public let stream: String
    /// The sorted set of jobs waiting to be retried: `<prefix>:<queue>:retry`.
    public let retry: String
    /// The dead-letter stream shared by every queue: `<prefix>:dead`.
    public let dead: String

    /// The keys for `queue` under `prefix`, sharing the dead-letter stream `dead`.
    init(prefix: String, queue: String, dead: String) {
        self.queue = queue
        stream = "\(prefix):\(queue)"
        retry = "\(prefix):\(queue):retry"
        self.dead = dead
    }
}

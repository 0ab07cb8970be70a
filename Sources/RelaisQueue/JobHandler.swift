import RelaisDomain

/// A stream entry's job as the engine hands it to a family: the raw bytes, unread.
public struct StreamJob: Sendable {
    /// The stream entry it came from.
    public let entryId: String
    /// The bytes of the entry's `job` field.
    public let payload: [UInt8]
    /// 1 for the first try, then one more for each retry (Relais's own count, clamped).
    public let attempt: Int
    /// How many times the stream delivered the entry, when that is more than
    /// `max_deliveries`: a valid job is then poison and must not be applied again.
    public let excessDeliveries: Int64?
}

/// What a family made of one `StreamJob`: the outcome, and what could be read of the job
/// for the logs, the metrics and the dead letter.
public struct HandledJob: Sendable, Equatable {
    /// What became of it.
    public var outcome: JobOutcome
    /// The job id, when it could be read.
    public var id: String?
    /// The job type, when it could be read.
    public var type: String?
    /// When the producer says it enqueued the job, for a valid job that says so.
    public var enqueuedAt: Timestamp?

    /// Creates a result.
    public init(_ outcome: JobOutcome, id: String? = nil, type: String? = nil, enqueuedAt: Timestamp? = nil) {
        self.outcome = outcome
        self.id = id
        self.type = type
        self.enqueuedAt = enqueuedAt
    }
}

/// What the engine asks of a job family: take a batch of raw jobs, apply their effects
/// exactly once each, say what became of each.
///
/// A handler is made on a consumer's own thread and used only there, so it may own a
/// database connection. `handle` returns one result per job, in order; it throws only
/// when its backing store is unreachable, and then the engine leaves the batch pending,
/// waits, and tries again with a new handler.
public protocol JobHandler: AnyObject {
    /// Reads, validates and applies `jobs`; one result each, in the same order.
    func handle(_ jobs: [StreamJob]) throws -> [HandledJob]
    /// Releases the handler's connections.
    func close()
}

/// A queue as the engine runs it: its name, its job types and how to make a handler.
public struct JobFamily: Sendable {
    /// The queue's name, such as `stock`: the streams' keys and the metrics' `queue` label.
    public let queue: String
    /// The job types the queue accepts: the metrics' `type` label, any other is `unknown`.
    public let types: [String]
    /// Makes a handler; called on each consumer's thread, again after a store failure.
    public let makeHandler: @Sendable () throws -> any JobHandler

    /// Defines a queue.
    public init(queue: String, types: [String], makeHandler: @escaping @Sendable () throws -> any JobHandler) {
        self.queue = queue
        self.types = types
        self.makeHandler = makeHandler
    }
}

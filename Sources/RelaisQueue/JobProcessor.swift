import RelaisDomain

/// A job taken from a stream and validated, as handed to a processor.
public struct QueuedJob<Job: Sendable>: Sendable {
    /// The stream entry it came from.
    public let entryId: String
    /// The validated envelope and payload.
    public let envelope: Envelope<Job>
    /// 1 for the first try, then one more for each retry.
    public let attempt: Int

    /// Creates a queued job.
    public init(entryId: String, envelope: Envelope<Job>, attempt: Int) {
        self.entryId = entryId
        self.envelope = envelope
        self.attempt = attempt
    }
}

/// What became of one job: a value, never an exception string.
public enum JobOutcome: Sendable, Equatable {
    /// The effect was committed.
    case done
    /// A job with this id had already taken effect; nothing was done again.
    case duplicate
    /// A transient failure: try again later (the engine picks the delay).
    case retry(reason: String)
    /// The job can never succeed as it is.
    case dead(JobRejection)

    /// The `outcome` label of the metrics and logs.
    public var label: String {
        switch self {
        case .done: "done"
        case .duplicate: "duplicate"
        case .retry: "retry"
        case .dead: "dead"
        }
    }
}

/// Applies a batch of jobs' effects, exactly once each.
///
/// A processor is made on a consumer's own thread and used only there, so it may own
/// a database connection. `process` returns one outcome per job, in order; it throws
/// only when its backing store is unreachable, and then the engine leaves the batch
/// pending, waits and tries again with a new processor.
public protocol JobProcessor<Job>: AnyObject {
    /// The queue's decoded job type.
    associatedtype Job: Sendable
    /// Commits the effects of `jobs` and returns their outcomes in the same order.
    func process(_ jobs: [QueuedJob<Job>]) throws -> [JobOutcome]
    /// Releases the processor's connections.
    func close()
}

/// A queue: its job types and how to make a processor for a consumer thread.
public struct QueueDefinition<Catalog: JobCatalog>: Sendable {
    /// The queue's job types.
    public let catalog: Catalog
    /// Makes a processor; called on the consumer's thread, again after a failure.
    public let makeProcessor: @Sendable () throws -> any JobProcessor<Catalog.Job>

    /// Defines a queue.
    public init(_ catalog: Catalog, makeProcessor: @escaping @Sendable () throws -> any JobProcessor<Catalog.Job>) {
        self.catalog = catalog
        self.makeProcessor = makeProcessor
    }
}

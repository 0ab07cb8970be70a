/// A validated job as a family's processor receives it.
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

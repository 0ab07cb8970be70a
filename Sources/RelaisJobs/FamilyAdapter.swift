import JSONReader
import RelaisContract
import RelaisDomain
import RelaisQueue
import RelaisStore

/// What a family's jobs need from outside: where the store is, and the operator's settings
/// the use cases read.
public struct FamilyEnvironment: Sendable {
    /// The PostgreSQL connection string.
    public var databaseURL: String
    /// The delivery channels configured; messages for the others go to the log.
    public var channels: Set<Channel>
    /// When reminders are due.
    public var reminders: ReminderRules
    /// How long a statement waits for a row or advisory lock before its batch is retried
    /// later (a PostgreSQL interval), so that one stuck lock never wedges a consumer.
    public var lockTimeout: String

    /// Creates an environment.
    public init(databaseURL: String, channels: Set<Channel> = [], reminders: ReminderRules = ReminderRules(),
                lockTimeout: String = "5s") {
        self.databaseURL = databaseURL
        self.channels = channels
        self.reminders = reminders
        self.lockTimeout = lockTimeout
    }
}

/// A family's use case as its adapter drives it: a store processor, one per consumer thread.
protocol FamilyProcessor<Job>: AnyObject, SendableMetatype {
    /// The family's decoded job.
    associatedtype Job: Sendable
    /// Commits `jobs`' effects; one outcome each, in order. Throws when the store is unreachable.
    func process(_ jobs: [QueuedJob<Job>]) throws -> [JobOutcome]
    /// Releases the processor's connection.
    func close()
}

/// One job family as Relais runs it: its queue, its catalogue (how its jobs' `data` is
/// read and checked) and the processor that applies them.
///
/// Each family is one file that defines its catalogue and one `FamilyAdapter`, listed in
/// `JobFamilies.all`; nothing else in Relais names a family.
public struct FamilyAdapter: Sendable {
    /// The queue's name.
    public let queue: String
    /// The job types of the queue.
    public let types: [String]
    private let check: @Sendable (_ payload: [UInt8]) -> JobRejection?
    private let make: @Sendable (_ environment: FamilyEnvironment) -> JobFamily

    /// The family of `catalog`, applied by the processors `processor` makes.
    init<Catalog: JobCatalog, Processor: FamilyProcessor>(
        _ catalog: Catalog.Type, processor: @escaping @Sendable (_ environment: FamilyEnvironment) throws -> Processor
    ) where Processor.Job == Catalog.Job {
        queue = Catalog.queue
        types = Catalog.types
        check = { payload in
            if case .failure(let failure) = EnvelopeDecoder(Catalog.self).decode(payload) { return failure.rejection }
            return nil
        }
        make = { environment in
            JobFamily(queue: Catalog.queue, types: Catalog.types) {
                CatalogHandler(Catalog.self, processor: try processor(environment))
            }
        }
    }

    /// Reads `payload` as the consumers will: nil when it would be accepted, otherwise
    /// the rejection its dead letter would carry.
    public func validate(_ payload: [UInt8]) -> JobRejection? { check(payload) }

    /// The queue as the engine runs it, its handlers connected as `environment` says.
    public func family(_ environment: FamilyEnvironment) -> JobFamily { make(environment) }
}

/// Reads each job of a batch with the family's catalogue, hands the valid ones to the
/// processor, and puts the outcomes back in the batch's order.
final class CatalogHandler<Catalog: JobCatalog, Processor: FamilyProcessor>: JobHandler where Processor.Job == Catalog.Job {
    private let decoder: EnvelopeDecoder<Catalog>
    private let processor: Processor
    /// Kept for the thread's documents: see `JSONParser`.
    private let parser = JSONParser()

    init(_ catalog: Catalog.Type, processor: Processor) {
        decoder = EnvelopeDecoder(catalog)
        self.processor = processor
    }

    func handle(_ jobs: [StreamJob]) throws -> [HandledJob] {
        var results: [HandledJob] = []
        results.reserveCapacity(jobs.count)
        var valid: [QueuedJob<Catalog.Job>] = []
        var validAt: [Int] = []
        for job in jobs {
            switch decoder.decode(job.payload, parser: parser) {
            case .success(let envelope):
                // Poison is judged on valid jobs only: an invalid one keeps the reason
                // that names its field, however often it was delivered.
                if let deliveries = job.excessDeliveries {
                    results.append(HandledJob(.dead(JobRejection(.poison, "delivered \(deliveries) times without finishing")),
                                              id: envelope.id, type: envelope.type))
                    continue
                }
                validAt.append(results.count)
                valid.append(QueuedJob(entryId: job.entryId, envelope: envelope, attempt: job.attempt))
                results.append(HandledJob(.done, id: envelope.id, type: envelope.type, enqueuedAt: envelope.enqueuedAt))
            case .failure(let failure):
                results.append(HandledJob(.dead(failure.rejection), id: failure.id, type: failure.type))
            }
        }
        if !valid.isEmpty {
            let outcomes = try processor.process(valid)
            precondition(outcomes.count == valid.count, "a processor returns one outcome per job")
            for (index, outcome) in zip(validAt, outcomes) { results[index].outcome = outcome }
        }
        return results
    }

    func close() { processor.close() }
}

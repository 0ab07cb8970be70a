import PostgresClient
import RelaisDomain

/// The settings of every connection that runs Relais's statements.
public enum StoreSession {
    /// Plans each statement for its own parameters and the tables as they are now.
    ///
    /// A cached generic plan made while a table was nearly empty (a fresh install, the
    /// first minutes after a migration) went on scanning it whole once it had grown,
    /// because nothing replans before autovacuum analyzes the table. PostgreSQL's own
    /// choice between the two was measured slower too (docs/performance.md).
    ///
    /// The updates that join a batch's `unnest(…)` to a table also say `key = ANY($1)`:
    /// the planner then fetches the batch's rows through the index instead of hashing
    /// the whole table.
    ///
    /// Through a pooler (`PgConnection.isPooled`) the setting is made per transaction; the
    /// statements go unnamed there, and PostgreSQL plans an unnamed statement for its own
    /// parameters anyway.
    public static func configure(_ db: PgConnection) throws {
        try db.setSessionSetting("plan_cache_mode", "force_custom_plan")
    }
}

/// The SQL expression turning `micros`, an `int8` of microseconds since the epoch (how
/// times travel to PostgreSQL), into a `timestamptz`.
///
/// Seconds and microseconds are added apart, which is exact for every date of the
/// contract: PostgreSQL multiplies an interval in floating point, so
/// `n * interval '1 microsecond'` alone is a microsecond off for odd counts after 2255,
/// and a `float8` division would be too.
func timestamp(fromMicros micros: String) -> String {
    "timestamptz 'epoch' + (\(micros) / 1000000) * interval '1 second' + (\(micros) % 1000000) * interval '1 microsecond'"
}

/// What every processor does around its own statements.
enum ProcessorSupport {
    /// Connects, checks that the schema is the one this build expects, and sets how long
    /// a statement waits for a lock (a PostgreSQL interval) before the job is retried
    /// later, so that one stuck lock never wedges a consumer.
    static func connect(_ conninfo: String, lockTimeout: String) throws -> PgConnection {
        let db = try PgConnection(conninfo)
        do {
            let state = try Migrator().state(db)
            guard case .current = state else { throw MigrationError(state: state) }
            try db.setSessionSetting("lock_timeout", lockTimeout)
            try StoreSession.configure(db)
        } catch {
            db.close()
            throw error
        }
        return db
    }

    /// Commits `jobs` with `apply` in one transaction, taking them as new in the ledger
    /// (see `IdempotencyLedger`); if one was not, does it again sorting out the
    /// duplicates. If PostgreSQL rejects the transaction for something a job carries,
    /// tries each job alone so that one bad job does not hold back the others.
    ///
    /// A transient failure (a lock timeout, a deadlock, a cancelled statement) is not the
    /// jobs' fault: every job of the batch is retried on its retry schedule, after one
    /// lock timeout. Splitting the batch would make each job wait its own, and hold the
    /// consumer for minutes. A lost connection or a problem of the database itself (a
    /// missing table, a permission) is thrown: the batch stays pending until the store
    /// is back or an operator fixes it, instead of dead-lettering every job.
    static func commit<Job>(_ db: PgConnection, _ jobs: [QueuedJob<Job>], ledger: IdempotencyLedger.Mode = .expectingNew,
                            _ apply: ([QueuedJob<Job>], IdempotencyLedger.Mode) throws -> [JobOutcome]) throws -> [JobOutcome] {
        do {
            return try db.transaction { try apply(jobs, ledger) }
        } catch let error as PgError where error.isLedgerConflict && ledger == .expectingNew {
            return try commit(db, jobs, ledger: .sortingDuplicates, apply)
        } catch let error as PgError where error.isTransient && !error.connectionLost {
            return Array(repeating: .retry(reason: error.description), count: jobs.count)
        } catch let error as PgError where !error.isTransient && !error.isDatabaseSetupProblem {
            if jobs.count > 1 { return try jobs.flatMap { try commit(db, [$0], ledger: .sortingDuplicates, apply) } }
            return [.dead(JobRejection(.permanentFailure, "PostgreSQL refused the effect: \(error)"))]
        }
    }

    /// Commits a batch of jobs about subjects (orders, appointments, quotes), once per job
    /// id, in one transaction (`commit` above): takes the transaction's advisory lock on
    /// each subject with `lock` (so that the events of one subject are applied by one
    /// consumer at a time, even one that does not exist yet; `lock` takes them in a fixed
    /// order, so that no two batches deadlock), takes the jobs new to `queue`'s ledger,
    /// reads the subjects those name with `load`, and has `apply` plan and write their
    /// effects, returning the plan's outcome of each new job in order.
    static func commit<Job, Stored>(_ db: PgConnection, _ jobs: [QueuedJob<Job>], queue: String, subject: (Job) -> String,
                                    lock: PgStatement, load: (Set<ExactText>) throws -> Stored,
                                    _ apply: (_ new: [QueuedJob<Job>], _ stored: Stored) throws -> [OrderJobOutcome])
        throws -> [JobOutcome] {
        try commit(db, jobs) { jobs, ledger in
            db.send(lock, [PgArray.text(jobs.map { subject($0.envelope.job) })])
            let fresh = try IdempotencyLedger.claim(db, queue: queue, jobs, ledger)
            let new = zip(jobs, fresh).filter(\.1).map(\.0)
            let planned = try apply(new, try load(Set(new.map { ExactText(subject($0.envelope.job)) })))
            return settle(db, queue: queue, jobs, fresh: fresh, planned)
        }
    }

    /// The queue engine's outcome of each job of an order or pickup batch, given which
    /// were fresh in the ledger and the plan's outcomes of the fresh ones. A job to be
    /// retried has not taken effect: its id is taken out of the `queue`'s ledger again.
    static func settle<Job>(_ db: PgConnection, queue: String, _ jobs: [QueuedJob<Job>], fresh: [Bool],
                            _ planned: [OrderJobOutcome]) -> [JobOutcome] {
        var outcomes = planned.makeIterator()
        var retried: [String] = []
        let results: [JobOutcome] = zip(jobs, fresh).map { job, isFresh in
            guard isFresh else { return .duplicate }
            switch outcomes.next()! {
            case .applied, .ignored: return .done
            case .retry(let reason):
                retried.append(job.envelope.id)
                return .retry(reason: reason)
            }
        }
        if !retried.isEmpty { IdempotencyLedger.forget(db, queue: queue, ids: retried) }
        return results
    }
}

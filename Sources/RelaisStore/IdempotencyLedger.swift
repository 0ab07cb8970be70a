import PostgresClient
import RelaisDomain

/// The record of jobs that took effect, written in the same transaction as the effect.
///
/// A transaction first records its jobs as new with a plain insert queued before its
/// effects (`.expectingNew`): most jobs are, and the insert is cheaper than one that
/// looks for conflicts, needs no answer and so no round trip of its own. A job already
/// in the ledger makes the insert fail with a unique violation (`isLedgerConflict`),
/// which rolls the whole transaction back; the transaction is then done again with
/// `.sortingDuplicates`, which asks which jobs are new and applies only those.
public enum IdempotencyLedger {
    /// How a transaction records its jobs.
    public enum Mode: Sendable {
        /// Every job is taken as new; one that is not fails the transaction.
        case expectingNew
        /// Each job is looked up, and only the new ones are applied.
        case sortingDuplicates
    }

    /// Records jobs taken as new; fails with a unique violation on `processed_jobs_pkey`
    /// when one is in the ledger already (committed, or by a transaction that then commits).
    ///
    /// $1 queue; $2 text[] job ids; $3 text[] job types (same length as $2, ids unique).
    static let insert = PgStatement("ledger.insert", """
        INSERT INTO relais.processed_jobs (queue, job_id, job_type)
        SELECT $1, id, type FROM unnest($2::text[], $3::text[]) AS j(id, type)
        """)

    /// Records jobs as processed and returns the ids recorded now (not seen before).
    ///
    /// $1 queue; $2 text[] job ids; $3 text[] job types (same length as $2, ids unique).
    static let record = PgStatement("ledger.record", """
        INSERT INTO relais.processed_jobs (queue, job_id, job_type)
        SELECT $1, id, type FROM unnest($2::text[], $3::text[]) AS j(id, type)
        ON CONFLICT DO NOTHING
        RETURNING job_id
        """)

    /// Deletes up to $2 ledger rows older than the retention; a job id reused after that
    /// is new again.
    ///
    /// $1 retention as an interval, such as `30 days`; $2 the most rows to delete.
    static let prune = PgStatement("ledger.prune", """
        DELETE FROM relais.processed_jobs WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM relais.processed_jobs WHERE processed_at < now() - $1::interval LIMIT $2))
        """)

    /// Splits `jobs` into those to apply now (`true`) and duplicates.
    ///
    /// A job is a duplicate if its id appeared earlier in the same batch or, when `mode`
    /// is `.sortingDuplicates`, if it is in the ledger already. Must run inside the
    /// transaction that applies the effects.
    public static func claim<Job>(_ db: PgConnection, queue: String, _ jobs: [QueuedJob<Job>], _ mode: Mode) throws -> [Bool] {
        // Ids compared byte for byte, as the ledger's primary key compares them.
        var firstSeen = Set<ExactText>()
        var unique: [QueuedJob<Job>] = []
        for job in jobs where firstSeen.insert(ExactText(job.envelope.id)).inserted { unique.append(job) }
        let parameters = [queue, PgArray.text(unique.map(\.envelope.id)), PgArray.text(unique.map(\.envelope.type))]
        var fresh: Set<ExactText>
        switch mode {
        case .expectingNew:
            db.send(insert, parameters)
            fresh = firstSeen
        case .sortingDuplicates:
            fresh = Set(try db.run(record, parameters).rows.compactMap { $0.first ?? nil }.map { ExactText($0) })
        }
        return jobs.map { fresh.remove(ExactText($0.envelope.id)) != nil }
    }

    /// $1 queue; $2 text[] job ids.
    static let forgetIds = PgStatement("ledger.forget", """
        DELETE FROM relais.processed_jobs WHERE queue = $1 AND job_id = ANY($2::text[])
        """)

    /// Takes ids out of the ledger again, inside the transaction that recorded them: their
    /// jobs did not take effect and will be tried again.
    public static func forget(_ db: PgConnection, queue: String, ids: [String]) {
        db.send(forgetIds, [queue, PgArray.text(ids)])
    }

    /// Forgets ids older than `retention` (a PostgreSQL interval); returns how many.
    public static func prune(_ db: PgConnection, retention: String, limit: Int) throws -> Int {
        try db.run(prune, [retention, String(limit)]).affected
    }
}

extension PgError {
    /// Whether a job taken as new by `IdempotencyLedger.Mode.expectingNew` was in the ledger.
    public var isLedgerConflict: Bool {
        sqlState == "23505" && statement == IdempotencyLedger.insert.name
    }
}

import PostgresClient
import RelaisDomain
import RelaisQueue

/// The record of jobs that took effect, written in the same transaction as the effect.
public enum IdempotencyLedger {
    /// Records jobs as processed and returns the ids recorded now (not seen before).
    ///
    /// $1 queue; $2 text[] job ids; $3 text[] job types (same length as $2, ids unique).
    static let record = PgStatement("ledger.record", """
        INSERT INTO relais.processed_jobs (queue, job_id, job_type)
        SELECT $1, id, type FROM unnest($2::text[], $3::text[]) AS j(id, type)
        ON CONFLICT DO NOTHING
        RETURNING job_id
        """)

    /// Deletes ledger rows older than the retention; a job id reused after that is new again.
    ///
    /// $1 retention as an interval, such as `30 days`.
    static let prune = PgStatement("ledger.prune", """
        DELETE FROM relais.processed_jobs WHERE processed_at < now() - $1::interval
        """)

    /// Splits `jobs` into those to apply now and the outcome of the rest.
    ///
    /// A job is a duplicate if its id is in the ledger already or appeared earlier in
    /// the same batch. Must run inside the transaction that applies the effects.
    public static func claim<Job>(_ db: PgConnection, queue: String, _ jobs: [QueuedJob<Job>]) throws -> [Bool] {
        var firstSeen = Set<String>()
        var unique: [QueuedJob<Job>] = []
        for job in jobs where firstSeen.insert(job.envelope.id).inserted { unique.append(job) }
        let rows = try db.run(record, [queue, PgArray.text(unique.map(\.envelope.id)), PgArray.text(unique.map(\.envelope.type))])
        var fresh = Set(rows.rows.compactMap { $0.first ?? nil })
        return jobs.map { fresh.remove($0.envelope.id) != nil }
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
    public static func prune(_ db: PgConnection, retention: String) throws -> Int {
        try db.run(prune, [retention]).affected
    }
}

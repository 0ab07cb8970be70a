import PostgresClient
import RelaisDomain

/// Applies `stock` jobs to PostgreSQL: set-based statements, exactly once per job id.
public final class StockProcessor {
    private let db: PgConnection
    private let queue: String
    private let maxRowsPerTransaction: Int

    /// Connects to the database and checks the schema is the one this build expects.
    ///
    /// - Parameters:
    ///   - queue: the queue whose jobs it applies, the key of their idempotency ledger.
    ///   - maxRowsPerTransaction: bounds memory and lock time per transaction.
    ///   - lockTimeout: how long a statement waits for a lock before the job is
    ///     retried later (a PostgreSQL interval), so that one stuck lock never wedges a consumer.
    public init(conninfo: String, queue: String, maxRowsPerTransaction: Int = 20_000, lockTimeout: String = "5s") throws {
        db = try ProcessorSupport.connect(conninfo, lockTimeout: lockTimeout)
        self.queue = queue
        self.maxRowsPerTransaction = maxRowsPerTransaction
    }

    /// Closes the connection.
    public func close() { db.close() }

    /// Round trips to PostgreSQL so far (see `PgConnection.roundTrips`).
    public var roundTrips: Int { db.roundTrips }

    /// Commits the effects of `jobs` and returns their outcomes in the same order; throws
    /// only when PostgreSQL is unreachable or not set up.
    public func process(_ jobs: [QueuedJob<StockJob>]) throws -> [JobOutcome] {
        var outcomes: [JobOutcome] = []
        outcomes.reserveCapacity(jobs.count)
        var chunk: [QueuedJob<StockJob>] = []
        var rows = 0
        for job in jobs {
            if !chunk.isEmpty && rows + job.envelope.job.rowCount > maxRowsPerTransaction {
                outcomes += try commit(chunk)
                chunk.removeAll(keepingCapacity: true)
                rows = 0
            }
            chunk.append(job)
            rows += job.envelope.job.rowCount
        }
        if !chunk.isEmpty { outcomes += try commit(chunk) }
        return outcomes
    }

    private func commit(_ jobs: [QueuedJob<StockJob>]) throws -> [JobOutcome] {
        try ProcessorSupport.commit(db, jobs, apply)
    }

    private func apply(_ jobs: [QueuedJob<StockJob>], _ ledger: IdempotencyLedger.Mode) throws -> [JobOutcome] {
        let fresh = try IdempotencyLedger.claim(db, queue: queue, jobs, ledger)
        let effective = zip(jobs, fresh).compactMap { job, isFresh in isFresh ? (job.envelope.id, job.envelope.job) : nil }
        let steps = StockPlan.steps(for: effective)
        StockSQL.lock(db, StockPlan.locks(for: steps))
        for step in steps {
            switch step {
            case .observe(let rows):
                let observedAt = rows.map(\.observedAt.microseconds)
                db.send(StockSQL.observe, [
                    PgArray.text(rows.map(\.shopId)), PgArray.text(rows.map(\.sku)),
                    PgArray.integers(rows.map(\.onHand)), PgArray.integers(observedAt),
                    PgArray.text(StockPlan.shops(of: rows)), String(observedAt.min() ?? 0),
                ])
            case .zeroUnlisted(let shopId, let listed, let observedAt):
                db.send(StockSQL.zeroUnlisted, [shopId, PgArray.text(listed), String(observedAt.microseconds)])
            case .adjust(let rows):
                db.send(StockSQL.adjust, [
                    PgArray.text(rows.map(\.shopId)), PgArray.text(rows.map(\.sku)), PgArray.integers(rows.map(\.delta)),
                    PgArray.integers(rows.map(\.at.microseconds)), PgArray.text(rows.map(\.jobId)),
                ])
            }
        }
        return fresh.map { $0 ? .done : .duplicate }
    }
}

/// The statements of the stock use cases. Times travel as microseconds since the epoch
/// (see `timestamp(fromMicros:)`).
enum StockSQL {
    /// Takes `locks` (see `StockLocks`), in one statement and one order: by scope, then
    /// by the hash of the name, which is the key PostgreSQL locks. Names that share a
    /// hash share a lock, which costs only waiting. Each statement after it starts
    /// (READ COMMITTED: a fresh snapshot per statement) once every transaction that
    /// held a conflicting lock has committed, and sees its work. Queued with `send`: it
    /// travels with those statements and runs before them.
    static func lock(_ db: PgConnection, _ locks: StockLocks) {
        guard !locks.locks.isEmpty else { return }
        db.send(takeLocks, [
            PgArray.integers(locks.locks.map { Int64($0.scope.rawValue) }), PgArray.text(locks.locks.map(\.name)),
            PgArray.booleans(locks.locks.map(\.exclusive)),
        ])
    }

    /// $1 int8[] scopes; $2 text[] names; $3 bool[] exclusive.
    static let takeLocks = PgStatement("stock.lock", """
        SELECT count(CASE WHEN l.exclusive THEN pg_advisory_xact_lock(l.scope, l.key)
                          ELSE pg_advisory_xact_lock_shared(l.scope, l.key) END)
        FROM (SELECT scope::int4 AS scope, hashtext(name) AS key, bool_or(exclusive) AS exclusive
              FROM unnest($1::int8[], $2::text[], $3::bool[]) AS t(scope, name, exclusive)
              GROUP BY 1, 2
              ORDER BY 1, 2) AS l
        """)

    /// Upserts observed levels; a row observed later than the new observation is kept.
    /// A level counts what was there at `observed_at`: adjustments recorded with a later
    /// time are added to it.
    ///
    /// Looking those adjustments up row by row costs every row, and a fresh observation
    /// seldom has any: one look at the shops' adjustments made after the
    /// earliest observation (an `InitPlan`, run once) skips the row-by-row look-up when
    /// there are none.
    ///
    /// $1 text[] shop ids; $2 text[] SKUs; $3 int8[] on hand; $4 int8[] observed at, in
    /// microseconds since the epoch. One row per (shop, SKU). $5 text[] the shops of $1,
    /// once each; $6 int8 the earliest time in $4.
    static let observe = PgStatement("stock.observe", """
        INSERT INTO relais.stock_items AS s (shop_id, sku, on_hand, observed_at, updated_at)
        SELECT l.shop, l.sku,
               l.qty + CASE WHEN (SELECT EXISTS (SELECT FROM relais.stock_adjustments a
                                                 WHERE a.shop_id = ANY($5::text[])
                                                   AND a.at > \(timestamp(fromMicros: "$6::int8"))))
                            THEN coalesce((SELECT sum(a.delta) FROM relais.stock_adjustments a
                                           WHERE a.shop_id = l.shop AND a.sku = l.sku AND a.at > l.obs), 0)
                            ELSE 0 END,
               l.obs, now()
        FROM (SELECT shop, sku, qty, \(timestamp(fromMicros: "obs_us")) AS obs
              FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[]) AS u(shop, sku, qty, obs_us)) AS l
        ON CONFLICT (shop_id, sku) DO UPDATE
            SET on_hand = excluded.on_hand, observed_at = excluded.observed_at, updated_at = now()
            WHERE s.observed_at IS NULL OR s.observed_at < excluded.observed_at
        """)

    /// Sets a shop's SKUs missing from a complete snapshot to 0 (plus adjustments made
    /// after it), unless observed later.
    ///
    /// $1 shop id; $2 text[] the SKUs the snapshot listed; $3 int8 its observation time
    /// in microseconds since the epoch.
    static let zeroUnlisted = PgStatement("stock.zero-unlisted", """
        UPDATE relais.stock_items AS s
        SET on_hand = coalesce((SELECT sum(a.delta) FROM relais.stock_adjustments a
                                WHERE a.shop_id = s.shop_id AND a.sku = s.sku AND a.at > t.obs), 0),
            observed_at = t.obs, updated_at = now()
        FROM (SELECT \(timestamp(fromMicros: "$3::int8")) AS obs) AS t
        WHERE s.shop_id = $1
          AND s.sku NOT IN (SELECT unnest($2::text[]))
          AND (s.observed_at IS NULL OR s.observed_at < t.obs)
        """)

    /// Records adjustments and adds to stock on hand those made after the stored
    /// observation (one made before it is already counted there). An unknown SKU is
    /// created from its adjustments.
    ///
    /// $1 text[] shop ids; $2 text[] SKUs; $3 int8[] deltas; $4 int8[] times in
    /// microseconds since the epoch; $5 text[] job ids. In `StockPlan.rowOrder`, which
    /// the upsert keeps: `"C"` orders text by its bytes too.
    static let adjust = PgStatement("stock.adjust", """
        WITH changes AS (
            SELECT shop, sku, delta, \(timestamp(fromMicros: "at_us")) AS at, job
            FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[]) AS c(shop, sku, delta, at_us, job)
        ), recorded AS (
            INSERT INTO relais.stock_adjustments (shop_id, sku, at, delta, job_id)
            SELECT shop, sku, at, delta, job FROM changes
        ), effective AS (
            SELECT c.shop, c.sku, sum(c.delta)::int8 AS delta
            FROM changes c LEFT JOIN relais.stock_items s ON s.shop_id = c.shop AND s.sku = c.sku
            WHERE s.observed_at IS NULL OR c.at > s.observed_at
            GROUP BY c.shop, c.sku
        )
        INSERT INTO relais.stock_items AS s (shop_id, sku, on_hand, updated_at)
        SELECT shop, sku, delta, now() FROM effective ORDER BY shop COLLATE "C", sku COLLATE "C"
        ON CONFLICT (shop_id, sku) DO UPDATE
            SET on_hand = s.on_hand + excluded.on_hand, updated_at = now()
        """)

    /// Forgets adjustments no observation can need any more: those made at or before
    /// the stored observation, and those older than the ledger's retention.
    ///
    /// $1 retention as an interval, such as `30 days`.
    /// $1 retention as an interval; $2 the most rows to delete.
    static let prune = PgStatement("stock.prune-adjustments", """
        DELETE FROM relais.stock_adjustments WHERE ctid = ANY(ARRAY(
          SELECT a.ctid FROM relais.stock_adjustments a
          JOIN relais.stock_items s ON a.shop_id = s.shop_id AND a.sku = s.sku
          WHERE a.at <= s.observed_at OR a.at < now() - $1::interval LIMIT $2))
        """)
}

/// Housekeeping of the stock tables.
public enum StockMaintenance {
    /// Deletes adjustments that no longer matter; returns how many.
    public static func prune(_ db: PgConnection, retention: String, limit: Int) throws -> Int {
        try db.run(StockSQL.prune, [retention, String(limit)]).affected
    }
}

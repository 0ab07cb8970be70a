import PostgresClient
import RelaisDomain
import RelaisQueue

/// Applies `stock` jobs to PostgreSQL: set-based statements, exactly once per job id.
public final class StockProcessor: JobProcessor {
    private let db: PgConnection
    private let maxRowsPerTransaction: Int

    /// Connects to the database and checks the schema is the one this build expects.
    ///
    /// - Parameters:
    ///   - maxRowsPerTransaction: bounds memory and lock time per transaction.
    ///   - lockTimeout: how long a statement waits for a row lock before the job is
    ///     retried later (a PostgreSQL interval), so that one stuck lock never wedges a consumer.
    public init(conninfo: String, maxRowsPerTransaction: Int = 20_000, lockTimeout: String = "5s") throws {
        db = try PgConnection(conninfo)
        self.maxRowsPerTransaction = maxRowsPerTransaction
        do {
            let state = try Migrator().state(db)
            guard case .current = state else { throw MigrationError(state: state) }
            try db.query("SELECT set_config('lock_timeout', $1, false)", [lockTimeout], name: "lock timeout")
        } catch {
            db.close()
            throw error
        }
    }

    public func close() { db.close() }

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

    /// Commits a chunk in one transaction; if PostgreSQL rejects it, tries each job
    /// alone so that one bad job does not hold back the others.
    private func commit(_ jobs: [QueuedJob<StockJob>]) throws -> [JobOutcome] {
        do {
            return try db.transaction { try apply(jobs) }
        } catch let error as PgError where !error.connectionLost {
            if jobs.count > 1 { return try jobs.flatMap { try commit([$0]) } }
            return [StoreOutcome.failure(error)]
        }
    }

    private func apply(_ jobs: [QueuedJob<StockJob>]) throws -> [JobOutcome] {
        let fresh = try IdempotencyLedger.claim(db, queue: "stock", jobs)
        let effective = zip(jobs, fresh).compactMap { job, isFresh in isFresh ? job.envelope.job : nil }
        for step in StockPlan.steps(for: effective) {
            switch step {
            case .observe(let rows):
                try db.run(StockSQL.observe, [
                    PgArray.text(rows.map(\.shopId)), PgArray.text(rows.map(\.sku)),
                    PgArray.integers(rows.map(\.onHand)), PgArray.integers(rows.map(\.observedAt.microseconds)),
                ])
            case .zeroUnlisted(let shopId, let listed, let observedAt):
                try db.run(StockSQL.zeroUnlisted, [shopId, PgArray.text(listed), String(observedAt.microseconds)])
            case .adjust(let rows):
                try db.run(StockSQL.adjust, [
                    PgArray.text(rows.map(\.shopId)), PgArray.text(rows.map(\.sku)), PgArray.integers(rows.map(\.delta)),
                ])
            }
        }
        return fresh.map { $0 ? .done : .duplicate }
    }
}

/// What a PostgreSQL error means for the job that caused it.
public enum StoreOutcome {
    /// Transient errors are retried; anything else can never succeed as it is.
    public static func failure(_ error: PgError) -> JobOutcome {
        if error.isTransient { return .retry(reason: error.description) }
        return .dead(JobRejection(.permanentFailure, "PostgreSQL refused the effect: \(error)"))
    }
}

/// The statements of the stock use cases.
enum StockSQL {
    /// Upserts observed levels; a row observed later than the new observation is kept.
    ///
    /// $1 text[] shop ids; $2 text[] SKUs; $3 int8[] on hand; $4 int8[] observed at, in
    /// microseconds since the epoch. One row per (shop, SKU).
    static let observe = PgStatement("stock.observe", """
        INSERT INTO relais.stock_items AS s (shop_id, sku, on_hand, observed_at, updated_at)
        SELECT shop, sku, qty, to_timestamp(obs::float8 / 1000000), now()
        FROM unnest($1::text[], $2::text[], $3::int8[], $4::int8[]) AS l(shop, sku, qty, obs)
        ON CONFLICT (shop_id, sku) DO UPDATE
            SET on_hand = excluded.on_hand, observed_at = excluded.observed_at, updated_at = now()
            WHERE s.observed_at IS NULL OR s.observed_at < excluded.observed_at
        """)

    /// Sets a shop's SKUs missing from a complete snapshot to 0, unless observed later.
    ///
    /// $1 shop id; $2 text[] the SKUs the snapshot listed; $3 int8 its observation time
    /// in microseconds since the epoch.
    static let zeroUnlisted = PgStatement("stock.zero-unlisted", """
        UPDATE relais.stock_items AS s
        SET on_hand = 0, observed_at = to_timestamp($3::float8 / 1000000), updated_at = now()
        WHERE s.shop_id = $1
          AND s.sku NOT IN (SELECT unnest($2::text[]))
          AND (s.observed_at IS NULL OR s.observed_at < to_timestamp($3::float8 / 1000000))
        """)

    /// Adds changes to stock on hand, creating the row for an unknown SKU.
    ///
    /// $1 text[] shop ids; $2 text[] SKUs; $3 int8[] deltas. One row per (shop, SKU).
    static let adjust = PgStatement("stock.adjust", """
        INSERT INTO relais.stock_items AS s (shop_id, sku, on_hand, updated_at)
        SELECT shop, sku, delta, now()
        FROM unnest($1::text[], $2::text[], $3::int8[]) AS a(shop, sku, delta)
        ON CONFLICT (shop_id, sku) DO UPDATE
            SET on_hand = s.on_hand + excluded.on_hand, updated_at = now()
        """)
}

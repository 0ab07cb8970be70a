import Foundation
import PostgresClient
import RelaisDomain

/// The outbox over PostgreSQL: claims due messages for one channel, records what became
/// of them (the delivery worker's `OutboxPort`); prunes and counts them for maintenance
/// and `/status`.
///
/// Claiming moves a message's `next_attempt_at` a lease into the future in its own
/// short transaction (`FOR UPDATE SKIP LOCKED`, so several instances share the work
/// and never take the same row); the result is recorded right after each send, and
/// only if the row is still as the claim left it. A sender that dies between the two
/// leaves that message to be sent again when the lease ends, with the same id, so that
/// a receiver can drop the duplicate.
///
/// An instance owns one connection, configured by `configureSession`, used by one
/// thread at a time (the delivery worker's or its recorder's).
public final class Outbox: OutboxPort {
    private let db: PgConnection

    /// Connects to `databaseURL` for a delivery thread (see `configureSession`).
    public init(databaseURL: String) throws {
        let db = try PgConnection(databaseURL)
        do {
            try Self.configureSession(db)
        } catch {
            db.close()
            throw error
        }
        self.db = db
    }

    /// Opens connections to the outbox at `databaseURL`: what the delivery worker is given.
    public static func connector(databaseURL: String) -> OutboxConnector {
        { try Outbox(databaseURL: databaseURL) }
    }

    /// Prepares a delivery connection: its commits do not wait for the disk
    /// (`synchronous_commit = off`).
    ///
    /// Each send's outcome is its own commit: waiting for a WAL flush per e-mail would
    /// cost the disk's flush time per message. Not waiting is safe for the outbox: a commit
    /// survives Relais's own crash, and what PostgreSQL loses in its own crash (the last
    /// fraction of a second) only makes the messages concerned go again after their
    /// lease, with their stable ids, as a crash between a send and its record always did.
    /// Order and stock writes, on other connections, keep durable commits.
    static func configureSession(_ db: PgConnection) throws {
        try StoreSession.configure(db)
        try db.query("SELECT set_config('synchronous_commit', 'off', false)", name: "outbox session")
    }

    /// Whether the connection is open and healthy as far as libpq knows.
    public var isOpen: Bool { db.isOpen }

    /// Closes the connection.
    public func close() { db.close() }

    /// Claims up to `limit` due messages of `channel`, leased for `lease`. A message whose
    /// stored facts cannot be read is recorded failed, not returned.
    public func claim(channel: Channel, limit: Int, lease: Duration) throws -> [OutboxMessage] {
        let rows = try db.run(OutboxSQL.claim, [channel.rawValue, String(limit), "\(Int64(lease.seconds * 1000)) milliseconds"]).rows
        let decoder = JSONDecoder()
        var out: [OutboxMessage] = []
        out.reserveCapacity(rows.count)
        for row in rows {
            guard let id = row[0].flatMap(Int64.init), let orderId = row[1], let recipient = row[2].flatMap(Recipient.init(rawValue:)),
                  let template = row[4], let factsText = row[5], let attempts = row[6].flatMap(Int.init)
            else { continue }
            let facts: MessageFacts
            do { facts = try decoder.decode(MessageFacts.self, from: Data(factsText.utf8)) } catch {
                try record([DeliveryRecord(id: id, attempt: attempts, result: .failed(error: "the stored message cannot be read: \(error)"))])
                continue
            }
            out.append(OutboxMessage(id: id, orderId: orderId, recipient: recipient, channel: channel, destination: row[3],
                                     template: template, facts: facts, attempt: attempts))
        }
        return out
    }

    /// Renews the lease of claimed messages not sent yet.
    public func extend(_ ids: [Int64], lease: Duration) throws {
        try db.run(OutboxSQL.extend, [PgArray.integers(ids), "\(Int64(lease.seconds * 1000)) milliseconds"])
    }

    /// Records the results of sends, in one statement; returns the ids recorded. A
    /// message missing from them was changed since its claim (an operator marked it
    /// `failed` or queued it again, or its lease ended and another sender claimed it),
    /// and that change stands.
    @discardableResult
    public func record(_ records: [DeliveryRecord]) throws -> Set<Int64> {
        guard !records.isEmpty else { return [] }
        var ids: [Int64] = [], attempts: [Int64] = [], statuses: [String] = [], next: [Int64?] = [], errors: [String?] = []
        for record in records {
            ids.append(record.id)
            attempts.append(Int64(record.attempt))
            switch record.result {
            case .sent:
                statuses.append("sent"); next.append(nil); errors.append(nil)
            case .retry(let at, let error):
                statuses.append("pending"); next.append(at.microseconds); errors.append(error)
            case .failed(let error):
                statuses.append("failed"); next.append(nil); errors.append(error)
            case .deferred(let until, let reason):
                statuses.append("deferred"); next.append(until.microseconds); errors.append(reason)
            }
        }
        let rows = try db.run(OutboxSQL.record, [PgArray.integers(ids), PgArray.integers(attempts), PgArray.text(statuses),
                                                 PgArray.optionalIntegers(next), PgArray.optionalText(errors)]).rows
        return Set(rows.compactMap { $0[0].flatMap(Int64.init) })
    }

    /// Deletes sent and failed messages older than `retention` (a PostgreSQL interval); returns how many.
    public static func prune(_ db: PgConnection, retention: String, limit: Int) throws -> Int {
        try db.run(OutboxSQL.prune, [retention, String(limit)]).affected
    }

    /// Pending and failed messages per channel, for `/status` and the metrics.
    public static func backlog(_ db: PgConnection) throws -> [String: (pending: Int, due: Int, failed: Int)] {
        var out: [String: (pending: Int, due: Int, failed: Int)] = [:]
        for row in try db.run(OutboxSQL.backlog, []).rows {
            guard let channel = row[0] else { continue }
            out[channel] = (Int(row[1] ?? "0") ?? 0, Int(row[2] ?? "0") ?? 0, Int(row[3] ?? "0") ?? 0)
        }
        return out
    }
}

enum OutboxSQL {
    /// $1 channel; $2 how many; $3 the lease as an interval.
    ///
    /// The due ids are gathered into an array rather than joined: the generic plan of a
    /// prepared statement cannot see the limit, and joined it scanned the whole table.
    /// Ordered by the index alone: the
    /// messages of one transaction share their time, and a tie-break on `id` made every
    /// claim read and sort the whole group.
    static let claim = PgStatement("outbox.claim", """
        UPDATE relais.outbox AS o
        SET attempts = o.attempts + 1, next_attempt_at = now() + $3::interval
        WHERE o.id = ANY(ARRAY(
            SELECT id FROM relais.outbox
            WHERE status = 'pending' AND channel = $1 AND next_attempt_at <= now()
            ORDER BY next_attempt_at
            LIMIT $2::int
            FOR UPDATE SKIP LOCKED))
        RETURNING o.id, o.order_id, o.recipient, o.destination, o.template, o.facts::text, o.attempts
        """)

    /// $1 int8[] ids; $2 the lease as an interval.
    static let extend = PgStatement("outbox.extend", """
        UPDATE relais.outbox SET next_attempt_at = now() + $2::interval
        WHERE id = ANY($1::int8[]) AND status = 'pending'
        """)

    /// $1 int8[] ids; $2 int8[] the attempt each was claimed at; $3 text[] statuses
    /// (`sent`, `pending` for a retry, `failed`, or `deferred`: pending again without
    /// counting the attempt); $4 int8[] next attempt (NULL when final); $5 text[] errors.
    /// Returns the ids updated: only rows still pending at the claimed attempt are.
    static let record = PgStatement("outbox.record", """
        UPDATE relais.outbox AS o
        SET status = CASE WHEN r.status = 'deferred' THEN 'pending' ELSE r.status END,
            attempts = CASE WHEN r.status = 'deferred' THEN o.attempts - 1 ELSE o.attempts END,
            sent_at = CASE WHEN r.status = 'sent' THEN now() ELSE o.sent_at END,
            next_attempt_at = coalesce(\(timestamp(fromMicros: "r.next_us")), o.next_attempt_at),
            last_error = r.error
        FROM unnest($1::int8[], $2::int8[], $3::text[], $4::int8[], $5::text[]) AS r(id, attempt, status, next_us, error)
        WHERE o.id = r.id AND o.id = ANY($1::int8[]) AND o.status = 'pending' AND o.attempts = r.attempt
        RETURNING o.id
        """)

    static let backlog = PgStatement("outbox.backlog", """
        SELECT channel,
               count(*) FILTER (WHERE status = 'pending'),
               count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= now()),
               count(*) FILTER (WHERE status = 'failed')
        FROM relais.outbox WHERE status = 'pending' OR status = 'failed' GROUP BY channel
        """)

    /// $1 retention as an interval, such as `30 days`.
    /// $1 retention as an interval; $2 the most rows to delete.
    static let prune = PgStatement("outbox.prune", """
        DELETE FROM relais.outbox WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM relais.outbox WHERE status <> 'pending' AND created_at < now() - $1::interval LIMIT $2))
        """)
}

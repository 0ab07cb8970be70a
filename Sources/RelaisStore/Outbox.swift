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
        try db.setSessionSetting("synchronous_commit", "off")
    }

    /// Whether the connection is open and healthy as far as libpq knows.
    public var isOpen: Bool { db.isOpen }

    /// Closes the connection.
    public func close() { db.close() }

    /// Where each channel's last claim stopped in the round of shops; none before the first.
    private var cursors: [Channel: String] = [:]

    /// Claims up to `limit` due messages of `channel`, leased for `lease`, in turns across
    /// shops (`OutboxPort.claim`). A message whose stored facts cannot be read is recorded
    /// failed, not returned.
    ///
    /// First the next shops with due messages after the last claim's (an index skip scan:
    /// one probe per shop, however many messages each has), then each shop's share,
    /// oldest first, claimed in one statement; a second one hands what shops with fewer
    /// messages left over to those with more.
    public func claim(channel: Channel, limit: Int, lease: Duration, quota: (_ shopId: String) -> Int) throws -> [OutboxMessage] {
        guard limit > 0 else { return [] }
        let cursor = cursors[channel]
        var shops = try nextShops(channel, after: cursor, limit: limit)
        if shops.count < limit, let cursor {
            // Round the end of the shops: on from the first, up to where this round began.
            // (Compared by name, not order: PostgreSQL's collation orders them, not Swift.)
            let seen = Set(shops)
            for shop in try nextShops(channel, after: nil, limit: limit - shops.count) {
                if seen.contains(shop) { break }
                shops.append(shop)
                if shop == cursor { break }
            }
        }
        guard !shops.isEmpty else {
            cursors[channel] = nil
            return []
        }
        cursors[channel] = shops.last
        // Each shop its share; what shops with fewer messages leave goes, in a second
        // statement, to those that filled theirs.
        let share = max(1, (limit + shops.count - 1) / shops.count)
        var byShop: [String: [OutboxMessage]] = [:]
        var asks = shops.map { shop in (shop, min(share, quota(shop))) }
        for _ in 0..<2 {
            let taken = asks.filter { $0.1 > 0 }
            guard !taken.isEmpty else { break }
            for (shop, messages) in try claim(channel, taken, lease: lease) { byShop[shop, default: []] += messages }
            let claimed = byShop.values.reduce(0) { $0 + $1.count }
            let full = taken.filter { shop, asked in byShop[shop, default: []].count >= asked }.map(\.0)
            guard claimed < limit, !full.isEmpty else { break }
            let remaining = limit - claimed
            asks = full.enumerated().map { index, shop in
                let even = remaining / full.count + (index < remaining % full.count ? 1 : 0)
                let shopQuota = quota(shop)
                let allowed = shopQuota == Int.max ? Int.max : shopQuota - byShop[shop, default: []].count
                return (shop, min(even, allowed))
            }
        }
        return Self.inTurns(shops.compactMap { byShop[$0] })
    }

    /// Claims up to the given number of due messages of each shop, oldest first; by
    /// shop, in id order. A message whose stored facts cannot be read is recorded failed.
    private func claim(_ channel: Channel, _ asks: [(String, Int)], lease: Duration) throws -> [String: [OutboxMessage]] {
        let rows = try db.run(OutboxSQL.claim, [channel.rawValue, PgArray.text(asks.map(\.0)), PgArray.integers(asks.map { Int64($0.1) }),
                                                "\(Int64(lease.seconds * 1000)) milliseconds"]).rows
        let decoder = JSONDecoder()
        var byShop: [String: [OutboxMessage]] = [:]
        for row in rows {
            guard let id = row[0].flatMap(Int64.init), let orderId = row[1], let recipient = row[2].flatMap(Recipient.init(rawValue:)),
                  let template = row[4], let factsText = row[5], let attempts = row[6].flatMap(Int.init), let shop = row[7]
            else { continue }
            let facts: MessageFacts
            do { facts = try decoder.decode(MessageFacts.self, from: Data(factsText.utf8)) } catch {
                try record([DeliveryRecord(id: id, attempt: attempts, result: .failed(error: "the stored message cannot be read: \(error)"))])
                continue
            }
            byShop[shop, default: []].append(OutboxMessage(id: id, orderId: orderId, recipient: recipient, channel: channel,
                                                            destination: row[3], template: template, facts: facts, attempt: attempts))
        }
        return byShop.mapValues { $0.sorted { $0.id < $1.id } }
    }

    /// One message of each shop in turn, shops in the order given, until all are out.
    static func inTurns(_ queues: [[OutboxMessage]]) -> [OutboxMessage] {
        var out: [OutboxMessage] = []
        out.reserveCapacity(queues.reduce(0) { $0 + $1.count })
        var turn = 0
        while out.count < out.capacity {
            for queue in queues where turn < queue.count { out.append(queue[turn]) }
            turn += 1
        }
        return out
    }

    /// Up to `limit` shops with due messages of `channel`, in order, after `cursor` (from
    /// the first when nil: the empty shop id included).
    private func nextShops(_ channel: Channel, after cursor: String?, limit: Int) throws -> [String] {
        try db.run(OutboxSQL.nextShops, [channel.rawValue, cursor ?? "", String(limit), cursor == nil ? "true" : "false"])
            .rows.compactMap { $0[0] }
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

    /// One channel's messages waiting in the outbox.
    public struct Backlog: Sendable, Equatable {
        /// Waiting to be sent, now or after a retry delay (or leased to a sender).
        public var pending = 0
        /// Of those, due now and not leased: waiting for their turn.
        public var due = 0
        /// Given up on.
        public var failed = 0
        /// The shops with messages due now.
        public var shopsWaiting = 0
        /// How long the oldest message due now has been due, in seconds (0 when none).
        public var oldestDueSeconds = 0.0

        public init() {}
    }

    /// The outbox per channel, for `/status` and the metrics.
    public static func backlog(_ db: PgConnection) throws -> [String: Backlog] {
        var out: [String: Backlog] = [:]
        for row in try db.run(OutboxSQL.backlog, []).rows {
            guard let channel = row[0] else { continue }
            var backlog = Backlog()
            backlog.pending = Int(row[1] ?? "0") ?? 0
            backlog.due = Int(row[2] ?? "0") ?? 0
            backlog.failed = Int(row[3] ?? "0") ?? 0
            backlog.shopsWaiting = Int(row[4] ?? "0") ?? 0
            backlog.oldestDueSeconds = Double(row[5] ?? "0") ?? 0
            out[channel] = backlog
        }
        return out
    }
}

enum OutboxSQL {
    /// $1 channel; $2 the shop after which to look; $3 how many shops; $4 whether $2
    /// itself counts. One index probe per shop (a "skip scan" written as a recursive
    /// query): the shops with due messages after $2, in order, without reading their
    /// messages.
    static let nextShops = PgStatement("outbox.next-shops", """
        WITH RECURSIVE shops(shop_id, n) AS (
            SELECT (SELECT shop_id FROM relais.outbox
                    WHERE status = 'pending' AND channel = $1 AND shop_id >= $2 AND (shop_id > $2 OR $4::bool)
                      AND next_attempt_at <= now()
                    ORDER BY shop_id LIMIT 1), 1
            UNION ALL
            SELECT (SELECT o.shop_id FROM relais.outbox AS o
                    WHERE o.status = 'pending' AND o.channel = $1 AND o.shop_id > s.shop_id AND o.next_attempt_at <= now()
                    ORDER BY o.shop_id LIMIT 1), s.n + 1
            FROM shops AS s WHERE s.shop_id IS NOT NULL AND s.n < $3::int
        )
        SELECT shop_id FROM shops WHERE shop_id IS NOT NULL
        """)

    /// $1 channel; $2 text[] shops; $3 int8[] how many of each; $4 the lease as an interval.
    ///
    /// The due ids are gathered into an array rather than joined: the generic plan of a
    /// prepared statement cannot see the limits, and joined it scanned the whole table.
    static let claim = PgStatement("outbox.claim-in-turns", """
        UPDATE relais.outbox AS o
        SET attempts = o.attempts + 1, next_attempt_at = now() + $4::interval
        WHERE o.id = ANY(ARRAY(
            SELECT c.id FROM unnest($2::text[], $3::int8[]) AS s(shop_id, quota)
            CROSS JOIN LATERAL (
                SELECT id FROM relais.outbox
                WHERE status = 'pending' AND channel = $1 AND shop_id = s.shop_id AND next_attempt_at <= now()
                ORDER BY next_attempt_at
                LIMIT s.quota
                FOR UPDATE SKIP LOCKED) AS c))
        RETURNING o.id, o.order_id, o.recipient, o.destination, o.template, o.facts::text, o.attempts, o.shop_id
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
            failed_at = CASE WHEN r.status = 'failed' THEN now() ELSE o.failed_at END,
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
               count(*) FILTER (WHERE status = 'failed'),
               count(DISTINCT shop_id) FILTER (WHERE status = 'pending' AND next_attempt_at <= now()),
               coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE status = 'pending' AND next_attempt_at <= now())), 0)
        FROM relais.outbox WHERE status = 'pending' OR status = 'failed' GROUP BY channel
        """)

    /// $1 retention as an interval, such as `30 days`; $2 the most rows to delete.
    static let prune = PgStatement("outbox.prune", """
        DELETE FROM relais.outbox WHERE ctid = ANY(ARRAY(
          SELECT ctid FROM relais.outbox WHERE status <> 'pending' AND created_at < now() - $1::interval LIMIT $2))
        """)
}

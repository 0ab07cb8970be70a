import Foundation
import PostgresClient
import RelaisDomain

/// Fires due reminders: claims them (`FOR UPDATE SKIP LOCKED`, so several instances
/// share the work and none sends twice), re-checks each order, and turns each into
/// outbox messages in the same transaction.
public final class ReminderScheduler {
    private let orders: OrdersRepository
    private let channels: Set<Channel>
    private let rules: ReminderRules
    private let now: @Sendable () -> Timestamp

    /// Connects to the database; reminders go out on `channels` (the others' go to the
    /// log), `now` decides which reminders are still useful.
    public init(conninfo: String, channels: Set<Channel>, rules: ReminderRules, lockTimeout: String = "5s",
                now: @escaping @Sendable () -> Timestamp = { Timestamp(Date()) }) throws {
        orders = try OrdersRepository(conninfo: conninfo, lockTimeout: lockTimeout)
        self.channels = channels
        self.rules = rules
        self.now = now
    }

    /// Closes the connection.
    public func close() { orders.close() }

    /// What one round did.
    public struct Round: Sendable, Equatable {
        /// Reminders turned into messages.
        public var sent = 0
        /// Reminders dropped: the order moved on, or the reminder came too late to help.
        public var skipped = 0
        /// Reminders reached in quiet hours (after downtime), moved to their end.
        public var postponed = 0
        /// Reminders claimed in all.
        public var claimed: Int { sent + skipped + postponed }
    }

    /// Expires ready orders past their pickup deadline, on the scheduler's connection
    /// (see `OrdersRepository.expireDue`).
    public func expireDue(limit: Int) throws -> Int {
        try orders.expireDue(limit: limit, channels: channels, rules: rules)
    }

    /// Fires up to `limit` due reminders, oldest first.
    public func fireDue(limit: Int = 1000) throws -> Round {
        let db = orders.db
        return try db.transaction {
            let due = try db.run(ReminderSQL.claim, [String(limit)]).rows.compactMap { row -> (Int64, String, ReminderKind, Timestamp)? in
                guard let id = row[0].flatMap(Int64.init), let order = row[1], let kind = row[2].flatMap(ReminderKind.init(rawValue:)),
                      let at = row[3].flatMap(Int64.init) else { return nil }
                return (id, order, kind, Timestamp(microseconds: at))
            }
            guard !due.isEmpty else { return Round() }
            let stored = try orders.load(Set(due.map { ExactText($0.1) }))
            let now = now()
            var round = Round()
            var messages: [OrderPlan.PlannedMessage] = []
            var ids: [Int64] = [], statuses: [String] = [], notes: [String?] = [], postponed: [Int64?] = []
            for (id, orderId, kind, at) in due {
                ids.append(id)
                if let skip = reason(toSkip: kind, stored[ExactText(orderId)], now: now) {
                    statuses.append("skipped")
                    notes.append(skip)
                    postponed.append(nil)
                    round.skipped += 1
                    continue
                }
                let order = stored[ExactText(orderId)]!
                // Late after downtime, a reminder may now fall in quiet hours: it waits for their end.
                let latest = [kind == .uncollected ? nil : order.slotStart, order.order.pickupDeadline].compactMap { $0 }.min()
                guard let when = rules.outsideQuietHours(now, timeZone: order.order.shop.timeZone, latest: latest) else {
                    statuses.append("skipped")
                    notes.append("quiet hours until it is too late")
                    postponed.append(nil)
                    round.skipped += 1
                    continue
                }
                if when > now {
                    statuses.append("pending")
                    notes.append("postponed to the end of quiet hours")
                    postponed.append(when.microseconds)
                    round.postponed += 1
                    continue
                }
                postponed.append(nil)
                var facts = MessageFacts(order: order.order, at: at)
                facts.slotStart = order.slotStart
                facts.slotEnd = order.slotEnd
                for (channel, destination) in MessageRouting.deliveries(to: .customer, of: order.order, template: kind.template,
                                                                        channels: channels) {
                    messages.append(.init(orderId: orderId, recipient: .customer, channel: channel, destination: destination,
                                          template: kind.template, facts: facts))
                }
                statuses.append("sent")
                notes.append(nil)
                round.sent += 1
            }
            try orders.writeMessages(messages)
            db.send(ReminderSQL.finish, [PgArray.integers(ids), PgArray.text(statuses), PgArray.optionalText(notes),
                                            PgArray.optionalIntegers(postponed)])
            return round
        }
    }

    /// Why a due reminder is not sent, or nil to send it.
    private func reason(toSkip kind: ReminderKind, _ order: StoredOrder?, now: Timestamp) -> String? {
        guard let order else { return "the order no longer exists" }
        guard order.status.isOpen else { return "the order is \(order.status.rawValue)" }
        if kind == .uncollected && order.status != .ready { return "the order is not ready" }
        if kind != .uncollected && order.slotStart == nil { return "the booking was cancelled" }
        guard rules.isStillUseful(kind, now: now, slotStart: order.slotStart, pickupDeadline: order.order.pickupDeadline) else {
            return "too late to be useful"
        }
        return nil
    }
}

/// The statements of the reminder use cases. Times travel as microseconds since the epoch.
enum ReminderSQL {
    /// $1 text[] order ids; $2 text[] kinds. Pending reminders of those kinds are cancelled.
    static let cancel = PgStatement("reminders.cancel", """
        UPDATE relais.reminders AS r SET status = 'cancelled', done_at = now()
        FROM unnest($1::text[], $2::text[]) AS c(order_id, kind)
        WHERE r.order_id = c.order_id AND r.kind = c.kind AND r.status = 'pending' AND r.order_id = ANY($1::text[])
        """)

    /// $1 text[] order ids; $2 text[] kinds; $3 int8[] due times.
    static let plan = PgStatement("reminders.plan", """
        INSERT INTO relais.reminders (order_id, kind, due_at)
        SELECT order_id, kind, \(timestamp(fromMicros: "due_us"))
        FROM unnest($1::text[], $2::text[], $3::int8[]) AS p(order_id, kind, due_us)
        """)

    /// $1 text[] order ids; $2 int8[] slot starts; $3 int8[] slot ends (NULL: no booking).
    static let slots = PgStatement("reminders.slots", """
        UPDATE relais.orders AS o
        SET slot_start = \(timestamp(fromMicros: "s.start_us")),
            slot_end = \(timestamp(fromMicros: "s.end_us")), updated_at = now()
        FROM unnest($1::text[], $2::int8[], $3::int8[]) AS s(order_id, start_us, end_us)
        WHERE o.order_id = s.order_id AND o.order_id = ANY($1::text[])
        """)

    /// $1 how many. Due reminders, oldest first, locked for this transaction. Ordered by
    /// the index alone: reminders planned together share their due time, and a tie-break
    /// on `id` made every claim sort all of them.
    static let claim = PgStatement("reminders.claim", """
        SELECT id, order_id, kind, (extract(epoch FROM due_at) * 1000000)::int8
        FROM relais.reminders
        WHERE status = 'pending' AND due_at <= now()
        ORDER BY due_at
        LIMIT $1::int
        FOR UPDATE SKIP LOCKED
        """)

    /// $1 int8[] ids; $2 text[] statuses; $3 text[] notes; $4 int8[] new due times of postponed ones.
    static let finish = PgStatement("reminders.finish", """
        UPDATE relais.reminders AS r
        SET status = f.status, note = f.note,
            done_at = CASE WHEN f.status = 'pending' THEN NULL ELSE now() END,
            due_at = coalesce(\(timestamp(fromMicros: "f.due_us")), r.due_at)
        FROM unnest($1::int8[], $2::text[], $3::text[], $4::int8[]) AS f(id, status, note, due_us)
        WHERE r.id = f.id AND r.id = ANY($1::int8[])
        """)

}

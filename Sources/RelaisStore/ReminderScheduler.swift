import Foundation
import PostgresClient
import RelaisDomain

/// Fires due reminders: claims them (`FOR UPDATE SKIP LOCKED`, so several instances
/// share the work and none sends twice), has the family of each (its `ReminderSource`)
/// re-check what it is about, and turns each into outbox messages in the same transaction.
public final class ReminderScheduler {
    private let orders: OrdersRepository
    private let channels: Set<Channel>
    private let rules: ReminderRules
    private let now: @Sendable () -> Timestamp
    /// Each family's reminders, on the scheduler's connection.
    private let sources: [MessageSubject: any ReminderSource]

    /// Connects to the database; reminders go out on `channels` (the others' go to the
    /// log), `now` decides which reminders are still useful.
    public init(conninfo: String, channels: Set<Channel>, rules: ReminderRules, lockTimeout: String = "5s",
                now: @escaping @Sendable () -> Timestamp = { Timestamp(Date()) }) throws {
        orders = try OrdersRepository(conninfo: conninfo, lockTimeout: lockTimeout)
        self.channels = channels
        self.rules = rules
        self.now = now
        sources = [
            .order: OrderReminders(orders, channels: channels, rules: rules),
            .appointment: AppointmentReminders(orders.db, channels: channels, rules: rules),
            .quote: QuoteReminders(orders.db, channels: channels, rules: rules),
        ]
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

    /// Fires up to `limit` due reminders, oldest first: each family's `ReminderSource`
    /// decides of its own, and the messages go into the outbox in the same transaction.
    public func fireDue(limit: Int = 1000) throws -> Round {
        let db = orders.db
        return try db.transaction {
            var ids: [Int64] = [], statuses: [String] = [], notes: [String?] = [], postponed: [Int64?] = []
            var bySubject: [MessageSubject: [DueReminder]] = [:]
            for row in try db.run(ReminderSQL.claim, [String(limit)]).rows {
                guard let id = row[0].flatMap(Int64.init), let subjectId = row[1], let at = row[3].flatMap(Int64.init) else { continue }
                // A kind or subject this build does not know (a newer relais planned it) is
                // closed with a note rather than claimed again at every round.
                guard let kind = row[2].flatMap(ReminderKind.init(rawValue:)), row[4] == kind.subject.rawValue,
                      sources[kind.subject] != nil else {
                    ids.append(id)
                    statuses.append("skipped")
                    notes.append("a reminder kind this relais does not know")
                    postponed.append(nil)
                    continue
                }
                bySubject[kind.subject, default: []].append(DueReminder(id: id, subjectId: subjectId, kind: kind,
                                                                        due: Timestamp(microseconds: at)))
            }
            var round = Round(skipped: ids.count)
            guard !ids.isEmpty || !bySubject.isEmpty else { return round }
            let now = now()
            var messages: [OrderPlan.PlannedMessage] = []
            for subject in MessageSubject.allCases {
                guard let due = bySubject[subject], let source = sources[subject] else { continue }
                let decisions = try source.decide(due, now: now)
                precondition(decisions.count == due.count, "a reminder source decides of every reminder it is given")
                for (reminder, decision) in zip(due, decisions) {
                    ids.append(reminder.id)
                    switch decision {
                    case .send(let sent):
                        messages += sent
                        statuses.append("sent")
                        notes.append(nil)
                        postponed.append(nil)
                        round.sent += 1
                    case .skip(let reason):
                        statuses.append("skipped")
                        notes.append(reason)
                        postponed.append(nil)
                        round.skipped += 1
                    case .postpone(let until):
                        statuses.append("pending")
                        notes.append("postponed to the end of quiet hours")
                        postponed.append(until.microseconds)
                        round.postponed += 1
                    }
                }
            }
            try orders.writeMessages(messages)
            db.send(ReminderSQL.finish, [PgArray.integers(ids), PgArray.text(statuses), PgArray.optionalText(notes),
                                            PgArray.optionalIntegers(postponed)])
            return round
        }
    }
}

/// The pickup reminders of orders: still not collected, the evening before the slot, the hour before.
final class OrderReminders: ReminderSource {
    private let orders: OrdersRepository
    private let channels: Set<Channel>
    private let rules: ReminderRules

    init(_ orders: OrdersRepository, channels: Set<Channel>, rules: ReminderRules) {
        self.orders = orders
        self.channels = channels
        self.rules = rules
    }

    func decide(_ due: [DueReminder], now: Timestamp) throws -> [ReminderDecision] {
        let stored = try orders.load(Set(due.map { ExactText($0.subjectId) }))
        return due.map { reminder in
            let order = stored[ExactText(reminder.subjectId)]
            if let skip = reason(toSkip: reminder.kind, order, now: now) { return .skip(skip) }
            let placed = order!.order
            // Late after downtime, a reminder may now fall in quiet hours: it waits for their end.
            let latest = switch reminder.kind {
            case .relayHold: order!.delivery?.holdUntil
            case .uncollected: placed.pickupDeadline
            default: [order!.slotStart, placed.pickupDeadline].compactMap { $0 }.min()
            }
            guard let when = rules.outsideQuietHours(now, timeZone: placed.shop.timeZone, latest: latest) else {
                return .skip("quiet hours until it is too late")
            }
            if when > now { return .postpone(when) }
            var facts = MessageFacts(order: placed, at: reminder.due)
            facts.slotStart = order!.slotStart
            facts.slotEnd = order!.slotEnd
            if reminder.kind == .relayHold { facts.delivery = order!.delivery }
            let template = reminder.kind.template
            return .send(MessageRouting.deliveries(to: .customer, of: placed, template: template, channels: channels).map {
                OrderPlan.PlannedMessage(orderId: reminder.subjectId, recipient: .customer, channel: $0.0, destination: $0.1,
                                         template: template, facts: facts)
            })
        }
    }

    /// Why a due reminder is not sent, or nil to send it.
    private func reason(toSkip kind: ReminderKind, _ order: StoredOrder?, now: Timestamp) -> String? {
        guard let order else { return "the order no longer exists" }
        if kind == .relayHold {
            guard let delivery = order.delivery, delivery.state == .atRelay, let holdUntil = delivery.holdUntil else {
                return "the parcel is no longer waiting at a relay point"
            }
            return rules.isStillUseful(kind, now: now, slotStart: nil, pickupDeadline: holdUntil) ? nil : "too late to be useful"
        }
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
    /// $1 text[] subject ids; $2 text[] kinds; $3 text[] subjects. Pending reminders of those kinds are cancelled.
    static let cancel = PgStatement("reminders.cancel", """
        UPDATE relais.reminders AS r SET status = 'cancelled', done_at = now()
        FROM unnest($1::text[], $2::text[], $3::text[]) AS c(order_id, kind, subject)
        WHERE r.order_id = c.order_id AND r.kind = c.kind AND r.subject = c.subject AND r.status = 'pending'
          AND r.order_id = ANY($1::text[])
        """)

    /// $1 text[] subject ids; $2 text[] kinds; $3 int8[] due times; $4 text[] subjects.
    static let plan = PgStatement("reminders.plan", """
        INSERT INTO relais.reminders (order_id, kind, due_at, subject)
        SELECT order_id, kind, \(timestamp(fromMicros: "due_us")), subject
        FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[]) AS p(order_id, kind, due_us, subject)
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
        SELECT id, order_id, kind, (extract(epoch FROM due_at) * 1000000)::int8, subject
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

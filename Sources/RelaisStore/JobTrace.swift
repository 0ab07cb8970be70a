import PostgresClient

/// What PostgreSQL knows of one job, by its idempotency key (the envelope's `id`): its
/// ledger record, and for a job about an order, that order, its history, its reminders
/// and its messages with their delivery status.
///
/// Nothing that names a person is read: not the order's details (the customer), not a
/// message's destination or facts. The ledger and the history have no index on the job
/// id alone (their keys start with the queue and the order): finding a job reads them
/// whole, which suits an operator's question, not a hot path.
public struct JobTrace: Sendable, Equatable {
    /// The job's row in the idempotency ledger: it took effect.
    public struct LedgerRecord: Sendable, Equatable, Encodable {
        /// The queue it came from.
        public let queue: String
        /// Its type, such as `order.placed`.
        public let jobType: String
        /// When it took effect (RFC 3339, UTC).
        public let processedAt: String
    }

    /// One event of an order's history.
    public struct OrderEvent: Sendable, Equatable, Encodable {
        /// The job that brought the event.
        public let jobId: String
        /// The event's type, such as `order.ready`.
        public let type: String
        /// When the producer says it happened (RFC 3339, UTC).
        public let at: String
        /// Whether it changed the order; a late or backwards event is kept with a note.
        public let applied: Bool
        /// Why it changed nothing, when it did not.
        public let note: String?
        /// When Relais recorded it (RFC 3339, UTC).
        public let recordedAt: String
    }

    /// A reminder planned for an order.
    public struct Reminder: Sendable, Equatable, Encodable {
        /// Its id.
        public let id: Int64
        /// `uncollected`, `evening` or `soon`.
        public let kind: String
        /// When it is (or was) due (RFC 3339, UTC).
        public let dueAt: String
        /// `pending`, `sent`, `cancelled` or `skipped`.
        public let status: String
        /// When it was sent, cancelled or skipped (RFC 3339, UTC).
        public let doneAt: String?
        /// Why it was skipped or cancelled.
        public let note: String?
    }

    /// A message about an order, and its delivery status.
    public struct Message: Sendable, Equatable {
        /// The message's stable id.
        public let id: Int64
        /// `shop` or `customer`.
        public let recipient: String
        /// `email`, `sms`, `webhook` or `log`.
        public let channel: String
        /// The template, such as `order-ready-customer`.
        public let template: String
        /// `pending`, `sent` or `failed`.
        public let status: String
        /// Sends attempted so far.
        public let attempts: Int
        /// When it was written (RFC 3339, UTC).
        public let createdAt: String
        /// When it was sent (RFC 3339, UTC).
        public let sentAt: String?
        /// When delivery gave it up (RFC 3339, UTC).
        public let failedAt: String?
        /// When a pending message is next tried (RFC 3339, UTC).
        public let nextAttemptAt: String?
        /// Why the last attempt failed (redact before showing: one set by hand may quote anything).
        public let lastError: String?
    }

    /// An order the job is about.
    public struct Order: Sendable, Equatable, Encodable {
        /// The order's id.
        public let orderId: String
        /// Its shop.
        public let shopId: String
        /// Where it stands: `placed`, `confirmed`, `ready`, `collected`, `cancelled`, `expired`.
        public let status: String
        /// When it was placed (RFC 3339, UTC).
        public let placedAt: String
        /// When its status last changed (RFC 3339, UTC).
        public let updatedAt: String
        /// Its pickup deadline, once ready (RFC 3339, UTC).
        public let pickupDeadline: String?
        /// Its booked pickup slot (RFC 3339, UTC).
        public let slotStart: String?
        /// The end of its booked slot (RFC 3339, UTC).
        public let slotEnd: String?
    }

    /// One order's whole story: the order (nil when it never took effect), every event of
    /// its history, its reminders and its messages, oldest first.
    public struct OrderStory: Sendable, Equatable {
        /// The order's id.
        public let orderId: String
        /// The order, nil when no `order.placed` of it took effect.
        public let order: Order?
        /// Every event of the order, the job's own among them.
        public let history: [OrderEvent]
        /// Its reminders.
        public let reminders: [Reminder]
        /// Its messages.
        public let messages: [Message]
    }

    /// The job's ledger records: one per queue it took effect on (one in practice).
    public let ledger: [LedgerRecord]
    /// The orders the job is about: those whose history names the job, and those given.
    public let orders: [OrderStory]

    /// Whether PostgreSQL knows anything of the job itself (its ledger record, or an
    /// event of an order's history); the orders given by the caller do not count.
    public let jobIsKnown: Bool

    /// Reads what PostgreSQL knows of job `jobId`, and the stories of the orders its
    /// history names plus `orderIds` (the order the job's payload names, when the caller
    /// has the payload from a dead letter, a retry or a stream).
    public static func find(_ db: PgConnection, jobId: String, queues: [String], orderIds: [String] = []) throws -> JobTrace {
        let ledger = try db.run(JobTraceSQL.ledger, [jobId, PgArray.text(queues)]).rows.compactMap { row -> LedgerRecord? in
            guard let queue = row[0], let type = row[1], let at = row[2] else { return nil }
            return LedgerRecord(queue: queue, jobType: type, processedAt: at)
        }
        let named = try db.run(JobTraceSQL.ordersOfJob, [jobId]).rows.compactMap { $0[0] }
        var ids: [String] = []
        for id in named + orderIds where !ids.contains(id) { ids.append(id) }
        let stories = try ids.map { try story($0, db) }
        return JobTrace(ledger: ledger, orders: stories, jobIsKnown: !ledger.isEmpty || !named.isEmpty)
    }

    private static func story(_ orderId: String, _ db: PgConnection) throws -> OrderStory {
        let order = try db.run(JobTraceSQL.order, [orderId]).rows.first.flatMap { row -> Order? in
            guard let id = row[0], let shop = row[1], let status = row[2], let placed = row[3], let updated = row[4] else { return nil }
            return Order(orderId: id, shopId: shop, status: status, placedAt: placed, updatedAt: updated,
                         pickupDeadline: row[5], slotStart: row[6], slotEnd: row[7])
        }
        let history = try db.run(JobTraceSQL.history, [orderId]).rows.compactMap { row -> OrderEvent? in
            guard let job = row[0], let type = row[1], let at = row[2], let recorded = row[5] else { return nil }
            return OrderEvent(jobId: job, type: type, at: at, applied: row[3] == "t", note: row[4], recordedAt: recorded)
        }
        let reminders = try db.run(JobTraceSQL.reminders, [orderId]).rows.compactMap { row -> Reminder? in
            guard let id = row[0].flatMap(Int64.init), let kind = row[1], let due = row[2], let status = row[3] else { return nil }
            return Reminder(id: id, kind: kind, dueAt: due, status: status, doneAt: row[4], note: row[5])
        }
        let messages = try db.run(JobTraceSQL.messages, [orderId]).rows.compactMap { row -> Message? in
            guard let id = row[0].flatMap(Int64.init), let recipient = row[1], let channel = row[2], let template = row[3],
                  let status = row[4], let created = row[6] else { return nil }
            return Message(id: id, recipient: recipient, channel: channel, template: template, status: status,
                           attempts: row[5].flatMap(Int.init) ?? 0, createdAt: created, sentAt: row[7], failedAt: row[8],
                           nextAttemptAt: row[9], lastError: row[10])
        }
        return OrderStory(orderId: orderId, order: order, history: history, reminders: reminders, messages: messages)
    }
}

enum JobTraceSQL {
    /// $1 job id, $2 text[] the queues: the ledger's key is (queue, job_id), so naming the
    /// queues makes each lookup one index probe instead of a scan of every job kept.
    static let ledger = PgStatement("trace.ledger", """
        SELECT queue, job_type, \(utc("processed_at")) FROM relais.processed_jobs
        WHERE queue = ANY($2::text[]) AND job_id = $1 ORDER BY processed_at
        """)

    /// $1 job id: the orders whose history has an event of the job.
    static let ordersOfJob = PgStatement("trace.orders-of-job", """
        SELECT DISTINCT order_id FROM relais.order_events WHERE job_id = $1 ORDER BY order_id
        """)

    /// $1 order id. The `order_status` view: no details, so no customer.
    static let order = PgStatement("trace.order", """
        SELECT order_id, shop_id, status, \(utc("placed_at")), \(utc("updated_at")), \(utc("pickup_deadline")),
               \(utc("slot_start")), \(utc("slot_end"))
        FROM relais.order_status WHERE order_id = $1
        """)

    /// $1 order id.
    static let history = PgStatement("trace.history", """
        SELECT job_id, type, \(utc("at")), applied, note, \(utc("recorded_at"))
        FROM relais.order_events WHERE order_id = $1 ORDER BY recorded_at, at, job_id
        """)

    /// $1 order id. An appointment or a quote may bear the same id: the order's only.
    static let reminders = PgStatement("trace.reminders", """
        SELECT id, kind, \(utc("due_at")), status, \(utc("done_at")), note
        FROM relais.reminders WHERE order_id = $1 AND subject = 'order' ORDER BY due_at, id
        """)

    /// $1 order id, the order's messages only. Neither the destination nor the facts: they name the customer.
    static let messages = PgStatement("trace.messages", """
        SELECT id, recipient, channel, template, status, attempts, \(utc("created_at")), \(utc("sent_at")), \(utc("failed_at")),
               CASE WHEN status = 'pending' THEN \(utc("next_attempt_at")) END, last_error
        FROM relais.outbox WHERE order_id = $1 AND subject = 'order' ORDER BY id
        """)
}

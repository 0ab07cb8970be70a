import Foundation
import JSONReader
import PostgresClient
import RelaisDomain

/// The orders as the order, pickup and reminder use cases read and write them, on one
/// connection: each use case plans with the domain, then writes through this.
final class OrdersRepository {
    let db: PgConnection
    /// json-c, not Foundation's `JSONEncoder`, which cost far more per order (see
    /// docs/performance.md). Keys come out in the order the types encode them, and the
    /// `json` columns keep the text as written.
    private let encoder = JSONCEncoder()
    private let decoder = JSONDecoder()

    /// Connects and checks the schema (`ProcessorSupport.connect`).
    init(conninfo: String, lockTimeout: String) throws {
        db = try ProcessorSupport.connect(conninfo, lockTimeout: lockTimeout)
    }

    /// Closes the connection.
    func close() { db.close() }

    /// Commits a batch of jobs about orders, once per job id, in one transaction, under
    /// each order's lock (`ProcessorSupport.commit(_:_:queue:subject:lock:load:_:)`).
    func commit<Job>(_ jobs: [QueuedJob<Job>], queue: String, orderId: (Job) -> String,
                     _ apply: (_ new: [QueuedJob<Job>], _ stored: [ExactText: StoredOrder]) throws -> [OrderJobOutcome])
        throws -> [JobOutcome] {
        try ProcessorSupport.commit(db, jobs, queue: queue, subject: orderId, lock: OrderSQL.lock, load: load, apply)
    }

    /// Takes the transaction's lock on each order, so that the events of one order are
    /// applied by one consumer at a time, even for an order that does not exist yet;
    /// keys are taken in a fixed order so that no two batches deadlock. Queued: it runs
    /// before the statements sent after it.
    func lock(_ orderIds: [String]) {
        db.send(OrderSQL.lock, [PgArray.text(orderIds)])
    }

    /// Expires ready orders whose pickup deadline has passed, oldest deadline first:
    /// status `expired`, reservations released, both sides told on `channels`. Returns how many.
    ///
    /// Several instances may run this at once: the per-order locks (`lock`) make one of
    /// them apply each expiry, and the others find the order expired already.
    func expireDue(limit: Int, channels: Set<Channel>, rules: ReminderRules) throws -> Int {
        try db.transaction {
            let due = try db.run(OrderSQL.due, [String(limit)]).rows.compactMap { row -> (String, Timestamp)? in
                guard let id = row[0], let deadline = row[1].flatMap(Int64.init) else { return nil }
                return (id, Timestamp(microseconds: deadline))
            }
            guard !due.isEmpty else { return 0 }
            lock(due.map(\.0))
            let stored = try load(Set(due.map { ExactText($0.0) }))
            var plan = OrderPlan.make(due.map { ("expiry", "order.expired", OrderJob.expired(orderId: $0.0, at: $0.1)) },
                                      stored: stored, channels: channels, rules: rules)
            try write(&plan)
            return plan.outcomes.filter { $0 == .applied }.count
        }
    }

    /// The orders with these ids that exist, with their current deadline and slot.
    ///
    /// Ids are compared byte for byte, as PostgreSQL compares them: Swift's `String`
    /// would take canonically equivalent ids (`é` and `e` + U+0301) for one.
    func load(_ ids: Set<ExactText>) throws -> [ExactText: StoredOrder] {
        guard !ids.isEmpty else { return [:] }
        var out: [ExactText: StoredOrder] = [:]
        for row in try db.run(OrderSQL.load, [PgArray.text(ids.map(\.text))]).rows {
            guard let id = row[0], let statusText = row[1], let status = OrderStatus(rawValue: statusText), let details = row[2]
            else { continue }
            var order = try decoder.decode(PlacedOrder.self, from: Data(details.utf8))
            order.pickupDeadline = row[3].flatMap(Int64.init).map(Timestamp.init(microseconds:))
            out[ExactText(id)] = StoredOrder(order: order, status: status, slotStart: row[4].flatMap(Int64.init).map(Timestamp.init(microseconds:)),
                                             slotEnd: row[5].flatMap(Int64.init).map(Timestamp.init(microseconds:)),
                                             delivery: try delivery(row))
        }
        return out
    }

    /// The delivery columns of an `OrderSQL.load` row (6 on), nil when the order was never shipped.
    private func delivery(_ row: [String?]) throws -> DeliveryFacts? {
        guard let state = row[6].flatMap(DeliveryState.init(rawValue:)) else { return nil }
        return DeliveryFacts(
            state: state, method: row[7].flatMap(DeliveryMethod.init(rawValue:)), carrier: row[8], trackingURL: row[9],
            trackingNumber: row[10], relay: try row[11].map { try decoder.decode(RelayPoint.self, from: Data($0.utf8)) },
            pickupCode: row[12], holdUntil: row[13].flatMap(Int64.init).map(Timestamp.init(microseconds:)))
    }

    /// Writes each order's delivery as it stands after a batch.
    func writeDeliveries(_ deliveries: [(orderId: String, delivery: DeliveryFacts)]) throws {
        guard !deliveries.isEmpty else { return }
        let d = deliveries.map(\.delivery)
        db.send(OrderSQL.deliveries, [
            PgArray.text(deliveries.map(\.orderId)), PgArray.text(d.map(\.state.rawValue)),
            PgArray.optionalText(d.map(\.method?.rawValue)), PgArray.optionalText(d.map(\.carrier)),
            PgArray.optionalText(d.map(\.trackingURL)), PgArray.optionalText(d.map(\.trackingNumber)),
            PgArray.optionalText(try d.map { try $0.relay.map { try encoder.encode($0) } }),
            PgArray.optionalText(d.map(\.pickupCode)), PgArray.optionalIntegers(d.map(\.holdUntil?.microseconds)),
        ])
    }

    /// Writes `plan`: history, orders, reservations, stock taken, messages and reminders.
    func write(_ plan: inout OrderPlan) throws {
        writeHistory(plan.history)
        // An order placed in this batch is inserted with its final status, not inserted
        // and then updated: one row version instead of two.
        var changes = plan.changes
        if !plan.placed.isEmpty {
            var final: [ExactText: OrderPlan.StatusChange] = [:]
            for change in changes { final[ExactText(change.orderId)] = change }
            let placedIds = Set(plan.placed.map { ExactText($0.orderId) })
            changes.removeAll { placedIds.contains(ExactText($0.orderId)) }
            let details = try plan.placed.map { try encoder.encode($0) }
            db.send(OrderSQL.insert, [
                PgArray.text(plan.placed.map(\.orderId)), PgArray.text(plan.placed.map(\.shop.id)), PgArray.json(details),
                PgArray.integers(plan.placed.map(\.placedAt.microseconds)),
                PgArray.text(plan.placed.map { final[ExactText($0.orderId)]?.status.rawValue ?? OrderStatus.placed.rawValue }),
                PgArray.optionalIntegers(plan.placed.map { final[ExactText($0.orderId)]?.pickupDeadline?.microseconds }),
            ])
        }
        if !changes.isEmpty {
            db.send(OrderSQL.update, [
                PgArray.text(changes.map(\.orderId)), PgArray.text(changes.map(\.status.rawValue)),
                PgArray.optionalIntegers(changes.map(\.pickupDeadline?.microseconds)),
            ])
        }
        // Stock taken at collection is computed like an adjustment: its locks come first,
        // before this transaction holds any stock row, as in a stock transaction.
        if !plan.consumption.isEmpty {
            StockSQL.lock(db, StockLocks(rows: plan.consumption.map { ($0.shopId, $0.sku) }))
        }
        if !plan.reservations.isEmpty {
            var totals: [ShopSku: Int64] = [:]
            for change in plan.reservations { totals[ShopSku(change.shopId, change.sku), default: 0] += change.delta }
            let rows = totals.sorted { StockPlan.rowOrder(($0.key.shop.text, $0.key.sku.text), ($1.key.shop.text, $1.key.sku.text)) < 0 }
            let result = try db.run(OrderSQL.reserve, [
                PgArray.text(rows.map(\.key.shop.text)), PgArray.text(rows.map(\.key.sku.text)), PgArray.integers(rows.map(\.value)),
            ])
            var stock: [ShopSku: (onHand: Int64, reserved: Int64)] = [:]
            for row in result.rows {
                guard let shop = row[0], let sku = row[1], let onHand = row[2].flatMap(Int64.init),
                      let reserved = row[3].flatMap(Int64.init) else { continue }
                stock[ShopSku(shop, sku)] = (onHand, reserved)
            }
            plan.markShortages(stock: stock)
        }
        if !plan.consumption.isEmpty {
            let rows = plan.consumption.sorted { a, b in
                let row = StockPlan.rowOrder((a.shopId, a.sku), (b.shopId, b.sku))
                return row != 0 ? row < 0 : ExactText.order(a.jobId, b.jobId) < 0
            }
            db.send(StockSQL.adjust, [
                PgArray.text(rows.map(\.shopId)), PgArray.text(rows.map(\.sku)), PgArray.integers(rows.map(\.delta)),
                PgArray.integers(rows.map(\.at.microseconds)), PgArray.text(rows.map(\.jobId)),
            ])
        }
        try writeMessages(plan.messages)
        writeReminders(plan.reminders)
    }

    /// Appends events to the orders' history.
    func writeHistory(_ history: [OrderPlan.HistoryEntry]) {
        guard !history.isEmpty else { return }
        db.send(OrderSQL.history, [
            PgArray.text(history.map(\.orderId)), PgArray.text(history.map(\.jobId)),
            PgArray.text(history.map(\.type)), PgArray.integers(history.map(\.at.microseconds)),
            PgArray.booleans(history.map(\.applied)), PgArray.optionalText(history.map(\.note)),
        ])
    }

    /// Puts messages in the outbox (`OutboxWrites`).
    func writeMessages(_ messages: [OrderPlan.PlannedMessage]) throws {
        try OutboxWrites.write(messages, db, encoder)
    }

    /// Cancels, then plans reminders (`ReminderWrites`).
    func writeReminders(_ changes: ReminderChanges) {
        ReminderWrites.write(changes, db)
    }
}

/// The statements of the order use cases. Times travel as microseconds since the epoch.
enum OrderSQL {
    /// Takes a transaction-scoped advisory lock per order id, in a fixed order.
    ///
    /// $1 text[] order ids (duplicates allowed).
    static let lock = PgStatement("orders.lock", """
        SELECT count(pg_advisory_xact_lock(7235, k))
        FROM (SELECT DISTINCT hashtext(id) AS k FROM unnest($1::text[]) AS id ORDER BY 1) AS keys
        """)

    /// Ready orders past their pickup deadline. $1 how many.
    static let due = PgStatement("orders.due", """
        SELECT order_id, (extract(epoch FROM pickup_deadline) * 1000000)::int8
        FROM relais.orders WHERE status = 'ready' AND pickup_deadline <= now()
        ORDER BY pickup_deadline LIMIT $1::int
        """)

    /// $1 text[] order ids.
    static let load = PgStatement("orders.load", """
        SELECT o.order_id, o.status, o.details::text,
               (extract(epoch FROM o.pickup_deadline) * 1000000)::int8,
               (extract(epoch FROM o.slot_start) * 1000000)::int8,
               (extract(epoch FROM o.slot_end) * 1000000)::int8,
               d.state, d.method, d.carrier, d.tracking_url, d.tracking_number, d.relay::text, d.pickup_code,
               (extract(epoch FROM d.hold_until) * 1000000)::int8
        FROM relais.orders AS o LEFT JOIN relais.deliveries AS d ON d.order_id = o.order_id
        WHERE o.order_id = ANY($1::text[])
        """)

    /// Each order's delivery, inserted or replaced. $1 text[] order ids; $2 text[] states;
    /// $3 text[] methods; $4 text[] carriers; $5 text[] tracking URLs; $6 text[] tracking
    /// numbers; $7 text[] relay points (JSON); $8 text[] pickup codes; $9 int8[] hold ends.
    static let deliveries = PgStatement("orders.deliveries", """
        INSERT INTO relais.deliveries AS d
            (order_id, state, method, carrier, tracking_url, tracking_number, relay, pickup_code, hold_until)
        SELECT id, state, method, carrier, url, number, relay::json, code, \(timestamp(fromMicros: "hold_us"))
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int8[])
            AS n(id, state, method, carrier, url, number, relay, code, hold_us)
        ON CONFLICT (order_id) DO UPDATE SET
            state = excluded.state, method = excluded.method, carrier = excluded.carrier, tracking_url = excluded.tracking_url,
            tracking_number = excluded.tracking_number, relay = excluded.relay, pickup_code = excluded.pickup_code,
            hold_until = excluded.hold_until, updated_at = now()
        """)

    /// $1 text[] order ids; $2 text[] shop ids; $3 JSON array of details (`PgArray.json`);
    /// $4 int8[] placed at; $5 text[] statuses; $6 int8[] pickup deadlines (NULL for none).
    static let insert = PgStatement("orders.insert", """
        INSERT INTO relais.orders (order_id, shop_id, status, details, placed_at, pickup_deadline)
        SELECT id, shop, status, details,
               \(timestamp(fromMicros: "placed_us")),
               \(timestamp(fromMicros: "deadline_us"))
        FROM ROWS FROM (unnest($1::text[], $2::text[]), json_array_elements($3::json),
                        unnest($4::int8[], $5::text[], $6::int8[]))
            AS o(id, shop, details, placed_us, status, deadline_us)
        """)

    /// $1 text[] order ids; $2 text[] statuses; $3 int8[] pickup deadlines (NULL for none).
    static let update = PgStatement("orders.update", """
        UPDATE relais.orders AS o
        SET status = c.status, updated_at = now(),
            pickup_deadline = \(timestamp(fromMicros: "c.deadline_us"))
        FROM unnest($1::text[], $2::text[], $3::int8[]) AS c(id, status, deadline_us)
        WHERE o.order_id = c.id AND o.order_id = ANY($1::text[])
        """)

    /// $1 text[] order ids; $2 text[] job ids; $3 text[] types; $4 int8[] times; $5 bool[] applied; $6 text[] notes.
    static let history = PgStatement("orders.history", """
        INSERT INTO relais.order_events (order_id, job_id, type, at, applied, note)
        SELECT id, job, type, \(timestamp(fromMicros: "at_us")), applied, note
        FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::bool[], $6::text[])
            AS e(id, job, type, at_us, applied, note)
        ON CONFLICT DO NOTHING
        """)

    /// Adds to the reserved quantities and returns each row's stock on hand and reserved.
    ///
    /// $1 text[] shop ids; $2 text[] SKUs; $3 int8[] deltas. One row per (shop, SKU), in `StockPlan.rowOrder`.
    static let reserve = PgStatement("orders.reserve", """
        INSERT INTO relais.stock_items AS s (shop_id, sku, reserved, updated_at)
        SELECT shop, sku, delta, now() FROM unnest($1::text[], $2::text[], $3::int8[]) AS r(shop, sku, delta)
        ON CONFLICT (shop_id, sku) DO UPDATE SET reserved = s.reserved + excluded.reserved, updated_at = now()
        RETURNING shop_id, sku, on_hand, reserved
        """)


}

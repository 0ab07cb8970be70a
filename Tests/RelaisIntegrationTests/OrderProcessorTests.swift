import Foundation
import PostgresClient
import RelaisContract
import RelaisDomain
import RelaisJobs
import RelaisQueue
import RelaisStore
import RelaisTestSupport
import Testing

/// Builds a validated orders job the way the engine hands it over.
func orderJob(_ id: String, _ type: String, _ data: String) throws -> QueuedJob<OrderJob> {
    let payload = #"{"id":"\#(id)","type":"\#(type)","data":\#(data)}"#
    let envelope = try EnvelopeDecoder(OrderCatalog.self).decode(Array(payload.utf8)).get()
    return QueuedJob(entryId: "0-1", envelope: envelope, attempt: 1)
}

func placedJob(_ id: String, order: String, shop: String = "s1", items: [(String, Int)]) throws -> QueuedJob<OrderJob> {
    let lines = items.map { #"{"sku":"\#($0.0)","name":"\#($0.0)","quantity":\#($0.1),"unit_price_cents":250}"# }.joined(separator: ",")
    return try orderJob(id, "order.placed", #"""
        {"order_id":"\#(order)","shop":{"id":"\#(shop)","name":"Primeur","email":"shop@example.fr"},
         "customer":{"name":"Léa","email":"lea@example.fr"},"items":[\#(lines)],"total_cents":250,"currency":"EUR",
         "placed_at":"2026-11-28T09:00:00Z"}
        """#)
}

func eventJob(_ id: String, _ type: String, order: String, extra: String = "") throws -> QueuedJob<OrderJob> {
    try orderJob(id, type, #"{"order_id":"\#(order)","at":"2026-11-28T10:00:00Z"\#(extra)}"#)
}

/// `sku → (on_hand, reserved, available)` for a shop.
func stock(_ url: String, shop: String) throws -> [String: [Int]] {
    try TestServers.withDatabase(url) { db throws in
        let rows = try db.query("SELECT sku, on_hand, reserved, available FROM relais.stock_available WHERE shop_id = $1",
                                [shop], name: "read")
        return Dictionary(uniqueKeysWithValues: rows.rows.map { ($0[0]!, [Int($0[1]!)!, Int($0[2]!)!, Int($0[3]!)!]) })
    }
}

func orderStatus(_ url: String, _ order: String) throws -> String? {
    try TestServers.withDatabase(url) { db throws in
        try db.query("SELECT status FROM relais.order_status WHERE order_id = $1", [order], name: "status").scalar
    }
}

@Suite("Order effects in a real PostgreSQL")
struct OrderProcessorTests {
    @Test func lifeOfAnOrderMovesReservationsAndStock() throws {
        let (url, stockProcessor) = try stockProcessorOnNewDatabase()
        defer { stockProcessor.close() }
        _ = try stockProcessor.process([try levelsJob("l", shop: "s1", at: "2026-11-28T08:00:00Z", [("pomme", 10), ("poire", 1)])])
        let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.email, .log])
        defer { processor.close() }

        #expect(try processor.process([try placedJob("p1", order: "o1", items: [("pomme", 3), ("poire", 2)])]) == [.done])
        #expect(try orderStatus(url, "o1") == "placed")
        #expect(try stock(url, shop: "s1") == ["pomme": [10, 3, 7], "poire": [1, 2, -1]])

        #expect(try processor.process([try eventJob("c1", "order.confirmed", order: "o1")]) == [.done])
        #expect(try processor.process([try eventJob("r1", "order.ready", order: "o1")]) == [.done])
        #expect(try processor.process([try eventJob("k1", "order.collected", order: "o1")]) == [.done])
        #expect(try orderStatus(url, "o1") == "collected")
        #expect(try stock(url, shop: "s1") == ["pomme": [7, 0, 7], "poire": [-1, 0, -1]])

        let log = try TestServers.withDatabase(url) { db throws in
            try db.query("SELECT template || ':' || channel || ':' || status FROM relais.notification_log ORDER BY id", name: "log")
                .rows.map { $0[0]! }
        }
        #expect(log == ["order-placed-shop:email:pending", "order-placed-customer:email:pending",
                        "order-confirmed-customer:email:pending", "order-ready-customer:email:pending"])
        let shortLines = try TestServers.withDatabase(url) { db throws in
            try db.query("""
                SELECT string_agg(i->>'sku', ',') FROM relais.outbox o, json_array_elements(o.facts->'items') i
                WHERE o.template = 'order-placed-shop' AND (i->>'short')::bool
                """, name: "short").scalar
        }
        #expect(shortLines == "poire", "the shop's message names the line that was short")
    }

    @Test func cancellingReleasesAndDuplicatesHaveNoSecondEffect() throws {
        let url = try TestServers.makeDatabase()
        let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.log])
        defer { processor.close() }
        _ = try processor.process([try placedJob("p1", order: "o1", items: [("a", 2)])])
        #expect(try processor.process([try placedJob("p1", order: "o1", items: [("a", 2)])]) == [.duplicate])
        #expect(try processor.process([try placedJob("p1-resent", order: "o1", items: [("a", 2)])]) == [.done],
                "a second order.placed for the same order is kept in the history and changes nothing")
        #expect(try stock(url, shop: "s1") == ["a": [0, 2, -2]])
        let cancel = try eventJob("x1", "order.cancelled", order: "o1", extra: #","by":"customer","reason":"trop loin""#)
        #expect(try processor.process([cancel, cancel]) == [.done, .duplicate])
        #expect(try stock(url, shop: "s1") == ["a": [0, 0, 0]])
        #expect(try processor.process([try eventJob("k1", "order.collected", order: "o1")]) == [.done])
        #expect(try orderStatus(url, "o1") == "cancelled", "a cancelled order stays cancelled")
        let history = try TestServers.withDatabase(url) { db throws in
            try db.query("SELECT job_id || ':' || applied FROM relais.order_events WHERE order_id = 'o1' ORDER BY recorded_at, job_id",
                         name: "history").rows.map { $0[0]! }
        }
        #expect(Set(history) == ["p1:true", "p1-resent:false", "x1:true", "k1:false"])
    }

    /// The facts shared by an event's messages are sent once and named by place: each
    /// message must still get its own event's facts, and ids in the order planned.
    @Test func eachMessageOfABatchKeepsItsOwnEventsFactsInOrder() throws {
        let url = try TestServers.makeDatabase()
        let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.email, .webhook])
        defer { processor.close() }
        let batch = [
            try placedJob("p1", order: "o1", shop: "s1", items: [("pomme", 1)]),
            try placedJob("p2", order: "o2", shop: "s2", items: [("poire", 2)]),
            try eventJob("x1", "order.cancelled", order: "o1", extra: #","by":"shop","reason":"rupture""#),
        ]
        #expect(try processor.process(batch) == [.done, .done, .done])
        let rows = try TestServers.withDatabase(url) { db throws in
            try db.query("""
                SELECT order_id, facts->>'order_id', facts->>'shop_id', coalesce(facts->>'cancelled_by', '-')
                FROM relais.outbox ORDER BY id
                """, name: "messages").rows
        }
        #expect(rows.count == 5)  // the shop and the customer hear of each placement; the customer of the cancellation
        #expect(rows.allSatisfy { $0[0] == $0[1] }, "each message's facts name its own order: \(rows)")
        #expect(rows.allSatisfy { ($0[0] == "o1") == ($0[2] == "s1") })
        // Runs of (order, canceller) in id order: o1's placement, o2's, then o1's cancellation.
        var runs: [[String?]] = []
        for row in rows where runs.last != [row[0], row[3]] { runs.append([row[0], row[3]]) }
        #expect(runs == [["o1", "-"], ["o2", "-"], ["o1", "shop"]])
    }

    @Test func anEventBeforeItsOrderIsRetriedThenAppliesOnce() throws {
        let url = try TestServers.makeDatabase()
        let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.log])
        defer { processor.close() }
        let confirm = try eventJob("c1", "order.confirmed", order: "o1")
        guard case .retry = try processor.process([confirm]).first else {
            Issue.record("a confirmation before its order should be retried")
            return
        }
        #expect(try processor.process([try placedJob("p1", order: "o1", items: [("a", 1)])]) == [.done])
        #expect(try processor.process([confirm]) == [.done], "the retried job was taken out of the ledger")
        #expect(try orderStatus(url, "o1") == "confirmed")
    }

    @Test func aReadyOrderPastItsDeadlineExpiresOnceAndReleasesItsStock() throws {
        let url = try TestServers.makeDatabase()
        let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.log])
        let scheduler = try ReminderScheduler(conninfo: url, channels: [.log], rules: ReminderRules())
        let rival = try ReminderScheduler(conninfo: url, channels: [.log], rules: ReminderRules())
        defer {
            processor.close()
            scheduler.close()
            rival.close()
        }
        _ = try processor.process([try placedJob("p1", order: "o1", items: [("a", 2)]), try placedJob("p2", order: "o2", items: [("a", 1)])])
        _ = try processor.process([
            try eventJob("r1", "order.ready", order: "o1", extra: #","pickup_deadline":"2026-01-01T00:00:00Z""#),
            try eventJob("r2", "order.ready", order: "o2", extra: #","pickup_deadline":"2999-01-01T00:00:00Z""#),
        ])
        #expect(try scheduler.expireDue(limit: 200) == 1, "only the order whose deadline passed")
        #expect(try rival.expireDue(limit: 200) == 0, "an expired order is not expired twice")
        #expect(try orderStatus(url, "o1") == "expired")
        #expect(try orderStatus(url, "o2") == "ready")
        #expect(try stock(url, shop: "s1") == ["a": [0, 1, -1]])
        let templates = try TestServers.withDatabase(url) { db throws in
            try db.query("SELECT template FROM relais.outbox WHERE order_id = 'o1' AND template LIKE 'order-expired%' ORDER BY template",
                         name: "expired").rows.map { $0[0]! }
        }
        #expect(templates == ["order-expired-customer", "order-expired-shop"])
    }

    @Test func twoProcessorsRacingOnOneOrderApplyEachEventOnce() throws {
        let url = try TestServers.makeDatabase()
        let jobs = try (0..<200).map { try placedJob("p\($0)", order: "o\($0 % 50)", items: [("a", 1)]) }
        let results = ConcurrentResults()
        let group = DispatchGroup()
        for half in [Array(jobs[..<100]), Array(jobs[100...])] {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.log])
                    defer { processor.close() }
                    for chunk in stride(from: 0, to: half.count, by: 20) {
                        _ = try processor.process(Array(half[chunk..<min(chunk + 20, half.count)]))
                    }
                } catch { results.fail("\(error)") }
            }.start()
        }
        group.wait()
        #expect(results.errors.isEmpty, "\(results.errors)")
        #expect(try stock(url, shop: "s1") == ["a": [0, 50, -50]], "50 orders, each reserved once")
    }
}

final class ConcurrentResults: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String] = []
    func fail(_ message: String) { lock.withLock { failures.append(message) } }
    var errors: [String] { lock.withLock { failures } }
}

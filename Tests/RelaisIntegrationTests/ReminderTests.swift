import Foundation
import PostgresClient
import RelaisContract
import RelaisDomain
import RelaisJobs
import RelaisQueue
import RelaisStore
import RelaisTestSupport
import Testing

func pickupJob(_ id: String, _ type: String, _ data: String) throws -> QueuedJob<PickupJob> {
    let payload = #"{"id":"\#(id)","type":"\#(type)","data":\#(data)}"#
    let envelope = try EnvelopeDecoder(PickupCatalog.self).decode(Array(payload.utf8)).get()
    return QueuedJob(entryId: "0-1", envelope: envelope, attempt: 1)
}

/// `kind:status` of an order's reminders, oldest first.
func reminders(_ url: String, _ order: String) throws -> [String] {
    try TestServers.withDatabase(url) { db throws in
        try db.query("SELECT kind || ':' || status FROM relais.reminders WHERE order_id = $1 ORDER BY id", [order], name: "reminders")
            .rows.map { $0[0]! }
    }
}

private func rfc3339(_ date: Date) -> String { Timestamp(date).description }

/// Waits until every reminder of `order`, whatever its status, is due by the database's
/// clock, the one the schedulers' claims read.
private func waitUntilDue(_ url: String, _ order: String) throws {
    let due = try eventually(timeout: .seconds(10)) {
        try TestServers.withDatabase(url) { db throws in
            try db.query("SELECT count(*) = count(*) FILTER (WHERE due_at <= now()) AND count(*) > 0 FROM relais.reminders WHERE order_id = $1",
                         [order], name: "due").rows.first?[0] == "t"
        }
    }
    #expect(due, "the reminders of \(order) fall due")
}

@Suite("Pickup reminders in a real PostgreSQL")
struct ReminderTests {
    private var rules: ReminderRules {
        var rules = ReminderRules()
        rules.uncollectedDelay = .seconds(1)
        rules.quietHours = QuietHours(start: LocalClockTime(hour: 0, minute: 0), end: LocalClockTime(hour: 0, minute: 0))
        return rules
    }

    /// Runs `body` with an order processor and a pickup processor on a fresh database, and
    /// closes both after it.
    private func withOrdersAndPickups(_ body: (_ url: String, _ processor: OrderProcessor, _ pickups: PickupProcessor) throws -> Void) throws {
        let url = try TestServers.makeDatabase()
        let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.log], rules: rules)
        let pickups = try PickupProcessor(conninfo: url, queue: "pickups", rules: rules)
        defer {
            processor.close()
            pickups.close()
        }
        try body(url, processor, pickups)
    }

    @Test func aReadyOrderIsRemindedOnceEvenWithTwoSchedulers() throws {
        let url = try TestServers.makeDatabase()
        let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.email, .log], rules: rules)
        defer { processor.close() }
        _ = try processor.process([try placedJob("p1", order: "o1", items: [("a", 1)])])
        _ = try processor.process([try orderJob("r1", "order.ready", #"{"order_id":"o1","at":"\#(rfc3339(Date()))"}"#)])
        #expect(try reminders(url, "o1") == ["uncollected:pending"])
        try waitUntilDue(url, "o1")

        let first = try ReminderScheduler(conninfo: url, channels: [.email, .log], rules: rules)
        let second = try ReminderScheduler(conninfo: url, channels: [.email, .log], rules: rules)
        defer {
            first.close()
            second.close()
        }
        let rounds = ConcurrentResults()
        let sent = SentCount()
        let group = DispatchGroup()
        for scheduler in [first, second] {
            group.enter()
            let box = UncheckedBox(scheduler)
            Thread {
                defer { group.leave() }
                do { sent.add(try box.value.fireDue().sent) } catch { rounds.fail("\(error)") }
            }.start()
        }
        group.wait()
        #expect(rounds.errors.isEmpty, "\(rounds.errors)")
        #expect(sent.total == 1, "one reminder, sent by one of the two schedulers")
        #expect(try reminders(url, "o1") == ["uncollected:sent"])
        let messages = try TestServers.withDatabase(url) { db throws in
            try db.query("SELECT template || ':' || channel FROM relais.outbox WHERE template LIKE 'pickup-%'", name: "out").rows.map { $0[0]! }
        }
        #expect(messages == ["pickup-reminder-customer:email"])
    }

    @Test func collectingCancelsThePendingReminder() throws {
        let url = try TestServers.makeDatabase()
        let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.log], rules: rules)
        let scheduler = try ReminderScheduler(conninfo: url, channels: [.log], rules: rules)
        defer {
            processor.close()
            scheduler.close()
        }
        _ = try processor.process([try placedJob("p1", order: "o1", items: [("a", 1)])])
        _ = try processor.process([try orderJob("r1", "order.ready", #"{"order_id":"o1","at":"\#(rfc3339(Date()))"}"#)])
        _ = try processor.process([try eventJob("k1", "order.collected", order: "o1")])
        try waitUntilDue(url, "o1")
        #expect(try scheduler.fireDue().claimed == 0, "a cancelled reminder is never claimed")
        #expect(try reminders(url, "o1") == ["uncollected:cancelled"])
    }

    @Test func aNewBookingReplacesTheOldOnesRemindersAndACancellationClearsThem() throws {
        try withOrdersAndPickups { url, processor, pickups in
            let slot = Date().addingTimeInterval(3 * 86_400)
            let booking = #"{"order_id":"o1","slot_start":"\#(rfc3339(slot))","slot_end":"\#(rfc3339(slot.addingTimeInterval(1800)))"}"#
            guard case .retry = try pickups.process([try pickupJob("b0", "pickup.booked", booking)]).first else {
                Issue.record("a booking before its order should be retried")
                return
            }
            _ = try processor.process([try placedJob("p1", order: "o1", items: [("a", 1)])])
            #expect(try pickups.process([try pickupJob("b1", "pickup.booked", booking)]) == [.done])
            #expect(try reminders(url, "o1") == ["evening:pending", "soon:pending"])
            let slotColumns = try TestServers.withDatabase(url) { db throws in
                try db.query("SELECT slot_start IS NOT NULL AND slot_end > slot_start FROM relais.order_status WHERE order_id = 'o1'",
                             name: "slot").scalar
            }
            #expect(slotColumns == "t")

            let later = slot.addingTimeInterval(86_400)
            let rebooking = #"{"order_id":"o1","slot_start":"\#(rfc3339(later))","slot_end":"\#(rfc3339(later.addingTimeInterval(1800)))"}"#
            #expect(try pickups.process([try pickupJob("b2", "pickup.booked", rebooking)]) == [.done])
            #expect(try reminders(url, "o1") == ["evening:cancelled", "soon:cancelled", "evening:pending", "soon:pending"])

            #expect(try pickups.process([try pickupJob("c1", "pickup.cancelled", #"{"order_id":"o1"}"#)]) == [.done])
            #expect(try reminders(url, "o1").filter { $0.hasSuffix(":pending") }.isEmpty)
            let cleared = try TestServers.withDatabase(url) { db throws in
                try db.query("SELECT slot_start IS NULL FROM relais.order_status WHERE order_id = 'o1'", name: "slot").scalar
            }
            #expect(cleared == "t")
        }
    }

    @Test func aReminderForASlotAlreadyPastIsSkipped() throws {
        try withOrdersAndPickups { url, processor, pickups in
            _ = try processor.process([try placedJob("p1", order: "o1", items: [("a", 1)])])
            let slot = Date().addingTimeInterval(2 * 3600)
            _ = try pickups.process([try pickupJob("b1", "pickup.booked",
                #"{"order_id":"o1","slot_start":"\#(rfc3339(slot))","slot_end":"\#(rfc3339(slot.addingTimeInterval(600)))"}"#)])
            #expect(try reminders(url, "o1") == ["soon:pending"], "no evening reminder for a slot less than a day away")
            // The daemon was down until after the slot: the scheduler's clock says so.
            _ = try TestServers.withDatabase(url) { db throws in
                try db.query("UPDATE relais.reminders SET due_at = now() - interval '1 minute'", name: "make due")
            }
            let late = try ReminderScheduler(conninfo: url, channels: [.log], rules: rules, now: { Timestamp(slot.addingTimeInterval(60)) })
            defer { late.close() }
            #expect(try late.fireDue().skipped == 1)
            #expect(try reminders(url, "o1") == ["soon:skipped"])
        }
    }
}

final class SentCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) { lock.withLock { count += n } }
    var total: Int { lock.withLock { count } }
}

/// Hands a non-Sendable value to one other thread, which alone uses it.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

import Foundation
import RelaisTestSupport
import Testing

@Suite("Pickup reminders end to end, two daemons on one database", .serialized)
struct PickupsEndToEndTests {
    @Test func remindersArriveOnTimeOnceAndNeverForACollectedOrder() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let settings = channels.settings.merging([
            "RELAIS_REMINDER_DELAY": "3s", "RELAIS_REMINDER_BEFORE_SLOT": "2s", "RELAIS_QUIET_HOURS": "00:00-00:00",
        ]) { $1 }
        let first = try deployment.start(settings.merging(["RELAIS_INSTANCE": "first"]) { $1 })
        defer { first.stop() }
        let secondPort = freePort()
        let second = try Daemon(environment: try deployment.environment(settings.merging([
            "RELAIS_INSTANCE": "second", "RELAIS_HTTP_ADDRESS": "127.0.0.1:\(secondPort)",
        ]) { $1 }))
        defer { second.stop() }
        #expect(second.waitUntilReady())

        try deployment.producer.xadd(queue: "stock", payload: levels("count", shop: "boul", at: "2026-01-01T07:00:00Z", [("pain", 10)]))
        for order in ["rem-a", "rem-b", "rem-c", "rem-d"] {
            try deployment.producer.xadd(queue: "orders", payload: placed(order, items: [("pain", "Pain", 2, 100)], phone: nil))
        }
        #expect(try deployment.waitUntilDrained())
        let readyAt = Date()
        // A is ready and forgotten; B is ready and collected at once; C books a slot in 6 s;
        // D is ready with a deadline in 2 s.
        try deployment.producer.xadd(queue: "orders", payload: event("rem-a", "ready"))
        try deployment.producer.xadd(queue: "orders", payload: event("rem-b", "ready"))
        try deployment.producer.xadd(queue: "orders", payload: event("rem-b", "collected"))
        try deployment.producer.xadd(queue: "pickups", payload:
            #"{"id":"book-c","type":"pickup.booked","data":{"order_id":"rem-c","slot_start":"\#(now(plus: 6))","slot_end":"\#(now(plus: 606))"}}"#)
        try deployment.producer.xadd(queue: "orders", payload: event("rem-d", "ready", extra: #","pickup_deadline":"\#(now(plus: 2))""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.query("SELECT slot_start IS NOT NULL FROM relais.order_status WHERE order_id = 'rem-c'")[0][0] == "t")

        // The expired order's stock is available again.
        #expect(try eventually(timeout: .seconds(15)) { try deployment.status("rem-d") == "expired" })
        #expect(try deployment.stock(shop: "boul")["pain"] == [8, 4, 4], "A and C still hold 2 each; B was collected, D expired")

        // A's reminder comes 3 s after it was ready, not before; C's 2 s before its slot.
        let sentA = try waitForMail(channels.smtp, subjectOrBody: "rem-a", template: "pickup-reminder-customer", deployment)
        let reminderA = try #require(sentA)
        #expect(reminderA.timeIntervalSince(readyAt) >= 2.5, "not before the delay")
        #expect(reminderA.timeIntervalSince(readyAt) < 10, "nor long after it")
        let sentC = try waitForMail(channels.smtp, subjectOrBody: "rem-c", template: "pickup-soon-customer", deployment)
        #expect(sentC != nil, "the reminder before C's slot was sent")

        // Nothing left to fire or send: what was sent twice, or for B, would be there now.
        #expect(try eventually(timeout: .seconds(20)) {
            try deployment.query("SELECT count(*) FROM relais.reminders WHERE status = 'pending'")[0][0] == "0"
        }, "every reminder fired or cancelled")
        #expect(try deployment.waitUntilDelivered())
        let pickupMails = channels.smtp.messages().filter { mail in
            ["rem-a", "rem-b", "rem-c"].contains { mail.body?.contains($0) == true } && mail.body?.contains("retir") == true
        }
        let reminderRows = try deployment.query("""
            SELECT order_id || ':' || template || ':' || status FROM relais.notification_log
            WHERE template LIKE 'pickup-%' ORDER BY order_id
            """).map { $0[0]! }
        #expect(reminderRows == ["rem-a:pickup-reminder-customer:sent", "rem-c:pickup-soon-customer:sent"],
                "each reminder once, none for the collected order B")
        let remindersOfB = try deployment.query("SELECT kind || ':' || status || ':' || coalesce(note, '') FROM relais.reminders WHERE order_id = 'rem-b'").map { $0[0]! }
        // Ready and collected in one batch plan no reminder at all; in two, the first plans it and the second cancels it.
        #expect(remindersOfB == [] || remindersOfB == ["uncollected:cancelled:"], "B's reminder was cancelled by its collection: \(remindersOfB)")
        let ids = channels.smtp.messages().compactMap { $0.headers["Message-ID"] }
        #expect(Set(ids).count == ids.count, "no message reached the SMTP server twice: \(ids.count) mails, \(pickupMails.count) about pickups")
        let french = channels.smtp.messages().last { $0.body?.contains("rem-a") == true }
        #expect(french?.body?.contains("Bonjour") == true, "in French: \(french?.body ?? "")")
    }

    /// Waits for the outbox row of `template` for the order, then returns when it was sent.
    private func waitForMail(_ smtp: SmtpSink, subjectOrBody order: String, template: String, _ deployment: Deployment) throws -> Date? {
        let sent = try eventually(timeout: .seconds(20), every: .milliseconds(100)) {
            try deployment.query("SELECT status FROM relais.notification_log WHERE order_id = '\(order)' AND template = '\(template)'")
                .first?[0] == "sent"
        }
        guard sent else { return nil }
        let epoch = try deployment.query("""
            SELECT extract(epoch FROM sent_at) FROM relais.notification_log WHERE order_id = '\(order)' AND template = '\(template)'
            """).first?[0] ?? nil
        return epoch.flatMap(Double.init).map { Date(timeIntervalSince1970: $0) }
    }
}

import Foundation
import RedisClient
import RelaisTestSupport
import Testing

/// A `deliveries` job about `order`, happening now unless `at` says otherwise.
private func delivery(_ id: String, _ type: String, _ order: String, at: String = now(), _ extra: String = "") -> String {
    #"{"id":"\#(id)","type":"delivery.\#(type)","data":{"order_id":"\#(order)","at":"\#(at)"\#(extra)}}"#
}

private let relayPoint = #","relay":{"name":"Tabac de la Gare","address":"2 place de la Gare, 69002 Lyon","opening_hours":"lun.-sam. 8h-19h"}"#

extension Deployment {
    /// `delivery_state:status` of an order in the read model.
    func deliveryState(_ order: String) throws -> String? {
        try query("SELECT coalesce(delivery_state, '-') || ':' || status FROM relais.order_status WHERE order_id = '\(order)'").first?[0] ?? nil
    }
}

@Suite("Deliveries end to end, through the binary and real channels", .serialized)
struct DeliveriesEndToEndTests {
    /// Home and relay-point deliveries: the stock leaves at shipping and comes back on a
    /// return, the customer hears of each step (tracking, code, address, hours, last day),
    /// the shop of the return, and `relais.order_status` shows where each stands.
    @Test func homeAndRelayDeliveriesMoveStockTellEachSideAndShowInTheReadModel() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings)
        defer { daemon.stop() }
        let webhook = channels.http.url("/webhook")

        try deployment.producer.xadd(queue: "stock", payload: levels("count", shop: "boul", at: "2026-11-28T07:00:00Z",
                                                                      [("baguette", 10), ("confiture", 5)]))
        try deployment.producer.xadd(queue: "orders", payload: placed("home-1", items: [("baguette", "Baguette", 2, 120)], phone: nil))
        try deployment.producer.xadd(queue: "orders", payload: placed(
            "relay-1", items: [("confiture", "Confiture de fraises", 1, 650), ("baguette", "Baguette", 1, 120)], webhook: webhook))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.stock(shop: "boul") == ["baguette": [10, 3, 7], "confiture": [5, 1, 4]])

        // Home: shipped (twice, the same job), then delivered.
        let shipped = delivery("home-1-shipped", "shipped", "home-1",
                               #","method":"home","carrier":"Colissimo","tracking_url":"https://suivi.example/colis/8R123","tracking_number":"8R123""#)
        try deployment.producer.xadd(queue: "deliveries", payload: shipped)
        try deployment.producer.xadd(queue: "deliveries", payload: shipped)
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.deliveryState("home-1") == "shipped:shipped")
        #expect(try deployment.stock(shop: "boul")["baguette"] == [8, 1, 7], "the two baguettes left on_hand and reserved once")
        try deployment.producer.xadd(queue: "deliveries", payload: delivery("home-1-delivered", "delivered", "home-1"))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.deliveryState("home-1") == "delivered:delivered")
        #expect(try deployment.query("SELECT delivery_method, carrier, tracking_url FROM relais.order_status WHERE order_id = 'home-1'")
                == [["home", "Colissimo", "https://suivi.example/colis/8R123"]])

        // Relay point: shipped, waiting at the relay, then sent back to the shop.
        try deployment.producer.xadd(queue: "deliveries", payload: delivery("relay-1-shipped", "shipped", "relay-1",
                                                                            #","method":"relay","carrier":"Mondial Relay""#))
        try deployment.producer.xadd(queue: "deliveries", payload: delivery("relay-1-at", "at_relay", "relay-1",
                                                                            relayPoint + #","pickup_code":"4821","hold_until":"2026-12-15T19:00:00+01:00""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.query("SELECT delivery_state, relay_name, relay_hold_until = '2026-12-15T18:00:00Z' FROM relais.order_status WHERE order_id = 'relay-1'")
                == [["at_relay", "Tabac de la Gare", "t"]])
        #expect(try deployment.stock(shop: "boul") == ["baguette": [7, 0, 7], "confiture": [4, 0, 4]])
        try deployment.producer.xadd(queue: "deliveries", payload: delivery("relay-1-returned", "returned", "relay-1",
                                                                            #","reason":"colis non retiré""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.deliveryState("relay-1") == "returned:returned")
        #expect(try deployment.stock(shop: "boul") == ["baguette": [8, 0, 8], "confiture": [5, 0, 5]], "the return's quantities are back")
        let adjustments = try deployment.query(
            "SELECT sku || ':' || delta FROM relais.stock_adjustments WHERE shop_id = 'boul' AND job_id LIKE 'deliveries:%' ORDER BY at, sku"
        ).map { $0[0]! }
        #expect(adjustments == ["baguette:-2", "baguette:-1", "confiture:-1", "baguette:1", "confiture:1"],
                "out at each shipping, back on the return, each an adjustment at its step's time: \(adjustments)")

        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.messages("home-1") == ["order-placed-shop:email:sent", "order-placed-customer:email:sent",
                                                      "delivery-shipped-customer:email:sent"], "one shipped message for the job sent twice")
        #expect(try deployment.messages("relay-1") == [
            "order-placed-shop:email:sent", "order-placed-shop:webhook:sent", "order-placed-customer:email:sent",
            "delivery-shipped-customer:email:sent",
            "delivery-at-relay-customer:email:sent", "delivery-at-relay-customer:sms:sent",
            "delivery-returned-shop:email:sent", "delivery-returned-shop:webhook:sent",
            "delivery-returned-customer:email:sent", "delivery-returned-customer:sms:sent",
        ])
        #expect(try deployment.query("SELECT kind || ':' || status FROM relais.reminders WHERE order_id = 'relay-1'")
                == [["relay_hold:cancelled"]], "the hold reminder planned at the relay, cancelled by the return")

        let mails = channels.smtp.messages()
        let tracking = try #require(mails.first { $0.subject == "Votre commande home-1 est en route" })
        #expect(tracking.body?.contains("Suivre le colis : https://suivi.example/colis/8R123") == true, "\(tracking.body ?? "")")
        let waiting = try #require(mails.first { $0.subject == "Votre commande relay-1 vous attend au point relais Tabac de la Gare" })
        let body = waiting.body ?? ""
        for fact in ["2 place de la Gare, 69002 Lyon", "Horaires : lun.-sam. 8h-19h", "Votre code de retrait : 4821",
                     "jusqu’au mardi 15 décembre à 19h00"] {
            #expect(body.contains(fact), "\(fact) in: \(body)")
        }
        let shopMail = try #require(mails.first { $0.subject == "Commande relay-1 retournée par le transporteur" })
        #expect(shopMail.recipients == ["boutique@example.fr"])
        #expect(shopMail.body?.contains("Motif : colis non retiré") == true)
        let sms = channels.http.requests(path: "/sms").map(\.body)
        #expect(sms.contains { $0.contains("4821") && $0.contains("Tabac de la Gare") }, "\(sms)")
        let hooks = channels.http.requests(path: "/webhook").filter { $0.body.contains("delivery.returned") }
        #expect(hooks.count == 1 && hooks.allSatisfy { $0.verified == true }, "one signed webhook for the return")
        #expect(hooks.first?.body.contains(#""delivery":{"carrier":"Mondial Relay""#) == true, "\(hooks.first?.body ?? "")")
    }

    /// Steps that overtake the shipment or the order, steps after the end, and bad input.
    @Test func outOfOrderStepsAreToleratedAndBadOnesDeadLetteredNamingTheField() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start(["RELAIS_RETRY_BASE": "200ms", "RELAIS_RETRY_MAX": "400ms"])
        defer { daemon.stop() }
        try deployment.producer.xadd(queue: "stock", payload: levels("count", shop: "boul", at: "2026-11-28T07:00:00Z", [("pain", 10)]))
        #expect(try deployment.waitUntilDrained())

        // The relay's step before the order exists: retried until order.placed arrives.
        try deployment.producer.xadd(queue: "deliveries", payload: delivery("early-at", "at_relay", "early",
                                                                            relayPoint + #","pickup_code":"1","hold_until":"\#(now(plus: 86_400 * 5))""#))
        #expect(try eventually(timeout: .seconds(10)) {
            try TestServers.withRedis { (redis: RedisConnection) throws in
                (try redis.command("ZCARD", "\(deployment.prefix):deliveries:retry").integer ?? 0) > 0
            }
        }, "the step waits in the retry set")
        try deployment.producer.xadd(queue: "orders", payload: placed("early", items: [("pain", "Pain", 2, 100)]))
        #expect(try deployment.waitUntilDrained())
        #expect(try eventually(timeout: .seconds(10)) { try deployment.deliveryState("early") == "at_relay:shipped" })
        // The shipment it overtook arrives late: kept in the history, changes nothing, sends nothing.
        try deployment.producer.xadd(queue: "deliveries", payload: delivery("early-shipped", "shipped", "early", #","method":"relay","carrier":"Relais Colis""#))
        // A cancelled order is not shipped.
        try deployment.producer.xadd(queue: "orders", payload: placed("off", items: [("pain", "Pain", 1, 100)]))
        try deployment.producer.xadd(queue: "orders", payload: event("off", "cancelled", extra: #","by":"customer""#))
        #expect(try deployment.waitUntilDrained())
        try deployment.producer.xadd(queue: "deliveries", payload: delivery("off-shipped", "shipped", "off", #","method":"home","carrier":"X""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.query("SELECT order_id, type, applied::text, note FROM relais.order_events WHERE type LIKE 'delivery.%' ORDER BY order_id, recorded_at") == [
            ["early", "delivery.at_relay", "true", nil],
            ["early", "delivery.shipped", "false", "shipped would move a delivery at_relay backwards"],
            ["off", "delivery.shipped", "false", "the order is already cancelled"],
        ])
        #expect(try deployment.deliveryState("off") == "-:cancelled")
        #expect(try deployment.stock(shop: "boul")["pain"] == [8, 0, 8], "early's two loaves left once; off's were released")
        #expect(try deployment.query("SELECT count(*) FROM relais.notification_log WHERE template = 'delivery-shipped-customer'") == [["0"]])

        // Bad input: each dead-lettered with the field named, nothing applied.
        let bad = [
            (delivery("bad-1", "shipped", "early", #","method":"drone","carrier":"X""#), "data.method: must be one of home, relay"),
            (delivery("bad-2", "at_relay", "early", relayPoint + #","pickup_code":"1","hold_until":"2020-01-01T00:00:00Z""#), "data.hold_until: must be after at"),
            (delivery("bad-3", "shipped", "early", #","method":"home","carrier":"X","tracking_url":"javascript:alert(1)""#), "data.tracking_url: must be an http or https URL"),
            (delivery("bad-4", "at_relay", "early", #","relay":{"name":"T"},"pickup_code":"1","hold_until":"\#(now(plus: 9000))""#), "data.relay.address: is required"),
            (#"{"id":"bad-5","type":"delivery.lost","data":{"order_id":"early","at":"2026-12-01T10:00:00Z"}}"#, nil),
        ]
        for (job, _) in bad { try deployment.producer.xadd(queue: "deliveries", payload: job) }
        #expect(try deployment.waitUntilDrained())
        let letters = try deployment.deadLetters()
        for (job, reason) in bad {
            let id = String(job.dropFirst(7).prefix(5))
            let letter = letters.first { $0["job_id"] == id }
            #expect(letter != nil, "\(id) dead-lettered")
            if let reason { #expect(letter?["reason"] == reason, "\(letter ?? [:])") } else { #expect(letter?["code"] == "unknown_type") }
        }
        #expect(try deployment.deliveryState("early") == "at_relay:shipped")
    }

    /// The relay point's reminder: sent once, the configured time before the hold ends,
    /// to a parcel still waiting; none for one collected meanwhile; one due in the shop's
    /// quiet hours waits for their end, on the shop's clock.
    @Test func theHoldReminderGoesOnceBeforeTheHoldEndsAndWaitsForTheEndOfQuietHours() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        // Quiet hours that began an hour ago and end in two, on Tokyo's clock.
        var tokyo = Calendar(identifier: .gregorian)
        tokyo.timeZone = TimeZone(identifier: "Asia/Tokyo")!
        let clock = { (date: Date) -> String in
            let parts = tokyo.dateComponents([.hour, .minute], from: date)
            return String(format: "%02d:%02d", parts.hour!, parts.minute!)
        }
        let quietStart = clock(Date().addingTimeInterval(-3600)), quietEnd = clock(Date().addingTimeInterval(7200))
        let settings = channels.settings.merging([
            "RELAIS_REMINDER_BEFORE_HOLD_END": "3s", "RELAIS_QUIET_HOURS": "00:00-00:00",
        ]) { $1 }
        let daemon = try deployment.start(settings)
        defer { daemon.stop() }

        for order in ["wait", "taken"] {
            try deployment.producer.xadd(queue: "orders", payload: placed(order, items: [("pain", "Pain", 1, 100)], phone: nil))
        }
        #expect(try deployment.waitUntilDrained())
        let arrived = Date()
        for order in ["wait", "taken"] {
            try deployment.producer.xadd(queue: "deliveries", payload: delivery("\(order)-at", "at_relay", order,
                                                                                relayPoint + #","pickup_code":"77","hold_until":"\#(now(plus: 6))""#))
        }
        try deployment.producer.xadd(queue: "deliveries", payload: delivery("taken-collected", "collected", "taken"))
        #expect(try deployment.waitUntilDrained())
        #expect(try eventually(timeout: .seconds(15)) {
            try deployment.query("SELECT count(*) FROM relais.reminders WHERE status = 'pending'")[0][0] == "0"
        })
        #expect(try deployment.waitUntilDelivered())
        let reminders = channels.smtp.messages().filter { $0.subject == "Dernier jour pour retirer votre commande wait" }
        #expect(reminders.count == 1, "sent once")
        #expect(channels.smtp.messages().allSatisfy { $0.subject?.contains("retirer votre commande taken") != true }, "none for the collected parcel")
        #expect(try deployment.query("SELECT order_id, kind, status FROM relais.reminders ORDER BY order_id")
                == [["taken", "relay_hold", "cancelled"], ["wait", "relay_hold", "sent"]])
        let sentAt = try #require(try deployment.query("""
            SELECT extract(epoch FROM sent_at) FROM relais.notification_log WHERE template = 'delivery-hold-reminder-customer'
            """).first?[0].flatMap(Double.init))
        #expect(sentAt - arrived.timeIntervalSince1970 >= 2.5, "not before 3 s ahead of the hold's end")
        daemon.stop()

        // The same in quiet hours, for a shop in Tokyo: planned for the end of the quiet hours there.
        let quiet = try deployment.start(settings.merging(["RELAIS_QUIET_HOURS": "\(quietStart)-\(quietEnd)",
                                                           "RELAIS_REMINDER_BEFORE_HOLD_END": "1h"]) { $1 })
        defer { quiet.stop() }
        let tokyoOrder = placed("tokyo", items: [("pain", "Pain", 1, 100)], phone: nil)
            .replacingOccurrences(of: #""email":"boutique@example.fr""#, with: #""email":"boutique@example.fr","timezone":"Asia/Tokyo""#)
        try deployment.producer.xadd(queue: "orders", payload: tokyoOrder)
        try deployment.producer.xadd(queue: "deliveries", payload: delivery("tokyo-at", "at_relay", "tokyo",
                                                                            relayPoint + #","pickup_code":"9","hold_until":"\#(now(plus: 2.5 * 3600))""#))
        #expect(try deployment.waitUntilDrained())
        let due = try #require(try deployment.query("""
            SELECT to_char(due_at AT TIME ZONE 'Asia/Tokyo', 'HH24:MI'), status FROM relais.reminders WHERE order_id = 'tokyo'
            """).first)
        #expect(due == [quietEnd, "pending"], "1 h before the hold, 1.5 h from now, is within the quiet hours: moved to their end, on Tokyo's clock: \(due)")
    }
}

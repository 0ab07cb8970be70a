import Foundation
import RelaisTestSupport
import Testing

/// The sinks every channel delivers to, and the daemon settings that point at them.
final class Channels {
    let smtp: SmtpSink
    let http: HttpSink
    let secret = "whsec_" + Data((0..<24).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()

    init() throws {
        smtp = try SmtpSink(auth: "relais:s3cret")
        http = try HttpSink(webhookSecret: secret)
    }

    var settings: [String: String] {
        [
            // The sink offers AUTH without STARTTLS: sending the credentials in clear is allowed explicitly.
            "RELAIS_SMTP_URL": smtp.url(credentials: "relais:s3cret"), "RELAIS_SMTP_FROM": "commandes@relais.test",
            "RELAIS_SMTP_ALLOW_PLAINTEXT_AUTH": "true",
            "RELAIS_SMS_URL": http.url("/sms"), "RELAIS_SMS_TOKEN": "sms-token-42",
            "RELAIS_WEBHOOK_SECRET": secret,
            // The sink listens on loopback, which webhooks reach only when allowed.
            "RELAIS_WEBHOOK_ALLOW_NETWORKS": "127.0.0.1/32",
            "RELAIS_DELIVERY_RETRY_BASE": "300ms", "RELAIS_DELIVERY_RETRY_MAX": "1s", "RELAIS_DELIVERY_MAX_ATTEMPTS": "4",
        ]
    }

    func stop() {
        smtp.stop()
        http.stop()
    }
}

func placed(_ order: String, shop: String = "boul", items: [(String, String, Int, Int)], customer: String = "Léa Dubois",
            email: String? = "lea@example.fr", phone: String? = "+33612345678", deadline: String? = nil, webhook: String? = nil) -> String {
    let lines = items.map { #"{"sku":"\#($0.0)","name":"\#($0.1)","quantity":\#($0.2),"unit_price_cents":\#($0.3)}"# }.joined(separator: ",")
    let total = items.reduce(0) { $0 + $1.2 * $1.3 }
    var shopJSON = #"{"id":"\#(shop)","name":"Boulangerie Martin","email":"boutique@example.fr""#
    if let webhook { shopJSON += #","webhook_url":"\#(webhook)""# }
    shopJSON += "}"
    var customerJSON = #"{"name":"\#(customer)""#
    if let email { customerJSON += #","email":"\#(email)""# }
    if let phone { customerJSON += #","phone":"\#(phone)""# }
    customerJSON += "}"
    let deadlineJSON = deadline.map { #","pickup_deadline":"\#($0)""# } ?? ""
    return #"{"id":"\#(order)-placed","type":"order.placed","data":{"order_id":"\#(order)","shop":\#(shopJSON),"customer":\#(customerJSON),"items":[\#(lines)],"total_cents":\#(total),"currency":"EUR","placed_at":"2026-11-28T09:00:00+01:00"\#(deadlineJSON)}}"#
}

/// An event of `order` that happens now: a fixed date would in time be long past, and
/// the reminders it plans due at once.
func event(_ order: String, _ kind: String, extra: String = "") -> String {
    #"{"id":"\#(order)-\#(kind)","type":"order.\#(kind)","data":{"order_id":"\#(order)","at":"\#(now())"\#(extra)}}"#
}

/// `seconds` from now as an RFC 3339 time in UTC, with milliseconds.
func now(plus seconds: Double = 0) -> String {
    let date = Date().addingTimeInterval(seconds)
    var text = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    if !text.hasSuffix("Z") { text += "Z" }
    return text
}

/// 18:00 in Paris three days from now: a pickup deadline always ahead, at a known hour.
func deadlineAhead() -> String {
    String(now(plus: 3 * 86_400).prefix(10)) + "T18:00:00+01:00"
}

extension Deployment {
    func status(_ order: String) throws -> String? {
        try query("SELECT status FROM relais.order_status WHERE order_id = '\(order)'").first?[0] ?? nil
    }

    /// `sku → [on_hand, reserved, available]` for a shop.
    func stock(shop: String) throws -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: try query("SELECT sku, on_hand, reserved, available FROM relais.stock_available WHERE shop_id = '\(shop)'")
            .map { ($0[0]!, [Int($0[1]!)!, Int($0[2]!)!, Int($0[3]!)!]) })
    }

    /// `template:channel:status` of an order's messages, oldest first.
    func messages(_ order: String) throws -> [String] {
        try query("SELECT template || ':' || channel || ':' || status FROM relais.notification_log WHERE order_id = '\(order)' ORDER BY id")
            .map { $0[0]! }
    }

    /// Waits until no message is pending in the outbox.
    func waitUntilDelivered(timeout: Duration = .seconds(30)) throws -> Bool {
        try eventually(timeout: timeout, every: .milliseconds(100)) {
            try query("SELECT count(*) FROM relais.outbox WHERE status = 'pending'")[0][0] == "0"
        }
    }
}

@Suite("Orders end to end, through the binary and real channels", .serialized)
struct OrdersEndToEndTests {
    @Test func ordersWalkEveryPathAndEveryMessageGoesOut() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings)
        defer { daemon.stop() }
        let webhook = channels.http.url("/webhook")

        try deployment.producer.xadd(queue: "stock", payload: levels("count", shop: "boul", at: "2026-11-28T07:00:00Z",
                                                                      [("baguette", 10), ("croissant", 1)]))
        #expect(try deployment.waitUntilDrained())

        // Placed: reserved (the croissants are short), the shop hears by e-mail and webhook, the customer by e-mail.
        try deployment.producer.xadd(queue: "orders", payload: placed(
            "cmd-1", items: [("baguette", "Baguette tradition", 2, 120), ("croissant", "Croissant", 3, 110)], webhook: webhook))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.status("cmd-1") == "placed")
        #expect(try deployment.stock(shop: "boul") == ["baguette": [10, 2, 8], "croissant": [1, 3, -2]])
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.messages("cmd-1") == ["order-placed-shop:email:sent", "order-placed-shop:webhook:sent",
                                                     "order-placed-customer:email:sent"])
        let mails = channels.smtp.waitForMessages(2)
        try #require(mails.count == 2)
        let shopMail = try #require(mails.first { $0.recipients == ["boutique@example.fr"] })
        let customerMail = try #require(mails.first { $0.recipients == ["lea@example.fr"] })
        #expect(shopMail.mailFrom == "commandes@relais.test")
        #expect(shopMail.authenticated)
        #expect(shopMail.charset?.lowercased() == "utf-8")
        #expect(shopMail.headers["Message-ID"]?.contains("relais-") == true, "\(shopMail.headers)")
        #expect(shopMail.subject == "Nouvelle commande cmd-1 de Léa Dubois (stock insuffisant)")
        let shopBody = shopMail.body ?? ""
        #expect(shopBody.contains("Léa Dubois vient de passer une commande en retrait chez Boulangerie Martin."), "\(shopBody)")
        #expect(shopBody.contains("- 2 × Baguette tradition (réf. baguette) : 1,20 € l’unité, soit 2,40 €"), "\(shopBody)")
        #expect(shopBody.contains("- 3 × Croissant (réf. croissant) : 1,10 € l’unité, soit 3,30 €"), "\(shopBody)")
        #expect(shopBody.contains("Total : 5,70 €"), "the total in euros with a comma: \(shopBody)")
        #expect(shopBody.contains("Rupture / stock insuffisant\nVotre stock disponible ne couvre pas cet article, réservé malgré tout pour cette commande :\n- 3 × Croissant (réf. croissant)\n"),
                "the shop's message names the short item, and only it: \(shopBody)")
        #expect(customerMail.subject == "Votre commande cmd-1 chez Boulangerie Martin est bien enregistrée")
        #expect(customerMail.body?.contains("Nous avons bien reçu votre commande cmd-1 chez Boulangerie Martin") == true, "\(customerMail.body ?? "")")
        let hooks = channels.http.requests(path: "/webhook")
        try #require(hooks.count == 1)
        #expect(hooks[0].verified == true, "standardwebhooks verified the signature: \(hooks[0].error ?? "")")
        #expect(hooks[0].headers["webhook-id"]?.hasPrefix("relais-") == true)
        #expect(hooks[0].body.contains(#""order.placed""#))

        // Confirmed, ready (the customer also gets an SMS), collected (stock leaves the shelf, no message).
        try deployment.producer.xadd(queue: "orders", payload: event("cmd-1", "confirmed"))
        try deployment.producer.xadd(queue: "orders", payload: event("cmd-1", "ready", extra: #","pickup_deadline":"\#(deadlineAhead())""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.status("cmd-1") == "ready")
        #expect(try deployment.waitUntilDelivered())
        let cmd1Messages = ["order-placed-shop:email:sent", "order-placed-shop:webhook:sent", "order-placed-customer:email:sent",
                            "order-confirmed-customer:email:sent", "order-ready-customer:email:sent", "order-ready-customer:sms:sent"]
        #expect(try deployment.messages("cmd-1") == cmd1Messages)
        let sms = channels.http.requests(path: "/sms")
        try #require(sms.count == 1)
        #expect(sms[0].headers["authorization"] == "Bearer sms-token-42")
        let smsBody = try JSONSerialization.jsonObject(with: Data(sms[0].body.utf8)) as? [String: String]
        #expect(smsBody?["to"] == "+33612345678")
        let smsText = smsBody?["text"] ?? ""
        #expect(smsText.count <= 160, "one SMS segment: \(smsText)")
        #expect(smsText.hasPrefix("Boulangerie Martin : votre commande cmd-1 est disponible au retrait jusqu'au ")
                && smsText.hasSuffix(" à 18h00. Donnez ce numéro en magasin."), "the deadline in the shop's time zone: \(smsText)")
        let mailsNow = channels.smtp.waitForMessages(4)
        #expect(mailsNow.count == 4, "placed (shop, customer), confirmed, ready: \(mailsNow.map { $0.subject ?? "" })")
        let readyMail = try #require(mailsNow.first { $0.subject == "Votre commande cmd-1 vous attend chez Boulangerie Martin" })
        #expect(readyMail.recipients == ["lea@example.fr"])
        #expect(readyMail.body?.contains(" à 18h00 ; passé ce délai, elle sera annulée.") == true,
                "the deadline in the shop's time zone: \(readyMail.body ?? "")")
        try deployment.producer.xadd(queue: "orders", payload: event("cmd-1", "collected"))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.status("cmd-1") == "collected")
        #expect(try deployment.stock(shop: "boul") == ["baguette": [8, 0, 8], "croissant": [-2, 0, -2]])
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.messages("cmd-1") == cmd1Messages, "collecting sends nothing")

        // Cancelled by the customer: released, the shop is told; by the shop: the customer is told.
        try deployment.producer.xadd(queue: "orders", payload: placed("cmd-2", items: [("baguette", "Baguette", 3, 120)], phone: nil))
        try deployment.producer.xadd(queue: "orders", payload: placed("cmd-3", items: [("baguette", "Baguette", 1, 120)], phone: nil))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.stock(shop: "boul")["baguette"] == [8, 4, 4])
        try deployment.producer.xadd(queue: "orders", payload: event("cmd-2", "cancelled", extra: #","by":"customer","reason":"Empêchement""#))
        try deployment.producer.xadd(queue: "orders", payload: event("cmd-3", "cancelled", extra: #","by":"shop","reason":"Fermeture exceptionnelle""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.status("cmd-2") == "cancelled")
        #expect(try deployment.status("cmd-3") == "cancelled")
        #expect(try deployment.stock(shop: "boul")["baguette"] == [8, 0, 8])
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.messages("cmd-2") == ["order-placed-shop:email:sent", "order-placed-customer:email:sent",
                                                     "order-cancelled-shop:email:sent"], "cancelled by the customer: the shop is told")
        #expect(try deployment.messages("cmd-3") == ["order-placed-shop:email:sent", "order-placed-customer:email:sent",
                                                     "order-cancelled-customer:email:sent"], "cancelled by the shop: the customer is told")
        let cancelMails = channels.smtp.messages().filter { $0.subject == "Votre commande cmd-3 chez Boulangerie Martin est annulée" }
        try #require(cancelMails.count == 1)
        #expect(cancelMails[0].recipients == ["lea@example.fr"])
        #expect(cancelMails[0].body?.contains("Boulangerie Martin a dû annuler votre commande cmd-3.\n\nMotif : Fermeture exceptionnelle") == true,
                "the shop's reason: \(cancelMails[0].body ?? "")")

        // Expired: a ready order past its deadline goes back on the shelf and both sides hear of it.
        try deployment.producer.xadd(queue: "orders", payload: placed("cmd-4", items: [("baguette", "Baguette", 2, 120)], phone: nil))
        try deployment.producer.xadd(queue: "orders", payload: event("cmd-4", "ready", extra: #","pickup_deadline":"2026-01-01T18:00:00+01:00""#))
        #expect(try eventually(timeout: .seconds(15)) { try deployment.status("cmd-4") == "expired" })
        #expect(try deployment.stock(shop: "boul")["baguette"] == [8, 0, 8])
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.messages("cmd-4") == ["order-placed-shop:email:sent", "order-placed-customer:email:sent",
                                                     "order-ready-customer:email:sent",
                                                     "order-expired-shop:email:sent", "order-expired-customer:email:sent"])

        // English when the customer's locale says so.
        let english = placed("cmd-5", items: [("baguette", "Baguette", 1, 120)], customer: "John Smith", email: "john@example.com", phone: nil)
            .replacingOccurrences(of: #""name":"John Smith""#, with: #""name":"John Smith","locale":"en""#)
        try deployment.producer.xadd(queue: "orders", payload: english)
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.waitUntilDelivered())
        let johnMails = channels.smtp.messages().filter { $0.recipients == ["john@example.com"] }
        try #require(johnMails.count == 1, "one e-mail for the placed order")
        let johnBody = johnMails[0].body ?? ""
        #expect(johnBody.contains("€1.20") && !johnBody.contains("1,20 €"), "English shows €1.20, not the French format: \(johnBody)")
        #expect(johnBody.contains("John Smith"), "\(johnBody)")
        #expect(try deployment.messages("cmd-5") == ["order-placed-shop:email:sent", "order-placed-customer:email:sent"])

        #expect(try deployment.deadLetters().isEmpty)
        #expect(!daemon.log.contains("lea@example.fr"), "no e-mail address in the log")
        #expect(!daemon.log.contains("+33612345678"), "no phone number in the log")
        #expect(!daemon.log.contains("s3cret"), "no SMTP password in the log")
    }

    @Test func anUnreachableChannelIsRetriedAndNothingIsLost() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        channels.smtp.stop()
        try channels.http.setStatus(path: "/webhook", status: 500)
        let daemon = try deployment.start(channels.settings.merging(["RELAIS_DELIVERY_MAX_ATTEMPTS": "6"]) { $1 })
        defer { daemon.stop() }

        try deployment.producer.xadd(queue: "orders", payload: placed("down-1", items: [("a", "A", 1, 100)], phone: nil,
                                                                       webhook: channels.http.url("/webhook")))
        #expect(try deployment.waitUntilDrained())
        // The SMTP server is down: the e-mails are tried again and again, and wait.
        #expect(try eventually(timeout: .seconds(10)) {
            let rows = try deployment.query("SELECT status, attempts FROM relais.notification_log WHERE channel = 'email'")
            return rows.count == 2 && rows.allSatisfy { $0[0] == "pending" && Int($0[1]!)! >= 2 }
        })
        let retried = try deployment.query("SELECT last_error FROM relais.notification_log WHERE channel = 'email'")
        #expect(retried.allSatisfy { ($0[0] ?? nil)?.isEmpty == false }, "the reason is kept: \(retried)")
        // Operators see the waiting e-mails in /status and the metrics.
        #expect(eventually(timeout: .seconds(10)) {
            let status = daemon.get("/status")
            guard status.status == 200, let body = try? JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any],
                  let email = (body["outbox"] as? [String: Any])?["email"] as? [String: Any] else { return false }
            return email["pending"] as? Int == 2
        }, "/status shows the two e-mails pending: \(daemon.get("/status").body)")
        let metrics = daemon.get("/metrics").body
        #expect(metrics.contains(#"relais_outbox_messages{channel="email",state="pending"} 2"#), "\(metrics)")
        #expect(metrics.contains(#"relais_notifications_total{channel="email",outcome="retry"}"#))
        // When it comes back, every e-mail is delivered, once.
        try channels.smtp.start()
        #expect(try eventually(timeout: .seconds(15)) {
            try deployment.messages("down-1").filter { $0.hasSuffix(":email:sent") }.count == 2
        })
        #expect(channels.smtp.waitForMessages(2).count == 2)
        // The webhook answers 500 every time: retried with backoff, then failed with the status;
        // its failures never held the e-mails up.
        #expect(try eventually(timeout: .seconds(30)) {
            try deployment.messages("down-1").contains("order-placed-shop:webhook:failed")
        })
        let webhookRow = try deployment.query("SELECT attempts, last_error FROM relais.notification_log WHERE channel = 'webhook'")
        #expect(webhookRow.first?[0] == "6", "every attempt was made")
        #expect((webhookRow.first?[1] ?? nil)?.contains("HTTP 500") == true, "\(webhookRow)")
        #expect(channels.http.requests(path: "/webhook").count == 6)
        #expect(daemon.process.isRunning)
    }

    @Test func webhookAllowListThatIsNotAListOfNetworksStopsWithSeventyEight() throws {
        let deployment = try Deployment()
        let check = try Daemon.command(["check"], environment: try deployment.environment([
            "RELAIS_WEBHOOK_ALLOW_NETWORKS": "10.20.0.0/16, intranet.local",
        ]))
        #expect(check.status == 78, "\(check.output)\(check.errors)")
        #expect(check.errors.contains("RELAIS_WEBHOOK_ALLOW_NETWORKS (webhook_allow_networks in the configuration file)"), "\(check.errors)")
        #expect(check.errors.contains("\"intranet.local\" is not one"), "\(check.errors)")
    }

    @Test func killDashNineDuringABurstOfOrdersLosesAndDuplicatesNothing() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        var daemon = try deployment.start(channels.settings.merging(["RELAIS_BATCH_SIZE": "20"]) { $1 })
        let total = 600
        try deployment.producer.xadd(queue: "stock", payload: levels("shelf", shop: "boul", at: "2026-11-28T07:00:00Z", [("pain", 10_000)]))
        let payloads = (0..<total).map { placed("burst-\($0)", items: [("pain", "Pain", 1, 100), ("pain", "Pain", 2, 100)], phone: nil) }
        let produced = DispatchSemaphore(value: 0)
        Thread {
            try? deployment.producer.xaddMany(queue: "orders", payloads: payloads)
            produced.signal()
        }.start()
        let placedCount = { try Int(deployment.query("SELECT count(*) FROM relais.orders")[0][0]!)! }
        #expect(try eventually(timeout: .seconds(30), every: .milliseconds(5)) { try placedCount() >= 60 })
        daemon.send(SIGKILL)
        _ = daemon.waitForExit()
        let atKill = try placedCount()
        #expect(atKill < total, "killed in the middle of the burst (\(atKill) of \(total) placed)")
        produced.wait()

        daemon = try deployment.start(channels.settings)
        defer { daemon.stop() }
        #expect(try deployment.waitUntilDrained(timeout: .seconds(120)))
        #expect(try placedCount() == total, "every order once")
        #expect(try deployment.stock(shop: "boul")["pain"] == [10_000, 3 * total, 10_000 - 3 * total], "every reservation once")
        let messages = try deployment.query("SELECT count(*), count(DISTINCT (order_id, template)) FROM relais.outbox")[0]
        #expect(messages[0] == String(2 * total) && messages[1] == String(2 * total), "two messages per order, once each: \(messages)")
        #expect(try deployment.waitUntilDelivered(timeout: .seconds(120)))
        // A message whose send was cut by the kill may reach the server twice, with the same Message-ID.
        let ids = Set(channels.smtp.messages().compactMap { $0.headers["Message-ID"] })
        #expect(ids.count == 2 * total, "every message reached the SMTP server (\(ids.count) distinct of \(2 * total))")
        #expect(try deployment.deadLetters().isEmpty)
    }
}

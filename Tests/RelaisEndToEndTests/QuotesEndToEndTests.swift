import Foundation
import RelaisTestSupport
import Testing

/// `quote.requested` for `quote`, asked now of the Boulangerie Martin (its webhook when given, in `zone`).
private func requested(_ quote: String, id: String? = nil, zone: String = "Europe/Paris", webhook: String? = nil,
                       email: String? = "lea@example.fr", phone: String? = nil) -> String {
    var shop = #"{"id":"boul","name":"Boulangerie Martin","email":"boutique@example.fr","timezone":"\#(zone)""#
    if let webhook { shop += #","webhook_url":"\#(webhook)""# }
    shop += "}"
    var customer = #"{"name":"Léa Dubois""#
    if let email { customer += #","email":"\#(email)""# }
    if let phone { customer += #","phone":"\#(phone)""# }
    customer += "}"
    return #"{"id":"\#(id ?? quote + "-requested")","type":"quote.requested","data":{"quote_id":"\#(quote)","at":"\#(now())","shop":\#(shop),"customer":\#(customer),"request":"Un gâteau d'anniversaire pour 12 personnes","desired_date":"2026-12-05T12:00:00+01:00"}}"#
}

/// `quote.sent` for `quote`: 45,00 € in two lines, valid until `validUntil`, its `at` given.
private func sent(_ quote: String, id: String? = nil, at: String, validUntil: String, amount: Int = 4500,
                  url: String? = nil) -> String {
    let link = url ?? "https://plateforme.example/devis/\(quote)?vue=client&lang=fr"
    return #"{"id":"\#(id ?? quote + "-sent")","type":"quote.sent","data":{"quote_id":"\#(quote)","at":"\#(at)","amount_cents":\#(amount),"currency":"EUR","lines":[{"description":"Gâteau 12 parts","quantity":1,"unit_price_cents":3900},{"description":"Bougies","quantity":12,"unit_price_cents":50}],"valid_until":"\#(validUntil)","url":"\#(link)"}}"#
}

/// An answer (`accepted`, `declined`, `expired`) to `quote`, now.
private func answer(_ quote: String, _ kind: String, extra: String = "") -> String {
    #"{"id":"\#(quote)-\#(kind)","type":"quote.\#(kind)","data":{"quote_id":"\#(quote)","at":"\#(now())"\#(extra)}}"#
}

extension Deployment {
    /// Where `quote` stands in the read model, or nil when it is not there.
    func quoteStatus(_ quote: String) throws -> String? {
        try query("SELECT status FROM relais.quote_status WHERE quote_id = '\(quote)'").first?[0] ?? nil
    }

    /// `template:channel:status` of a quote's messages, oldest first.
    func quoteMessages(_ quote: String) throws -> [String] {
        try query("""
            SELECT template || ':' || channel || ':' || status FROM relais.notification_log
            WHERE subject = 'quote' AND subject_id = '\(quote)' ORDER BY id
            """).map { $0[0]! }
    }

    /// `type:applied:note` of a quote's history, in the order it was recorded.
    func quoteHistory(_ quote: String) throws -> [String] {
        try query("SELECT type || ':' || applied || ':' || coalesce(note, '') FROM relais.quote_events WHERE quote_id = '\(quote)' ORDER BY recorded_at, job_id")
            .map { $0[0]! }
    }

    /// How many jobs of `queue` wait in its retry set.
    func retrying(_ queue: String) throws -> Int {
        try TestServers.withRedis { redis in Int(try redis.command("ZCARD", "\(prefix):\(queue):retry").integer ?? 0) }
    }
}

@Suite("Quotes end to end, through the binary and real channels", .serialized)
struct QuotesEndToEndTests {
    @Test func aQuoteGoesFromRequestToAnOrderAndEachSideIsToldOnce() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings)
        defer { daemon.stop() }
        let webhook = channels.http.url("/webhook")

        // Requested: the shop hears by e-mail and by a signed webhook; enqueued twice, once.
        try deployment.producer.xadd(queue: "quotes", payload: requested("dev-1", webhook: webhook))
        try deployment.producer.xadd(queue: "quotes", payload: requested("dev-1", webhook: webhook))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.quoteStatus("dev-1") == "requested")
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.quoteMessages("dev-1") == ["quote-requested-shop:email:sent", "quote-requested-shop:webhook:sent"])
        let shopMail = try #require(channels.smtp.waitForMessages(1).first)
        #expect(shopMail.recipients == ["boutique@example.fr"])
        #expect(shopMail.subject == "Demande de devis dev-1 de Léa Dubois")
        #expect(shopMail.body?.contains("Un gâteau d'anniversaire pour 12 personnes") == true, "\(shopMail.body ?? "")")
        #expect(shopMail.body?.contains("Date souhaitée : samedi 5 décembre") == true, "in the shop's zone: \(shopMail.body ?? "")")
        let hooks = channels.http.requests(path: "/webhook")
        try #require(hooks.count == 1, "one webhook for the request enqueued twice")
        #expect(hooks[0].verified == true, "standardwebhooks verified the signature: \(hooks[0].error ?? "")")
        let event = try #require(try JSONSerialization.jsonObject(with: Data(hooks[0].body.utf8)) as? [String: Any])
        #expect(event["type"] as? String == "quote.requested")
        let data = try #require(event["data"] as? [String: Any])
        #expect(data["quote_id"] as? String == "dev-1" && data["shop_id"] as? String == "boul" && data["status"] as? String == "requested")
        #expect((data["customer"] as? [String: Any])?["name"] as? String == "Léa Dubois")
        #expect(data["request"] as? String == "Un gâteau d'anniversaire pour 12 personnes")
        #expect(hooks[0].body.contains(#""data":{"customer":"#), "keys sorted: \(hooks[0].body)")

        // Sent: the customer reads the amount, the lines, the validity and the link (escaped in HTML).
        try deployment.producer.xadd(queue: "quotes", payload: sent("dev-1", at: now(), validUntil: "2099-12-05T18:00:00+01:00"))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.quoteStatus("dev-1") == "sent")
        #expect(try deployment.waitUntilDelivered())
        let mails = channels.smtp.waitForMessages(2)
        let customerMail = try #require(mails.first { $0.recipients == ["lea@example.fr"] })
        #expect(customerMail.subject == "Votre devis dev-1 de Boulangerie Martin : 45,00 €")
        let body = customerMail.body ?? ""
        #expect(body.contains("- 1 × Gâteau 12 parts : 39,00 € l’unité, soit 39,00 €"), "\(body)")
        #expect(body.contains("- 12 × Bougies : 0,50 € l’unité, soit 6,00 €"), "\(body)")
        #expect(body.contains("Montant : 45,00 €"), "\(body)")
        #expect(body.contains("Valable jusqu’au : samedi 5 décembre à 18h00"), "\(body)")
        #expect(body.contains("https://plateforme.example/devis/dev-1?vue=client&lang=fr"), "the link as given: \(body)")
        #expect(customerMail.html?.contains(#"href="https://plateforme.example/devis/dev-1?vue=client&amp;lang=fr""#) == true,
                "the link escaped in the HTML part: \(customerMail.html ?? "")")
        #expect(try deployment.query("SELECT kind, status, subject FROM relais.reminders WHERE order_id = 'dev-1'")
                == [["quote_expiring", "pending", "quote"]], "the reminder before the validity ends is planned")

        // Accepted, with the order the platform places from it: the shop is told, the read
        // model keeps the link, and the reminder is cancelled.
        try deployment.producer.xadd(queue: "quotes", payload: answer("dev-1", "accepted", extra: #","order_id":"cmd-devis-1""#))
        #expect(try deployment.waitUntilDrained())
        let row = try deployment.query("""
            SELECT status, order_id, amount_cents, currency, answered_at IS NOT NULL, sent_at IS NOT NULL, valid_until
            FROM relais.quote_status WHERE quote_id = 'dev-1'
            """)
        #expect(row == [["accepted", "cmd-devis-1", "4500", "EUR", "t", "t", "2099-12-05 17:00:00+00"]], "\(row)")
        #expect(try deployment.query("SELECT status FROM relais.reminders WHERE order_id = 'dev-1'") == [["cancelled"]])
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.quoteMessages("dev-1") == [
            "quote-requested-shop:email:sent", "quote-requested-shop:webhook:sent", "quote-sent-customer:email:sent",
            "quote-accepted-shop:email:sent", "quote-accepted-shop:webhook:sent",
        ])
        let accepted = try #require(channels.smtp.waitForMessages(3).first { $0.subject == "Devis dev-1 accepté par Léa Dubois" })
        #expect(accepted.body?.contains("La commande cmd-devis-1 est créée à partir de ce devis.") == true, "\(accepted.body ?? "")")
        let acceptedHook = try #require(channels.http.requests(path: "/webhook").last)
        #expect(acceptedHook.verified == true)
        #expect(acceptedHook.body.contains(#""order_id":"cmd-devis-1""#) && acceptedHook.body.contains(#""type":"quote.accepted""#),
                "\(acceptedHook.body)")
        #expect(acceptedHook.body.contains(#""amount_cents":4500"#), "\(acceptedHook.body)")

        // The platform places the order: the quote's read model leads to it.
        try deployment.producer.xadd(queue: "orders", payload: placed("cmd-devis-1", items: [("gateau", "Gâteau 12 parts", 1, 4500)], phone: nil))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.query("""
            SELECT q.quote_id, o.status FROM relais.quote_status q JOIN relais.order_status o USING (order_id)
            """) == [["dev-1", "placed"]])
        #expect(try deployment.deadLetters().isEmpty)
        #expect(!daemon.log.contains("lea@example.fr"), "no e-mail address in the log")
    }

    @Test func eventsOutOfOrderConvergeAndBadQuotesAreDeadLetteredByField() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings.merging(["RELAIS_RETRY_BASE": "300ms", "RELAIS_RETRY_MAX": "1s"]) { $1 })
        defer { daemon.stop() }

        // Accepted before it was sent: retried, then applied once the quote is sent.
        try deployment.producer.xadd(queue: "quotes", payload: requested("dev-2"))
        #expect(try deployment.waitUntilDrained())
        try deployment.producer.xadd(queue: "quotes", payload: answer("dev-2", "accepted"))
        #expect(try eventually(timeout: .seconds(10)) { try deployment.retrying("quotes") == 1 }, "the early answer waits for a retry")
        #expect(try deployment.quoteStatus("dev-2") == "requested")
        try deployment.producer.xadd(queue: "quotes", payload: sent("dev-2", at: now(plus: -60), validUntil: "2099-12-05T18:00:00+01:00"))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.quoteStatus("dev-2") == "accepted")
        #expect(try deployment.quoteHistory("dev-2") == ["quote.requested:true:", "quote.sent:true:", "quote.accepted:true:"],
                "the retried answer left no history before it applied")

        // A late quote.sent after the answer is kept, not applied.
        try deployment.producer.xadd(queue: "quotes", payload: sent("dev-2", id: "dev-2-sent-again", at: now(), validUntil: "2099-12-06T18:00:00+01:00",
                                                                    amount: 9900))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.query("SELECT status, amount_cents FROM relais.quote_status WHERE quote_id = 'dev-2'") == [["accepted", "4500"]])
        #expect(try deployment.quoteHistory("dev-2").last == "quote.sent:false:the quote is already accepted")

        // Two quote.sent out of order: the later one stays, whichever arrives last.
        try deployment.producer.xadd(queue: "quotes", payload: requested("dev-3"))
        try deployment.producer.xadd(queue: "quotes", payload: sent("dev-3", id: "dev-3-v2", at: "2026-11-29T10:00:00+01:00",
                                                                    validUntil: "2099-12-10T18:00:00+01:00", amount: 5000))
        try deployment.producer.xadd(queue: "quotes", payload: sent("dev-3", id: "dev-3-v1", at: "2026-11-28T10:00:00+01:00",
                                                                    validUntil: "2099-12-05T18:00:00+01:00", amount: 4000))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.query("SELECT status, amount_cents, valid_until FROM relais.quote_status WHERE quote_id = 'dev-3'")
                == [["sent", "5000", "2099-12-10 17:00:00+00"]])
        #expect(try deployment.quoteHistory("dev-3").last == "quote.sent:false:a quote.sent of a later time is already applied")
        #expect(try deployment.query("SELECT count(*) FROM relais.reminders WHERE order_id = 'dev-3' AND status = 'pending'") == [["1"]])

        // Bad input: each dead-lettered with the field named, nothing applied.
        try deployment.producer.xadd(queue: "quotes", payload: requested("dev-4"))
        #expect(try deployment.waitUntilDrained())
        let bad = [
            sent("dev-4", id: "bad-validity", at: "2026-11-28T10:00:00+01:00", validUntil: "2026-11-28T09:00:00+01:00"),
            sent("dev-4", id: "bad-quantity", at: "2026-11-28T10:00:00+01:00", validUntil: "2099-12-05T18:00:00+01:00")
                .replacingOccurrences(of: #""quantity":12"#, with: #""quantity":-12"#),
            sent("dev-4", id: "bad-url", at: "2026-11-28T10:00:00+01:00", validUntil: "2099-12-05T18:00:00+01:00",
                 url: "javascript:alert(document.cookie)"),
            sent("dev-4", id: "bad-currency", at: "2026-11-28T10:00:00+01:00", validUntil: "2099-12-05T18:00:00+01:00")
                .replacingOccurrences(of: #""currency":"EUR""#, with: #""currency":"XPF""#),
        ]
        for payload in bad { try deployment.producer.xadd(queue: "quotes", payload: payload) }
        #expect(try deployment.waitUntilDrained())
        let dead = try deployment.deadLetters()
        #expect(dead.map { $0["job_id"] ?? "" } == ["bad-validity", "bad-quantity", "bad-url", "bad-currency"])
        #expect(dead.map { $0["reason"] ?? "" } == [
            "data.valid_until: must be after at",
            "data.lines[1].quantity: must be between 1 and 1000000, got -12",
            "data.url: must be an http or https URL",
            "data.currency: must be EUR",
        ])
        #expect(dead.allSatisfy { $0["queue"] == "quotes" && $0["code"] == "invalid_field" })
        #expect(try deployment.quoteStatus("dev-4") == "requested")
        #expect(daemon.process.isRunning)
    }

    @Test func anUnansweredQuoteIsRemindedOnceThroughTheSchedulerAndAnAnsweredOneIsNot() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings.merging(["RELAIS_QUIET_HOURS": "00:00-00:00"]) { $1 })
        defer { daemon.stop() }

        // Valid for 48 h and 3 s: the reminder falls due 3 s from now.
        let sentAt = Date()
        let validUntil = now(plus: 172_800 + 3)
        for quote in ["dev-r1", "dev-r2"] {
            try deployment.producer.xadd(queue: "quotes", payload: requested(quote, phone: "+33612345678"))
            try deployment.producer.xadd(queue: "quotes", payload: sent(quote, at: now(), validUntil: validUntil))
        }
        try deployment.producer.xadd(queue: "quotes", payload: answer("dev-r2", "declined", extra: #","reason":"Trop cher""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.query("SELECT order_id, status FROM relais.reminders ORDER BY order_id")
                == [["dev-r1", "pending"], ["dev-r2", "cancelled"]])

        #expect(try eventually(timeout: .seconds(20)) {
            try deployment.query("SELECT count(*) FROM relais.reminders WHERE status = 'pending'") == [["0"]]
        }, "the reminder fired")
        #expect(try deployment.waitUntilDelivered())
        let reminderSent = try deployment.query("""
            SELECT extract(epoch FROM sent_at) FROM relais.notification_log
            WHERE subject_id = 'dev-r1' AND template = 'quote-reminder-customer' AND channel = 'email'
            """).first?[0] ?? nil
        let sentTime = try #require(reminderSent.flatMap(Double.init))
        #expect(sentTime - sentAt.timeIntervalSince1970 >= 2.5, "not before 48 h ahead of the validity's end")
        #expect(try deployment.quoteMessages("dev-r1") == [
            "quote-requested-shop:email:sent", "quote-sent-customer:email:sent",
            "quote-reminder-customer:email:sent", "quote-reminder-customer:sms:sent",
        ], "once, by e-mail and by SMS")
        #expect(try deployment.quoteMessages("dev-r2") == [
            "quote-requested-shop:email:sent", "quote-sent-customer:email:sent", "quote-declined-shop:email:sent",
        ], "no reminder for the declined quote")
        let reminders = channels.smtp.messages().filter { $0.subject?.hasPrefix("Rappel : votre devis") == true }
        try #require(reminders.count == 1)
        #expect(reminders[0].subject == "Rappel : votre devis dev-r1 de Boulangerie Martin expire bientôt")
        #expect(reminders[0].body?.contains("https://plateforme.example/devis/dev-r1?vue=client&lang=fr") == true, "\(reminders[0].body ?? "")")
        let sms = channels.http.requests(path: "/sms")
        try #require(sms.count == 1, "the reminder also goes by SMS: \(sms.map(\.body))")
        let text = (try JSONSerialization.jsonObject(with: Data(sms[0].body.utf8)) as? [String: String])?["text"] ?? ""
        #expect(text.hasPrefix("Rappel de Boulangerie Martin : votre devis dev-r1 (45,00 €) expire le "), "\(text)")
        let declined = try #require(channels.smtp.messages().first { $0.subject == "Devis dev-r2 refusé par Léa Dubois" })
        #expect(declined.body?.contains("Motif : Trop cher") == true, "\(declined.body ?? "")")
    }

    @Test func theReminderIsPlannedInTheShopsZoneAcrossADSTChangeAndOutOfQuietHours() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        // Far enough ahead that every reminder is still to come whenever the test runs.
        // Paris goes to summer time on 29 March 2099, New York on 8 March. 48 h before
        // 07:30 CEST on the 31st is 07:30 CEST on the 29th: in quiet hours, so 08:00 CEST;
        // for a shop in New York, that instant is 01:30 EDT, so 08:00 EDT.
        // 48 h before 12:00 CEST on the 30th is 11:00 CET on the 28th, outside quiet hours.
        // 48 h before 21:00 on 3 December is in quiet hours: 08:00 the next morning.
        let cases = [
            ("dst-paris", "Europe/Paris", "2099-03-31T07:30:00+02:00", "2099-03-29 06:00:00+00"),
            ("dst-newyork", "America/New_York", "2099-03-31T07:30:00+02:00", "2099-03-29 12:00:00+00"),
            ("dst-elapsed", "Europe/Paris", "2099-03-30T12:00:00+02:00", "2099-03-28 10:00:00+00"),
            ("evening", "Europe/Paris", "2099-12-03T21:00:00+01:00", "2099-12-02 07:00:00+00"),
        ]
        for (quote, zone, validUntil, _) in cases {
            try deployment.producer.xadd(queue: "quotes", payload: requested(quote, zone: zone))
            try deployment.producer.xadd(queue: "quotes", payload: sent(quote, at: now(), validUntil: validUntil))
        }
        #expect(try deployment.waitUntilDrained())
        let due = try deployment.query("SELECT order_id, due_at::text FROM relais.reminders WHERE kind = 'quote_expiring'")
        #expect(Set(due.map { "\($0[0]!) \($0[1]!)" }) == Set(cases.map { "\($0.0) \($0.3)" }))
    }

    @Test func aReminderReachedInTheShopsQuietHoursWaitsForTheirEnd() throws {
        let deployment = try Deployment()
        // Quiet hours around now in Reykjavik (UTC all year), so that the scheduler reaches
        // the reminder inside them whatever the time the test runs.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Atlantic/Reykjavik")!
        let clock = { (date: Date) in
            let parts = calendar.dateComponents([.hour, .minute], from: date)
            return String(format: "%02d:%02d", parts.hour!, parts.minute!)
        }
        let quietEnd = Date().addingTimeInterval(3600)
        let daemon = try deployment.start(["RELAIS_QUIET_HOURS": "\(clock(Date().addingTimeInterval(-3600)))-\(clock(quietEnd))"])
        defer { daemon.stop() }

        try deployment.producer.xadd(queue: "quotes", payload: requested("dev-q", zone: "Atlantic/Reykjavik"))
        try deployment.producer.xadd(queue: "quotes", payload: sent("dev-q", at: now(), validUntil: "2099-12-05T18:00:00+01:00"))
        #expect(try deployment.waitUntilDrained())
        // Made due now, as after downtime: the scheduler claims it, finds the shop's quiet
        // hours and moves it to their end instead of sending it.
        _ = try deployment.query("UPDATE relais.reminders SET due_at = now() - interval '1 minute' WHERE order_id = 'dev-q'")
        #expect(try eventually(timeout: .seconds(15)) {
            try deployment.query("SELECT note FROM relais.reminders WHERE order_id = 'dev-q'") == [["postponed to the end of quiet hours"]]
        })
        let row = try deployment.query("""
            SELECT status, to_char(due_at AT TIME ZONE 'Atlantic/Reykjavik', 'HH24:MI') FROM relais.reminders WHERE order_id = 'dev-q'
            """)
        #expect(row == [["pending", clock(quietEnd)]], "pending until the end of quiet hours in the shop's zone")
        #expect(try deployment.quoteMessages("dev-q").allSatisfy { !$0.hasPrefix("quote-reminder-customer") })
    }
}

import Foundation
import RelaisTestSupport
import Testing

/// What `scripts/sinks/mail-facts` read from one e-mail the SMTP sink accepted: Python's
/// `email` package for the message and its headers, html5lib for its HTML part.
struct MailFacts: Decodable {
    /// One part: its type, charset and transfer encoding.
    struct Part: Decodable, Equatable, CustomStringConvertible {
        let type: String
        let charset: String?
        let encoding: String?
        var description: String { "\(type); \(charset ?? "-"); \(encoding ?? "-")" }
    }

    let rcptTos: [String]
    let contentType: String
    let parts: [Part]
    let defects: [String]
    let fromName: String?
    let fromAddress: String?
    let replyTo: [String]
    let to: [String]
    let subject: String?
    let messageId: String?
    let inReplyTo: String?
    let references: String?
    let autoSubmitted: String?
    let ascii: Bool
    let longestLine: Int
    let crlf: Bool
    let text: String?
    let htmlLang: String?
    let htmlTitle: String?
    let htmlText: String?
    let htmlActive: [String]
    let htmlErrorCount: Int
    let htmlErrors: [String]

    /// Runs `scripts/sinks/mail-facts` (python3 from PATH, with html5lib) on what `sink` recorded.
    static func read(_ sink: SmtpSink) throws -> [MailFacts] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/sinks/mail-facts").path
        let output: String
        do {
            output = try Command.run("python3", [script, sink.recordsPath])
        } catch {
            throw TestSetupError("scripts/sinks/mail-facts failed (python3 on PATH needs html5lib: scripts/servers install): \(error)")
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try output.split(separator: "\n").map { try decoder.decode(MailFacts.self, from: Data($0.utf8)) }
    }

    /// The amount after "Total :" (French) or "Total:" (English) in the text part.
    var textTotal: String? {
        guard let line = (text ?? "").split(separator: "\n").first(where: { $0.hasPrefix("Total :") || $0.hasPrefix("Total:") }),
              let colon = line.firstIndex(of: ":") else { return nil }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}

/// Checks that `fact` is in the mail's text part and in its HTML part's visible text.
private func expectInBoth(_ fact: String, _ mail: MailFacts, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(mail.text?.contains(fact) == true, "\(fact) in the text part of \(mail.subject ?? ""): \(mail.text ?? "")",
            sourceLocation: sourceLocation)
    #expect(mail.htmlText?.contains(fact) == true, "\(fact) in the HTML part of \(mail.subject ?? ""): \(mail.htmlText ?? "")",
            sourceLocation: sourceLocation)
}

/// Checks that an item, its quantity just before its name, is in both parts: "2 × Baguette"
/// in the text; in the HTML, "2 × Baguette" or the quantity in a column of its own.
private func expectItemInBoth(_ quantity: Int, _ name: String, _ mail: MailFacts, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(mail.text?.contains("\(quantity) × \(name)") == true, "\(quantity) × \(name) in the text part of \(mail.subject ?? ""): \(mail.text ?? "")",
            sourceLocation: sourceLocation)
    let html = " " + (mail.htmlText ?? "")
    #expect(html.contains(" \(quantity) × \(name)") || html.contains(" \(quantity) \(name)"),
            "\(quantity) × \(name) in the HTML part of \(mail.subject ?? ""): \(mail.htmlText ?? "")", sourceLocation: sourceLocation)
}

@Suite("Messages end to end: what a mail reader makes of them (Python's email package, html5lib)", .serialized)
struct MessagesEndToEndTests {
    static let sender = "Mes commerçants <commandes@relais.test>"
    static let customerSender = "Boulangerie Martin via Mes commerçants"

    @Test func everyMailIsTextAndHTMLSayingTheSameFromTheShopToAnswerInOneThreadPerOrder() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings.merging(["RELAIS_SMTP_FROM": Self.sender]) { $1 })
        defer { daemon.stop() }

        try deployment.producer.xadd(queue: "stock", payload: levels("count", shop: "boul", at: "2026-11-28T07:00:00Z",
                                                                      [("baguette", 50), ("croissant", 50)]))
        #expect(try deployment.waitUntilDrained())
        // A customer name with every character HTML escapes: it must come back whole from both parts.
        let lea = #"Léa "Lou" <Dubois> & Co"#
        try deployment.producer.xadd(queue: "orders", payload: placed(
            "web-1001", items: [("baguette", "Baguette tradition", 2, 120), ("croissant", "Croissant", 3, 110)],
            customer: #"Léa \"Lou\" <Dubois> & Co"#, email: "lea@example.fr", phone: nil))
        try deployment.producer.xadd(queue: "orders", payload: placed(
            "web-1002", items: [("baguette", "Baguette tradition", 1, 120)], customer: "Marc Petit", email: "marc@example.fr", phone: nil))
        let english = placed("web-1003", items: [("croissant", "Croissant", 2, 110)], customer: "John Smith",
                             email: "john@example.com", phone: nil)
            .replacingOccurrences(of: #""name":"John Smith""#, with: #""name":"John Smith","locale":"en""#)
        try deployment.producer.xadd(queue: "orders", payload: english)
        #expect(try deployment.waitUntilDrained())
        try deployment.producer.xadd(queue: "orders", payload: event("web-1001", "confirmed"))
        try deployment.producer.xadd(queue: "orders", payload: event("web-1001", "ready", extra: #","pickup_deadline":"\#(deadlineAhead())""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.messages("web-1001") == ["order-placed-shop:email:sent", "order-placed-customer:email:sent",
                                                        "order-confirmed-customer:email:sent", "order-ready-customer:email:sent"])
        #expect(try deployment.messages("web-1002") == ["order-placed-shop:email:sent", "order-placed-customer:email:sent"])
        #expect(try deployment.messages("web-1003") == ["order-placed-shop:email:sent", "order-placed-customer:email:sent"])
        try #require(channels.smtp.waitForMessages(8).count == 8, "eight e-mails: \(channels.smtp.messages().map { $0.subject ?? "" })")

        let mails = try MailFacts.read(channels.smtp)
        try #require(mails.count == 8, "mail-facts read every message")

        // Every message: structure, encodings, lines, the sender's address, automatic, clean HTML.
        for mail in mails {
            let what = mail.subject ?? "(no subject)"
            #expect(mail.contentType == "multipart/alternative", "\(what)")
            #expect(mail.parts == [MailFacts.Part(type: "text/plain", charset: "utf-8", encoding: "quoted-printable"),
                                   MailFacts.Part(type: "text/html", charset: "utf-8", encoding: "quoted-printable")],
                    "\(what): \(mail.parts)")
            #expect(mail.defects.isEmpty, "Python's email package found defects in \(what): \(mail.defects)")
            #expect(mail.ascii, "\(what): the raw message is ASCII")
            #expect(mail.longestLine <= 998, "\(what): longest line \(mail.longestLine) bytes")
            #expect(mail.crlf, "\(what): every line ends in CRLF")
            #expect(mail.fromAddress == "commandes@relais.test", "\(what)")
            #expect(mail.to == mail.rcptTos, "\(what): To is the envelope's recipient")
            #expect(mail.autoSubmitted == "auto-generated", "\(what)")
            #expect(mail.messageId?.hasPrefix("<relais-") == true && mail.messageId?.hasSuffix("@relais.test>") == true,
                    "\(what): \(mail.messageId ?? "no Message-ID")")
            #expect(mail.htmlTitle == mail.subject, "\(what): the HTML title is the subject")
            #expect(mail.htmlActive.isEmpty, "\(what): no script, no remote resource: \(mail.htmlActive)")
            #expect(mail.htmlErrorCount == 0, "\(what): html5lib parse errors \(mail.htmlErrors)")
            if mail.rcptTos == ["boutique@example.fr"] {
                #expect(mail.fromName == "Mes commerçants", "\(what): the shop hears from the marketplace")
                #expect(mail.replyTo.isEmpty, "\(what): the shop's own messages carry no Reply-To: \(mail.replyTo)")
            } else {
                #expect(mail.fromName == Self.customerSender, "\(what): \(mail.fromName ?? "no display name")")
                #expect(mail.replyTo == ["boutique@example.fr"], "\(what): customers answer the shop")
            }
        }
        let messageIds = mails.compactMap(\.messageId)
        #expect(Set(messageIds).count == mails.count, "every Message-ID differs: \(messageIds)")

        // One thread per order: the same In-Reply-To and References on each of its messages, another for each order.
        var threads: [String: String] = [:]
        for order in ["web-1001", "web-1002", "web-1003"] {
            let own = mails.filter { $0.subject?.contains(order) == true }
            let thread = "<relais-order-\(order)@relais.test>"
            for mail in own {
                #expect(mail.inReplyTo == thread && mail.references == thread,
                        "\(mail.subject ?? ""): In-Reply-To \(mail.inReplyTo ?? "none"), References \(mail.references ?? "none")")
            }
            threads[order] = own.first?.inReplyTo
        }
        #expect(Set(threads.values).count == 3, "each order its own thread: \(threads)")

        // Same facts in both parts: order, customer (escaped in HTML, read back whole), shop, items, total.
        let first = mails.filter { $0.subject?.contains("web-1001") == true }
        #expect(Set(first.compactMap(\.subject)) == [
            "Nouvelle commande web-1001 de \(lea)",
            "Votre commande web-1001 chez Boulangerie Martin est bien enregistrée",
            "Boulangerie Martin a confirmé votre commande web-1001",
            "Votre commande web-1001 vous attend chez Boulangerie Martin",
        ], "the four messages of the order, the name decoded whole in the subject")
        let total = first.first { $0.rcptTos == ["boutique@example.fr"] }?.textTotal ?? ""
        #expect(total.hasPrefix("5,70") && total.hasSuffix("€"), "the total in euros, French style: \(total)")
        for mail in first {
            #expect(mail.htmlLang == "fr", "\(mail.subject ?? "")")
            for fact in ["web-1001", lea, "Boulangerie Martin", total] { expectInBoth(fact, mail) }
            if mail.subject?.contains("a confirmé") == false {
                expectItemInBoth(2, "Baguette tradition", mail)
                expectItemInBoth(3, "Croissant", mail)
            }
        }
        for mail in mails.filter({ $0.subject?.contains("web-1002") == true }) {
            #expect(mail.htmlLang == "fr", "\(mail.subject ?? "")")
            for fact in ["web-1002", "Marc Petit", mail.textTotal ?? "no total"] { expectInBoth(fact, mail) }
            expectItemInBoth(1, "Baguette tradition", mail)
        }

        // English for the customer whose locale says so; the shop still hears in French.
        let john = try #require(mails.first { $0.rcptTos == ["john@example.com"] })
        #expect(john.htmlLang == "en", "\(john.subject ?? "")")
        #expect(john.subject == "Your order web-1003 at Boulangerie Martin has been received")
        #expect(john.textTotal == "€2.20", "English money: \(john.text ?? "")")
        for fact in ["web-1003", "John Smith", "Boulangerie Martin", "€2.20"] { expectInBoth(fact, john) }
        expectItemInBoth(2, "Croissant", john)
        let johnsShop = try #require(mails.first { $0.rcptTos == ["boutique@example.fr"] && $0.subject?.contains("web-1003") == true })
        #expect(johnsShop.htmlLang == "fr")
        for fact in ["web-1003", "John Smith", johnsShop.textTotal ?? "no total"] { expectInBoth(fact, johnsShop) }

        #expect(try deployment.deadLetters().isEmpty)
    }

    /// A shop's burst of SMS under the gateway's rate: what waits for its turn shows in
    /// `/status` and the metrics, and the gateway never gets more than the rate.
    @Test func smsWaitingForTheirTurnShowInStatusAndTheRateHolds() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings.merging(["RELAIS_SMS_RATE": "4/s"]) { $1 })
        defer { daemon.stop() }
        for n in 1...16 {
            try deployment.producer.xadd(queue: "orders", payload: placed(
                "sms-\(n)", items: [("baguette", "Baguette tradition", 1, 120)], email: nil, phone: "+336123456\(10 + n)"))
        }
        try deployment.producer.xadd(queue: "orders", payload: placed(
            "sms-other", shop: "autre", items: [("pain", "Pain", 1, 100)], email: nil, phone: "+33698765432"))
        #expect(try deployment.waitUntilDrained())

        // While they go out at 4 a second, /status says how many wait and for how many shops.
        var seen: [String: Any] = [:]
        let shown = eventually(timeout: .seconds(10), every: .milliseconds(100)) {
            guard let status = try? JSONSerialization.jsonObject(with: Data(daemon.get("/status").body.utf8)) as? [String: Any],
                  let sms = (status["outbox"] as? [String: Any])?["sms"] as? [String: Any] else { return false }
            seen = sms
            return (sms["due"] as? Int ?? 0) + (sms["held"] as? Int ?? 0) > 0 && (sms["held"] as? Int ?? 0) > 0
        }
        #expect(shown, "/status never showed SMS waiting for their turn: \(seen)")
        for key in ["pending", "due", "failed", "held", "shops_waiting", "oldest_due_seconds"] {
            #expect(seen[key] != nil, "/status outbox.sms has \(key): \(seen)")
        }
        let metrics = daemon.get("/metrics").body
        for line in [#"relais_outbox_messages{channel="sms",state="held"}"#, #"relais_outbox_shops_waiting{channel="sms"}"#,
                     #"relais_outbox_oldest_due_seconds{channel="sms"}"#] {
            #expect(metrics.contains(line), "the metrics have \(line)")
        }

        #expect(try deployment.waitUntilDelivered(timeout: .seconds(30)))
        let times = channels.http.requests(path: "/sms").map(\.at).sorted()
        #expect(times.count == 17, "\(times.count) SMS of 17")
        #expect(busiestSecond(times) <= 5, "the gateway got \(busiestSecond(times)) SMS in one second at 4/s")
        #expect(times.count < 2 || times.last! - times.first! >= 3.5, "17 SMS at 4/s take 4 s, not \(times.last! - times.first!)")
    }

    /// Shop A's customers get a thousand SMS, then shop B's customer one: B's waits for
    /// no more than what was already claimed, however many of A's are due.
    @Test func aThousandSMSOfOneShopDoNotHoldBackAnotherShopsOne() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings)
        defer { daemon.stop() }
        try deployment.producer.xaddMany(queue: "orders", payloads: (1...1000).map { n in
            placed("a-\(n)", shop: "shop-a", items: [("pain", "Pain", 1, 100)], email: nil, phone: "+3361\(String(format: "%07d", n))")
        })
        try deployment.producer.xadd(queue: "orders", payload: placed(
            "b-1", shop: "shop-b", items: [("pain", "Pain", 1, 100)], email: nil, phone: "+33699999999"))
        #expect(try deployment.waitUntilDrained(), "the orders were taken in")
        #expect(try deployment.waitUntilDelivered(timeout: .seconds(60)))

        // Counted from when B's message was written: the SMS the gateway got from then on.
        let written = try #require(Double(try deployment.query("""
            SELECT extract(epoch FROM created_at) FROM relais.outbox WHERE order_id = 'b-1' AND channel = 'sms'
            """)[0][0] ?? ""), "shop B's SMS is in the outbox")
        let after = channels.http.requests(path: "/sms").filter { $0.at >= written }.sorted { $0.at < $1.at }
        let position = try #require(after.firstIndex { $0.body.contains("+33699999999") }, "shop B's SMS reached the gateway")
        // B's message joins at the next claim, after what the SMS connections had already
        // claimed (refilled below 4 per connection, up to 4 more each), then takes the next
        // turn: it waits for at most about 20 of A's 1,000, where a first-come queue made it wait for all of them.
        #expect(position <= 24, "shop B's SMS went out after \(position) of shop A's sent since it was written (of \(after.count))")
        #expect(channels.http.requests(path: "/sms").count == 1001)
    }
}

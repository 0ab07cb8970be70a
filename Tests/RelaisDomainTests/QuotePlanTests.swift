import Foundation
import RelaisContract
import RelaisDomain
import RelaisJobs
import Testing

private let decoder = EnvelopeDecoder(QuoteCatalog.self)

private func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

/// The job `type` with `data`, decoded as the consumers decode it.
private func job(_ type: String, _ data: String) throws -> QuoteJob {
    let json = #"{"id":"j1","type":"\#(type)","data":\#(data)}"#
    return try decoder.decode(Array(json.utf8)).get().job
}

/// Why `quote.<type>` with `data` is rejected, or nil when it is accepted.
private func rejection(_ type: String, _ data: String) -> JobRejection? {
    let json = #"{"id":"j1","type":"quote.\#(type)","data":\#(data)}"#
    if case .failure(let failure) = decoder.decode(Array(json.utf8)) { return failure.rejection }
    return nil
}

private let shop = PlacedOrder.Shop(id: "s1", name: "Pâtisserie Lenôtre", email: "shop@example.fr",
                                    webhookURL: "https://shop.example/hooks", timeZone: "Europe/Paris")
private let customer = PlacedOrder.Customer(name: "Léa Dubois", email: "lea@example.fr", phone: "+33612345678")

private func requested(_ id: String = "q-1", at time: String = "2026-11-28T09:00:00+01:00", zone: String = "Europe/Paris") -> QuoteJob {
    var shop = shop
    shop.timeZone = zone
    return .requested(RequestedQuote(quoteId: id, at: at(time), shop: shop, customer: customer, request: "Un gâteau pour 12",
                                     desiredDate: at("2026-12-05T12:00:00+01:00")))
}

private func sent(_ id: String = "q-1", at time: String, validUntil: String, amount: Int64 = 4500) -> QuoteJob {
    .sent(quoteId: id, at: at(time), offer: QuoteOffer(amountCents: amount, lines: [
        QuoteLine(description: "Gâteau", quantity: 1, unitPriceCents: amount),
    ], validUntil: at(validUntil), url: "https://platform.example/quotes/\(id)"))
}

private let channels: Set<Channel> = [.email, .sms, .webhook]

/// Plans `jobs` in one batch against `stored`, at `now`.
private func plan(_ jobs: [QuoteJob], stored: [StoredQuote] = [], now: String = "2026-11-28T10:00:00+01:00",
                  rules: ReminderRules = ReminderRules()) -> QuotePlan {
    let known = Dictionary(uniqueKeysWithValues: stored.map { (ExactText($0.request.quoteId), $0) })
    return QuotePlan.make(jobs.enumerated().map { ("job-\($0.offset)", "quote.x", $0.element) }, stored: known, now: at(now),
                          channels: channels, rules: rules)
}

/// A quote of `jobs` applied one after another, as the store would hold it.
private func stored(_ jobs: [QuoteJob], now: String = "2026-11-28T10:00:00+01:00") -> StoredQuote {
    plan(jobs, now: now).quotes[0]
}

@Suite("Quote jobs")
struct QuoteCatalogTests {
    private let sentData = #"{"quote_id":"q-1","at":"2026-11-28T10:00:00+01:00","amount_cents":4500,"currency":"EUR","lines":[{"description":"Gâteau","quantity":1,"unit_price_cents":3900},{"description":"Bougies","quantity":12,"unit_price_cents":50}],"valid_until":"2026-12-05T18:00:00+01:00","url":"https://platform.example/quotes/q-1"}"#

    @Test func everyTypeDecodes() throws {
        let request = try job("quote.requested", #"""
            {"quote_id":"q-1","at":"2026-11-28T09:00:00+01:00","shop":{"id":"s1","name":"Lenôtre","webhook_url":"https://shop.example/h","timezone":"America/Martinique"},
             "customer":{"name":"Léa","email":"lea@example.fr","locale":"en"},"request":"Un gâteau","desired_date":"2026-12-05T12:00:00+01:00"}
            """#)
        guard case .requested(let quote) = request else {
            Issue.record("expected quote.requested")
            return
        }
        #expect(quote.shop.timeZone == "America/Martinique" && quote.customer.language == .en && quote.request == "Un gâteau")
        #expect(quote.desiredDate == at("2026-12-05T12:00:00+01:00"))
        guard case .sent(_, _, let offer) = try job("quote.sent", sentData) else {
            Issue.record("expected quote.sent")
            return
        }
        #expect(offer.amountCents == 4500 && offer.lines.count == 2 && offer.lines[1].quantity == 12)
        #expect(offer.validUntil == at("2026-12-05T18:00:00+01:00"))
        #expect(try job("quote.accepted", #"{"quote_id":"q-1","at":"2026-11-29T10:00:00Z","order_id":"o-9"}"#)
                == .accepted(quoteId: "q-1", at: at("2026-11-29T10:00:00Z"), orderId: "o-9"))
        #expect(try job("quote.declined", #"{"quote_id":"q-1","at":"2026-11-29T10:00:00Z","reason":"Trop cher"}"#)
                == .declined(quoteId: "q-1", at: at("2026-11-29T10:00:00Z"), reason: "Trop cher"))
        #expect(try job("quote.expired", #"{"quote_id":"q-1","at":"2026-11-29T10:00:00Z"}"#)
                == .expired(quoteId: "q-1", at: at("2026-11-29T10:00:00Z")))
    }

    @Test("a bad field is rejected by name", arguments: [
        (#""valid_until":"2026-12-05T18:00:00+01:00""#, #""valid_until":"2026-11-28T10:00:00+01:00""#, "data.valid_until"),
        (#""valid_until":"2026-12-05T18:00:00+01:00""#, #""valid_until":"2026-11-28T08:00:00Z""#, "data.valid_until"),
        (#""quantity":12"#, #""quantity":0"#, "data.lines[1].quantity"),
        (#""quantity":12"#, #""quantity":"12x""#, "data.lines[1].quantity"),
        (#""unit_price_cents":50"#, #""unit_price_cents":-1"#, "data.lines[1].unit_price_cents"),
        (#""https://platform.example/quotes/q-1""#, #""javascript:alert(1)""#, "data.url"),
        (#""https://platform.example/quotes/q-1""#, #""ftp://platform.example/q""#, "data.url"),
        (#""https://platform.example/quotes/q-1""#, #""https://bank.example@evil.example/q""#, "data.url"),
        (#""currency":"EUR""#, #""currency":"USD""#, "data.currency"),
        (#""amount_cents":4500"#, #""amount_cents":0"#, "data.amount_cents"),
        (#""amount_cents":4500"#, #""amount_cents":100000000001"#, "data.amount_cents"),
        (#","url":"https://platform.example/quotes/q-1""#, "", "data.url"),
    ])
    func badSentField(original: String, replacement: String, field: String) throws {
        #expect(sentData.contains(original))
        let found = rejection("sent", sentData.replacingOccurrences(of: original, with: replacement))
        #expect(found?.field == field, "\(found.map(String.init(describing:)) ?? "accepted")")
    }

    @Test func linesAreOneToAHundred() {
        let none = sentData.replacingOccurrences(of: #"[{"description":"Gâteau","quantity":1,"unit_price_cents":3900},{"description":"Bougies","quantity":12,"unit_price_cents":50}]"#, with: "[]")
        #expect(rejection("sent", none)?.field == "data.lines")
        let line = #"{"description":"x","quantity":1,"unit_price_cents":1}"#
        let many = sentData.replacingOccurrences(of: #"[{"description":"Gâteau","quantity":1,"unit_price_cents":3900},{"description":"Bougies","quantity":12,"unit_price_cents":50}]"#,
                                                 with: "[" + Array(repeating: line, count: 101).joined(separator: ",") + "]")
        #expect(rejection("sent", many)?.field == "data.lines")
    }

    @Test func requestIsOneLineOfAtMostTwoThousandCharacters() {
        let base = #"{"quote_id":"q-1","at":"2026-11-28T09:00:00+01:00","shop":{"id":"s1","name":"Lenôtre"},"customer":{"name":"Léa"},"request":"REQ"}"#
        #expect(rejection("requested", base.replacingOccurrences(of: "REQ", with: String(repeating: "é", count: 2000))) == nil)
        #expect(rejection("requested", base.replacingOccurrences(of: "REQ", with: String(repeating: "é", count: 2001)))?.field == "data.request")
        #expect(rejection("requested", base.replacingOccurrences(of: "REQ", with: #"a\nb"#))?.field == "data.request")
        #expect(rejection("requested", base.replacingOccurrences(of: #","request":"REQ""#, with: ""))?.field == "data.request")
        #expect(rejection("requested", base.replacingOccurrences(of: #""name":"Léa""#, with: #""name":"Léa","email":"nope""#))?.field
                == "data.customer.email", "the customer is read as order.placed's")
        #expect(rejection("requested", base.replacingOccurrences(of: #""name":"Lenôtre""#, with: #""name":"Lenôtre","timezone":"Mars/Olympus""#))?.field
                == "data.shop.timezone")
    }

    @Test func anAnswerNeedsItsQuoteIdAndAt() {
        #expect(rejection("accepted", #"{"quote_id":"q-1"}"#)?.field == "data.at")
        #expect(rejection("declined", #"{"at":"2026-11-29T10:00:00Z"}"#)?.field == "data.quote_id")
        #expect(rejection("accepted", #"{"quote_id":"q-1","at":"2026-11-29T10:00:00Z","order_id":""}"#)?.field == "data.order_id")
    }
}

@Suite("Quote plan")
struct QuotePlanTests {
    @Test func aRequestTellsTheShopByEmailAndWebhook() throws {
        let plan = plan([requested()])
        #expect(plan.outcomes == [.applied])
        #expect(plan.requested == [ExactText("q-1")])
        #expect(plan.quotes.map(\.status) == [.requested])
        #expect(plan.messages.map { "\($0.template):\($0.channel)" } == ["quote-requested-shop:email", "quote-requested-shop:webhook"])
        let facts = try #require(plan.messages.first?.facts)
        #expect(facts.about == .quote && facts.orderId == "q-1" && facts.quote?.request == "Un gâteau pour 12")
        #expect(plan.reminders == ReminderChanges())
    }

    @Test func aSentQuoteTellsTheCustomerAndPlansItsReminderFortyEightHoursBefore() throws {
        let plan = plan([sent(at: "2026-11-28T10:00:00+01:00", validUntil: "2026-12-05T18:00:00+01:00")], stored: [stored([requested()])])
        #expect(plan.outcomes == [.applied])
        let quote = try #require(plan.quotes.first)
        #expect(quote.status == .sent && quote.offer?.amountCents == 4500 && quote.sentAt == at("2026-11-28T10:00:00+01:00"))
        #expect(plan.messages.map { "\($0.template):\($0.channel)" } == ["quote-sent-customer:email"], "SMS only for the reminder")
        #expect(plan.messages.first?.facts.totalCents == 4500)
        #expect(plan.messages.first?.facts.quote?.url == "https://platform.example/quotes/q-1")
        #expect(plan.reminders.planned.map(\.reminder) == [PlannedReminder(kind: .quoteExpiring, due: at("2026-12-03T18:00:00+01:00"))])
    }

    @Test func anEventForAnUnknownQuoteAndAnAnswerBeforeTheQuoteAreRetried() {
        let unknown = plan([
            .accepted(quoteId: "q-9", at: at("2026-11-29T10:00:00Z"), orderId: nil),
            sent("q-9", at: "2026-11-28T10:00:00Z", validUntil: "2026-12-05T18:00:00Z"),
        ])
        #expect(unknown.outcomes == [.retry(reason: "the quote is not requested yet"), .retry(reason: "the quote is not requested yet")])
        let early = plan([
            .accepted(quoteId: "q-1", at: at("2026-11-29T10:00:00Z"), orderId: "o-1"),
            .declined(quoteId: "q-1", at: at("2026-11-29T10:00:00Z"), reason: nil),
        ], stored: [stored([requested()])])
        #expect(early.outcomes == [.retry(reason: "the quote is not sent yet"), .retry(reason: "the quote is not sent yet")])
        #expect(early.quotes.isEmpty && early.messages.isEmpty && early.history.isEmpty)
    }

    @Test func aRequestAndEveryEventAfterItInOneBatchApply() {
        let plan = plan([requested(), sent(at: "2026-11-28T10:00:00+01:00", validUntil: "2026-12-05T18:00:00+01:00"),
                         .accepted(quoteId: "q-1", at: at("2026-11-29T10:00:00Z"), orderId: "o-7")])
        #expect(plan.outcomes == [.applied, .applied, .applied])
        #expect(plan.quotes.count == 1 && plan.quotes[0].status == .accepted && plan.quotes[0].orderId == "o-7")
        #expect(plan.reminders.planned.isEmpty, "the reminder planned by quote.sent is dropped by the answer in the same batch")
        #expect(plan.messages.map(\.template) == ["quote-requested-shop", "quote-requested-shop", "quote-sent-customer",
                                                  "quote-accepted-shop", "quote-accepted-shop"])
        #expect(plan.messages.last?.facts.quote?.orderId == "o-7")
    }

    @Test func aRevisedQuoteAppliesOnlyWhenLaterAndReplansTheReminder() throws {
        let first = stored([requested(), sent(at: "2026-11-28T10:00:00+01:00", validUntil: "2026-12-05T18:00:00+01:00")])
        let later = plan([sent(at: "2026-11-29T10:00:00+01:00", validUntil: "2026-12-10T18:00:00+01:00", amount: 5000)], stored: [first])
        #expect(later.outcomes == [.applied])
        #expect(later.quotes.first?.offer?.amountCents == 5000)
        #expect(later.reminders.cancellations.map { [$0.orderId: $0.kinds] } == [["q-1": [.quoteExpiring]]])
        #expect(later.reminders.planned.map(\.reminder.due) == [at("2026-12-08T18:00:00+01:00")])
        #expect(later.messages.first?.facts.quote?.revised == true)
        let earlier = plan([sent(at: "2026-11-28T09:59:00+01:00", validUntil: "2026-12-10T18:00:00+01:00", amount: 1)], stored: [first])
        #expect(earlier.outcomes == [.ignored(reason: "a quote.sent of a later time is already applied")])
        #expect(earlier.quotes.isEmpty && earlier.messages.isEmpty && earlier.reminders == ReminderChanges())
        #expect(earlier.history.map(\.applied) == [false], "kept in the history, not applied")
        // Out of order in one batch: the later one stays.
        let both = plan([sent(at: "2026-11-29T10:00:00+01:00", validUntil: "2026-12-10T18:00:00+01:00", amount: 5000),
                         sent(at: "2026-11-28T10:00:00+01:00", validUntil: "2026-12-05T18:00:00+01:00", amount: 4500)],
                        stored: [stored([requested()])])
        #expect(both.outcomes.map { $0 == .applied } == [true, false])
        #expect(both.quotes.first?.offer?.amountCents == 5000)
    }

    @Test("after a final state every event is kept, not applied", arguments: [
        QuoteJob.accepted(quoteId: "q-1", at: Timestamp(rfc3339: "2026-11-29T10:00:00Z")!, orderId: nil),
        QuoteJob.expired(quoteId: "q-1", at: Timestamp(rfc3339: "2026-11-29T10:00:00Z")!),
    ])
    func finalStateIsFinal(final: QuoteJob) {
        let answered = stored([requested(), sent(at: "2026-11-28T10:00:00+01:00", validUntil: "2026-12-05T18:00:00+01:00"), final])
        #expect(answered.status.isFinal)
        let late = plan([sent(at: "2026-11-30T10:00:00+01:00", validUntil: "2026-12-10T18:00:00+01:00"),
                         .declined(quoteId: "q-1", at: at("2026-11-30T10:00:00Z"), reason: nil), requested()], stored: [answered])
        let note = "the quote is already \(answered.status.rawValue)"
        #expect(late.outcomes == [.ignored(reason: note), .ignored(reason: note), .ignored(reason: note)])
        #expect(late.quotes.isEmpty && late.messages.isEmpty && late.reminders == ReminderChanges())
        #expect(late.history.count == 3)
    }

    @Test func aDeclineTellsTheShopWhyAndCancelsTheReminder() {
        let plan = plan([.declined(quoteId: "q-1", at: at("2026-11-29T10:00:00Z"), reason: "Trop cher")],
                        stored: [stored([requested(), sent(at: "2026-11-28T10:00:00+01:00", validUntil: "2026-12-05T18:00:00+01:00")])])
        #expect(plan.quotes.first?.status == .declined && plan.quotes.first?.answeredAt == at("2026-11-29T10:00:00Z"))
        #expect(plan.reminders.cancellations.map { [$0.orderId: $0.kinds] } == [["q-1": [.quoteExpiring]]])
        #expect(plan.messages.map(\.template) == ["quote-declined-shop", "quote-declined-shop"])
        #expect(plan.messages.first?.facts.quote?.declineReason == "Trop cher")
    }

    @Test func anExpiryClosesTheQuoteSilently() {
        let plan = plan([.expired(quoteId: "q-1", at: at("2026-12-05T18:00:00+01:00"))], stored: [stored([requested()])])
        #expect(plan.quotes.first?.status == .expired)
        #expect(plan.messages.isEmpty)
        #expect(plan.reminders.cancellations.map(\.kinds) == [[.quoteExpiring]])
    }
}

@Suite("Quote reminder")
struct QuoteReminderTests {
    /// The reminder's due time for a quote valid until `validUntil` in `zone`, sent at `now`.
    private func due(_ validUntil: String, zone: String = "Europe/Paris", now: String = "2026-10-01T10:00:00Z",
                     rules: ReminderRules = ReminderRules()) -> Timestamp? {
        let quote = stored([requested(zone: zone)], now: now)
        return plan([sent(at: now, validUntil: validUntil)], stored: [quote], now: now, rules: rules).reminders.planned.first?.reminder.due
    }

    @Test("forty-eight hours of elapsed time across a DST change, in the shop's zone", arguments: [
        // Paris goes to summer time on 28 March 2027: 48 h before 12:00 CEST is 11:00 CET.
        ("2027-03-29T12:00:00+02:00", "Europe/Paris", "2027-03-27T11:00:00+01:00"),
        // ... and back on 25 October 2026: 48 h before 09:00 CET is 10:00 CEST.
        ("2026-10-26T09:00:00+01:00", "Europe/Paris", "2026-10-24T10:00:00+02:00"),
        // 07:30 CEST on the change day is in quiet hours: 08:00 CEST, on that day's clock.
        ("2027-03-30T07:30:00+02:00", "Europe/Paris", "2027-03-28T08:00:00+02:00"),
        // The same quote for a shop in New York (summer time since 14 March): 01:30 there, so 08:00 EDT.
        ("2027-03-30T07:30:00+02:00", "America/New_York", "2027-03-28T08:00:00-04:00"),
        // 21:00 is in quiet hours: the next morning at 08:00.
        ("2026-12-03T21:00:00+01:00", "Europe/Paris", "2026-12-02T08:00:00+01:00"),
    ])
    func dueInTheShopsZone(validUntil: String, zone: String, expected: String) {
        #expect(due(validUntil, zone: zone) == at(expected))
    }

    @Test func noReminderWhenItWouldComeTooLate() {
        // Valid for less than 48 h: nothing to remind of.
        #expect(due("2026-10-02T10:00:00Z", now: "2026-10-01T10:00:00Z") == nil)
        // Quiet hours would push it past the end of the validity.
        var rules = ReminderRules()
        rules.quoteReminderBefore = .seconds(3600)
        #expect(due("2026-12-03T07:30:00+01:00", rules: rules) == nil)
    }

    @Test func aDueReminderIsSkippedOnceTheQuoteMovedOn() {
        let open = stored([requested(), sent(at: "2026-11-28T10:00:00+01:00", validUntil: "2026-12-05T18:00:00+01:00")])
        let due = at("2026-12-03T18:00:00+01:00")
        #expect(QuotePlan.reasonToSkip(open, due: due, now: due) == nil)
        #expect(QuotePlan.reasonToSkip(nil, due: due, now: due) == "the quote no longer exists")
        var accepted = open
        accepted.status = .accepted
        #expect(QuotePlan.reasonToSkip(accepted, due: due, now: due) == "the quote is accepted")
        #expect(QuotePlan.reasonToSkip(open, due: due, now: at("2026-12-05T18:00:00+01:00")) == "too late to be useful")
        #expect(QuotePlan.reasonToSkip(open, due: at("2026-12-06T18:00:00+01:00"), now: due) == "the quote was revised")
    }
}

@Suite("Quote and order reminders apart")
struct QuoteAndOrderRemindersTests {
    @Test func anOrderThatEndsLeavesTheReminderOfAQuoteOfTheSameIdAlone() {
        let order = PlacedOrder(orderId: "q-1", shop: shop, customer: customer,
                                items: [.init(sku: "a", name: "A", quantity: 1, unitPriceCents: 100)], totalCents: 100,
                                placedAt: at("2026-11-28T09:00:00Z"))
        let plan = OrderPlan.make([("c1", "order.cancelled", .cancelled(orderId: "q-1", at: at("2026-11-28T10:00:00Z"), by: .shop,
                                                                           reason: nil))],
                                  stored: [ExactText("q-1"): StoredOrder(order: order, status: .ready)], channels: channels)
        let kinds = plan.reminders.cancellations.flatMap(\.kinds)
        #expect(!kinds.isEmpty && kinds.allSatisfy { $0.subject == .order }, "\(kinds)")
    }
}

import Foundation
import RelaisContract
import RelaisDomain
import RelaisJobs
import Testing

private let decoder = EnvelopeDecoder(OrderCatalog.self)

private func rejection(_ data: String, type: String = "order.placed") -> JobRejection? {
    let json = #"{"id":"j1","type":"\#(type)","data":\#(data)}"#
    if case .failure(let failure) = decoder.decode(Array(json.utf8)) { return failure.rejection }
    return nil
}

private let placedJSON = #"""
    {"order_id":"o-1","shop":{"id":"s1","name":"Boulangerie Martin","email":"shop@example.fr","webhook_url":"https://shop.example/hooks","timezone":"Europe/Paris"},
     "customer":{"name":"Léa Dubois","email":"lea@example.fr","phone":"+33612345678","locale":"en"},
     "items":[{"sku":"baguette","name":"Baguette","quantity":2,"unit_price_cents":120},{"sku":"croissant","name":"Croissant","quantity":3,"unit_price_cents":110}],
     "total_cents":570,"currency":"EUR","placed_at":"2026-11-28T09:00:00+01:00","pickup_deadline":"2026-11-29T19:00:00+01:00"}
    """#

private func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

private func order(_ id: String, items: [(String, Int64)], shop: String = "s1") -> PlacedOrder {
    PlacedOrder(orderId: id, shop: .init(id: shop, name: "Fleurs", email: "shop@example.fr"),
                customer: .init(name: "Léa", email: "lea@example.fr"),
                items: items.map { .init(sku: $0.0, name: $0.0.capitalized, quantity: $0.1, unitPriceCents: 100) },
                totalCents: 100, placedAt: at("2026-11-28T09:00:00Z"))
}

@Suite("Order jobs")
struct OrderCatalogTests {
    @Test func placedOrderDecodesEveryField() throws {
        let json = #"{"id":"j1","type":"order.placed","data":\#(placedJSON)}"#
        let envelope = try decoder.decode(Array(json.utf8)).get()
        guard case .placed(let order) = envelope.job else {
            Issue.record("expected order.placed")
            return
        }
        #expect(order.orderId == "o-1")
        #expect(order.shop == .init(id: "s1", name: "Boulangerie Martin", email: "shop@example.fr",
                                    webhookURL: "https://shop.example/hooks", timeZone: "Europe/Paris"))
        #expect(order.customer == .init(name: "Léa Dubois", email: "lea@example.fr", phone: "+33612345678", language: .en))
        #expect(order.items.map(\.quantity) == [2, 3])
        #expect(order.totalCents == 570)
        #expect(order.pickupDeadline == at("2026-11-29T18:00:00Z"))
    }

    @Test func defaultsAreFrenchAndParis() throws {
        let json = #"{"id":"j1","type":"order.placed","data":{"order_id":"o","shop":{"id":"s","name":"S"},"customer":{"name":"C"},"items":[{"sku":"a","name":"A","quantity":1,"unit_price_cents":0}],"total_cents":0,"currency":"EUR","placed_at":"2026-11-28T09:00:00Z"}}"#
        guard case .placed(let order) = try decoder.decode(Array(json.utf8)).get().job else {
            Issue.record("expected order.placed")
            return
        }
        #expect(order.customer.language == .fr)
        #expect(order.shop.timeZone == "Europe/Paris")
    }

    @Test(arguments: [
        (#"{"order_id":"o","at":"2026-11-28T09:00:00Z","by":"robot"}"#, "order.cancelled", "data.by"),
        (#"{"order_id":"o","by":"shop"}"#, "order.cancelled", "data.at"),
        (#"{"at":"2026-11-28T09:00:00Z"}"#, "order.confirmed", "data.order_id"),
        (#"{"order_id":"o","at":"yesterday"}"#, "order.collected", "data.at"),
        (#"{"order_id":"o","at":"2026-11-28T09:00:00Z","pickup_deadline":5}"#, "order.ready", "data.pickup_deadline"),
    ])
    func badEventsNameTheField(data: String, type: String, field: String) {
        #expect(rejection(data, type: type)?.field == field)
    }

    @Test(arguments: [
        ("\"webhook_url\":\"https://shop.example/hooks\"", "\"webhook_url\":\"ftp://x\"", "data.shop.webhook_url"),
        ("\"timezone\":\"Europe/Paris\"", "\"timezone\":\"Mars/Olympus\"", "data.shop.timezone"),
        ("\"phone\":\"+33612345678\"", "\"phone\":\"0612345678\"", "data.customer.phone"),
        ("\"email\":\"lea@example.fr\"", "\"email\":\"lea at example\"", "data.customer.email"),
        ("\"locale\":\"en\"", "\"locale\":\"de\"", "data.customer.locale"),
        ("\"quantity\":3", "\"quantity\":0", "data.items[1].quantity"),
        ("\"unit_price_cents\":120", "\"unit_price_cents\":-1", "data.items[0].unit_price_cents"),
        ("\"currency\":\"EUR\"", "\"currency\":\"USD\"", "data.currency"),
        ("\"customer\":{\"name\":\"Léa Dubois\",", "\"customer\":{", "data.customer.name"),
        ("\"total_cents\":570,", "", "data.total_cents"),
    ])
    func badPlacedOrdersNameTheField(find: String, replace: String, field: String) throws {
        let data = placedJSON.replacingOccurrences(of: find, with: replace)
        try #require(data != placedJSON)
        #expect(rejection(data)?.field == field)
    }

    /// Every string of the contract is one line: CR/LF in a name would be extra lines in
    /// an e-mail, ESC and BEL would reach SMS gateways, logs and terminals.
    @Test(arguments: [
        ("\"name\":\"Léa Dubois\"", #""name":"Léa Dubois\r\nVotre compte est suspendu""#, "data.customer.name"),
        ("\"name\":\"Boulangerie Martin\"", #""name":"Boulangerie\u001b[2J Martin""#, "data.shop.name"),
        ("\"name\":\"Baguette\"", #""name":"Baguette\u0007""#, "data.items[0].name"),
        ("\"sku\":\"croissant\"", #""sku":"crois\tsant""#, "data.items[1].sku"),
        ("\"id\":\"s1\"", #""id":"s1\u009b""#, "data.shop.id"),
        ("\"order_id\":\"o-1\"", #""order_id":"o-1\u2028""#, "data.order_id"),
        ("\"order_id\":\"o-1\"", #""order_id":"o\u007f1""#, "data.order_id"),
        ("\"email\":\"lea@example.fr\"", #""email":"lea\u001b@example.fr""#, "data.customer.email"),
    ])
    func controlCharactersInAnyStringAreRefusedNamingTheField(find: String, replace: String, field: String) throws {
        let data = placedJSON.replacingOccurrences(of: find, with: replace)
        try #require(data != placedJSON)
        let refused = rejection(data)
        #expect(refused?.field == field, "\(String(describing: refused))")
        #expect(refused?.code == .invalidField)
        #expect(refused?.message.contains("control characters") == true, "\(String(describing: refused))")
    }

    @Test func aCancellationReasonIsOneLineToo() {
        #expect(rejection(#"{"order_id":"o","at":"2026-11-28T09:00:00Z","by":"shop","reason":"rupture\nPayez ici"}"#,
                          type: "order.cancelled")?.field == "data.reason")
        #expect(rejection(#"{"order_id":"o","at":"2026-11-28T09:00:00Z","by":"shop","reason":"rupture « farine » — désolé"}"#,
                          type: "order.cancelled") == nil)
    }

    @Test(arguments: ["https://user:pw@shop.example/hooks", "https://user@shop.example/hooks", "http://@127.0.0.1/",
                      "https://a:b@c@shop.example/hooks"])
    func webhookURLWithUserInfoIsRejected(url: String) {
        let data = placedJSON.replacingOccurrences(of: "https://shop.example/hooks", with: url)
        let refused = rejection(data)
        #expect(refused?.code == .invalidField && refused?.field == "data.shop.webhook_url", "\(String(describing: refused))")
        #expect(refused?.message.contains("user name or password") == true)
    }

    @Test(arguments: ["https://shop.example/hooks?to=a@b", "https://shop.example/a@b", "https://shop.example#a@b"])
    func webhookURLWithAnAtAfterTheHostIsAccepted(url: String) {
        #expect(rejection(placedJSON.replacingOccurrences(of: "https://shop.example/hooks", with: url)) == nil)
    }

    @Test func tooManyItemsIsRejected() {
        let items = (0...500).map { #"{"sku":"s\#($0)","name":"n","quantity":1,"unit_price_cents":1}"# }.joined(separator: ",")
        let data = #"{"order_id":"o","shop":{"id":"s","name":"S"},"customer":{"name":"C"},"items":[\#(items)],"total_cents":0,"currency":"EUR","placed_at":"2026-11-28T09:00:00Z"}"#
        #expect(rejection(data)?.field == "data.items")
    }
}

@Suite("Order batch plan")
struct OrderPlanTests {
    private let all: Set<Channel> = [.email, .sms, .webhook, .log]

    @Test func placingReservesEveryLineAndMessagesBothSides() {
        let plan = OrderPlan.make([("j1", "order.placed", .placed(order("o1", items: [("a", 2), ("b", 1)])))], stored: [:], channels: all)
        #expect(plan.outcomes == [.applied])
        #expect(plan.placed.map(\.orderId) == ["o1"])
        #expect(plan.reservations.map(\.delta) == [2, 1])
        #expect(plan.messages.map(\.template) == ["order-placed-shop", "order-placed-customer"])
        #expect(plan.messages.map(\.channel) == [.email, .email])
        #expect(plan.changes.map(\.status) == [.placed])
    }

    @Test func aWholeLifeInOneBatchEndsCollectedWithStockConsumed() {
        let o = order("o1", items: [("a", 2), ("a", 1)])
        let plan = OrderPlan.make([
            ("j1", "order.placed", .placed(o)),
            ("j2", "order.confirmed", .confirmed(orderId: "o1", at: at("2026-11-28T10:00:00Z"))),
            ("j3", "order.ready", .ready(orderId: "o1", at: at("2026-11-28T11:00:00Z"), pickupDeadline: at("2026-11-29T18:00:00Z"))),
            ("j4", "order.collected", .collected(orderId: "o1", at: at("2026-11-28T12:00:00Z"))),
        ], stored: [:], channels: all)
        #expect(plan.outcomes == [.applied, .applied, .applied, .applied])
        #expect(plan.changes == [.init(orderId: "o1", status: .collected, at: at("2026-11-28T12:00:00Z"),
                                       pickupDeadline: at("2026-11-29T18:00:00Z"))])
        #expect(plan.reservations.map(\.delta).reduce(0, +) == 0)
        #expect(plan.consumption == [StockChange(shopId: "s1", sku: "a", delta: -3, at: at("2026-11-28T12:00:00Z"), jobId: "orders:j4")])
        #expect(plan.history.count == 4)
    }

    @Test func anEventBeforeItsOrderIsRetriedAndLeavesNoHistory() {
        let plan = OrderPlan.make([("j2", "order.confirmed", .confirmed(orderId: "o9", at: at("2026-11-28T10:00:00Z")))],
                                  stored: [:], channels: all)
        #expect(plan.outcomes == [.retry(reason: "the order is not placed yet")])
        #expect(plan.history.isEmpty && plan.changes.isEmpty && plan.messages.isEmpty)
    }

    @Test func aBackwardEventIsKeptInTheHistoryAndChangesNothing() {
        let stored: [ExactText: StoredOrder] = ["o1": StoredOrder(order: order("o1", items: [("a", 1)]), status: .ready)]
        let plan = OrderPlan.make([("j2", "order.confirmed", .confirmed(orderId: "o1", at: at("2026-11-28T10:00:00Z")))],
                                  stored: stored, channels: all)
        guard case .ignored = plan.outcomes.first else {
            Issue.record("a confirmation after ready should be ignored")
            return
        }
        #expect(plan.history.map(\.applied) == [false])
        #expect(plan.changes.isEmpty && plan.reservations.isEmpty && plan.messages.isEmpty)
    }

    @Test func cancellingReleasesAndTellsTheOtherSide() {
        let stored: [ExactText: StoredOrder] = ["o1": StoredOrder(order: order("o1", items: [("a", 2)]), status: .confirmed)]
        let byCustomer = OrderPlan.make([("j", "order.cancelled", .cancelled(orderId: "o1", at: at("2026-11-28T10:00:00Z"), by: .customer, reason: "trop tard"))],
                                        stored: stored, channels: all)
        #expect(byCustomer.reservations.map(\.delta) == [-2])
        #expect(byCustomer.messages.map(\.template) == ["order-cancelled-shop"])
        #expect(byCustomer.messages.first?.facts.cancelReason == "trop tard")
        let byShop = OrderPlan.make([("j", "order.cancelled", .cancelled(orderId: "o1", at: at("2026-11-28T10:00:00Z"), by: .shop, reason: nil))],
                                    stored: stored, channels: all)
        #expect(byShop.messages.map(\.template) == ["order-cancelled-customer"])
    }

    /// PostgreSQL keeps `café` written with U+00E9 and with `e` + U+0301 apart; so must
    /// the plan, which Swift's `String` equality would not.
    @Test func canonicallyEquivalentOrderIdsAreTwoOrders() {
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        let plan = OrderPlan.make([
            ("j1", "order.placed", .placed(order(composed, items: [("a", 1)]))),
            ("j2", "order.placed", .placed(order(decomposed, items: [("a", 2)]))),
        ], stored: [:], channels: all)
        #expect(plan.outcomes == [.applied, .applied])
        #expect(plan.placed.count == 2 && plan.changes.count == 2, "\(plan.changes.map { Array($0.orderId.utf8) })")
    }

    @Test func shortLinesAreMarkedInOrderOfArrival() {
        // 3 on hand, none reserved before: the first order takes 2, the second wants 2 and is short.
        var plan = OrderPlan.make([
            ("j1", "order.placed", .placed(order("o1", items: [("a", 2)]))),
            ("j2", "order.placed", .placed(order("o2", items: [("a", 2), ("b", 1)]))),
        ], stored: [:], channels: all)
        plan.markShortages(stock: [ShopSku("s1", "a"): (onHand: 3, reserved: 4), ShopSku("s1", "b"): (onHand: 5, reserved: 1)])
        let shorts = plan.messages.map { $0.orderId + ":" + $0.facts.items.filter(\.short).map(\.sku).joined() }
        #expect(shorts == ["o1:", "o1:", "o2:a", "o2:a"])
    }

    @Test func unconfiguredChannelsFallBackToOneLogMessage() {
        var o = order("o1", items: [("a", 1)])
        o.customer.phone = "+33612345678"
        let ready = MessageRouting.deliveries(to: .customer, of: o, template: .orderReadyCustomer, channels: [.log])
        #expect(ready.map(\.0) == [.log])
        let both = MessageRouting.deliveries(to: .customer, of: o, template: .orderReadyCustomer, channels: all)
        #expect(both.map(\.0) == [.email, .sms])
        let receipt = MessageRouting.deliveries(to: .customer, of: o, template: .orderPlacedCustomer, channels: all)
        #expect(receipt.map(\.0) == [.email])
        o.customer.email = nil
        o.customer.phone = nil
        #expect(MessageRouting.deliveries(to: .customer, of: o, template: .orderPlacedCustomer, channels: all).map(\.0) == [.log])
    }
}

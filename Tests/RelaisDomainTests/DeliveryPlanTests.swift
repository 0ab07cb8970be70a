import Foundation
import RelaisContract
import RelaisDomain
import RelaisJobs
import Testing

private let decoder = EnvelopeDecoder(DeliveryCatalog.self)

private func rejection(_ type: String, _ data: String) -> JobRejection? {
    let json = #"{"id":"j1","type":"\#(type)","data":\#(data)}"#
    if case .failure(let failure) = decoder.decode(Array(json.utf8)) { return failure.rejection }
    return nil
}

private func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

private func order(_ id: String, zone: String = "Europe/Paris") -> PlacedOrder {
    PlacedOrder(orderId: id, shop: .init(id: "s1", name: "Fleurs", email: "shop@example.fr", timeZone: zone),
                customer: .init(name: "Léa", email: "lea@example.fr", phone: "+33612345678"),
                items: [.init(sku: "a", name: "A", quantity: 2, unitPriceCents: 100), .init(sku: "b", name: "B", quantity: 1, unitPriceCents: 50),
                        .init(sku: "a", name: "A again", quantity: 1, unitPriceCents: 100)],
                totalCents: 350, placedAt: at("2026-11-28T09:00:00Z"))
}

private let relay = RelayPoint(name: "Tabac de la Gare", address: "2 place de la Gare, 69002 Lyon", openingHours: "8h-19h")
private let email: Set<Channel> = [.email, .sms, .webhook]

private func plan(_ jobs: [DeliveryJob], stored: [ExactText: StoredOrder], now: String = "2026-11-30T10:00:00Z",
                  rules: ReminderRules = ReminderRules()) -> DeliveryPlan {
    DeliveryPlan.make(jobs.enumerated().map { ("j\($0.offset)", "delivery.x", $0.element) }, stored: stored, now: at(now),
                      channels: email, rules: rules)
}

@Suite("Delivery jobs")
struct DeliveryCatalogTests {
    @Test func everyTypeDecodes() throws {
        let shipped = #"{"id":"j1","type":"delivery.shipped","data":{"order_id":"o1","at":"2026-11-30T10:00:00+01:00","method":"relay","carrier":"Mondial Relay","tracking_url":"https://suivi.example/ABC","tracking_number":"ABC"}}"#
        let envelope = try decoder.decode(Array(shipped.utf8)).get()
        #expect(envelope.job == .shipped(orderId: "o1", at: at("2026-11-30T09:00:00Z"), method: .relay, carrier: "Mondial Relay",
                                         trackingURL: "https://suivi.example/ABC", trackingNumber: "ABC"))
        let atRelay = #"{"id":"j2","type":"delivery.at_relay","data":{"order_id":"o1","at":"2026-12-01T10:00:00Z","relay":{"name":"Tabac de la Gare","address":"2 place de la Gare, 69002 Lyon","opening_hours":"8h-19h"},"pickup_code":"4821","hold_until":"2026-12-15T19:00:00+01:00"}}"#
        #expect(try decoder.decode(Array(atRelay.utf8)).get().job == .atRelay(
            orderId: "o1", at: at("2026-12-01T10:00:00Z"), relay: relay, pickupCode: "4821", holdUntil: at("2026-12-15T18:00:00Z")))
        for type in ["delivered", "collected"] {
            #expect(rejection("delivery.\(type)", #"{"order_id":"o1","at":"2026-12-01T10:00:00Z"}"#) == nil)
        }
        #expect(rejection("delivery.returned", #"{"order_id":"o1","at":"2026-12-01T10:00:00Z","reason":"non retiré"}"#) == nil)
    }

    @Test(arguments: [
        ("delivery.shipped", #"{"order_id":"o1","at":"2026-11-30T10:00:00Z","method":"drone","carrier":"X"}"#, "data.method"),
        ("delivery.shipped", #"{"order_id":"o1","at":"2026-11-30T10:00:00Z","method":"home"}"#, "data.carrier"),
        ("delivery.shipped", #"{"order_id":"o1","at":"2026-11-30T10:00:00Z","method":"home","carrier":"X","tracking_url":"ftp://x.example/1"}"#, "data.tracking_url"),
        ("delivery.shipped", #"{"order_id":"o1","at":"2026-11-30T10:00:00Z","method":"home","carrier":"X","tracking_url":"https://u:p@x.example/1"}"#, "data.tracking_url"),
        ("delivery.at_relay", #"{"order_id":"o1","at":"2026-12-01T10:00:00Z","relay":{"name":"T"},"pickup_code":"1","hold_until":"2026-12-15T10:00:00Z"}"#, "data.relay.address"),
        ("delivery.at_relay", #"{"order_id":"o1","at":"2026-12-01T10:00:00Z","relay":{"name":"T","address":"A"},"pickup_code":"1","hold_until":"2026-12-01T10:00:00Z"}"#, "data.hold_until"),
        ("delivery.at_relay", #"{"order_id":"o1","at":"2026-12-01T10:00:00Z","relay":{"name":"T","address":"A"},"hold_until":"2026-12-05T10:00:00Z"}"#, "data.pickup_code"),
        ("delivery.delivered", #"{"order_id":"o1"}"#, "data.at"),
        ("delivery.returned", #"{"at":"2026-12-01T10:00:00Z"}"#, "data.order_id"),
    ])
    func badFieldsAreNamed(type: String, data: String, field: String) {
        #expect(rejection(type, data)?.field == field, "\(String(describing: rejection(type, data)))")
    }
}

@Suite("Delivery plan")
struct DeliveryPlanTests {
    @Test func shippingTakesTheReservedStockOnceAndCancelsThePickupReminders() {
        let stored: [ExactText: StoredOrder] = ["o1": StoredOrder(order: order("o1"), status: .confirmed)]
        let p = plan([.shipped(orderId: "o1", at: at("2026-11-30T09:00:00Z"), method: .home, carrier: "Colissimo", trackingURL: nil, trackingNumber: nil),
                      .delivered(orderId: "o1", at: at("2026-12-01T09:00:00Z"))], stored: stored)
        #expect(p.order.outcomes == [.applied, .applied])
        #expect(p.order.changes.map(\.status) == [.delivered], "one status per order: the last")
        #expect(p.order.reservations.map(\.delta) == [-2, -1, -1], "every line's reservation released")
        #expect(p.order.consumption.map { "\($0.sku)\($0.delta)" } == ["a-3", "b-1"], "the quantities leave stock on hand, per SKU")
        #expect(p.order.reminders.cancellations.first?.kinds == [.uncollected, .evening, .soon])
        #expect(p.deliveries.map(\.delivery.state) == [.delivered])
        #expect(p.order.messages.map(\.template) == ["delivery-shipped-customer"], "e-mail only: shipping asks nothing of the customer")
    }

    @Test func aStepThatOvertookTheShipmentShipsTheOrderAndTheLateShipmentChangesNothing() {
        let stored: [ExactText: StoredOrder] = ["o1": StoredOrder(order: order("o1"), status: .placed)]
        let p = plan([.atRelay(orderId: "o1", at: at("2026-12-01T10:00:00Z"), relay: relay, pickupCode: "4821", holdUntil: at("2026-12-15T18:00:00Z")),
                      .shipped(orderId: "o1", at: at("2026-11-30T09:00:00Z"), method: .relay, carrier: "Mondial Relay", trackingURL: nil, trackingNumber: nil)],
                     stored: stored)
        #expect(p.order.outcomes == [.applied, .ignored(reason: "shipped would move a delivery at_relay backwards")])
        #expect(p.order.consumption.count == 2, "stock taken once, by the first step applied")
        #expect(p.order.history.map(\.applied) == [true, false])
        #expect(p.order.messages.map(\.template) == ["delivery-at-relay-customer", "delivery-at-relay-customer"], "e-mail and SMS")
        #expect(p.order.messages.first?.facts.delivery?.pickupCode == "4821")
    }

    @Test func anOrderThatIsOverOrNotPlacedIsLeftOrRetried() {
        let stored: [ExactText: StoredOrder] = [
            "gone": StoredOrder(order: order("gone"), status: .cancelled),
            "done": StoredOrder(order: order("done"), status: .delivered, delivery: DeliveryFacts(state: .delivered)),
        ]
        let p = plan([.shipped(orderId: "gone", at: at("2026-11-30T09:00:00Z"), method: .home, carrier: "X", trackingURL: nil, trackingNumber: nil),
                      .returned(orderId: "done", at: at("2026-12-01T09:00:00Z"), reason: nil),
                      .delivered(orderId: "unknown", at: at("2026-12-01T09:00:00Z"))], stored: stored)
        #expect(p.order.outcomes == [.ignored(reason: "the order is already cancelled"), .ignored(reason: "the delivery is already delivered"),
                                     .retry(reason: "the order is not placed yet")])
        #expect(p.order.consumption.isEmpty && p.order.messages.isEmpty && p.deliveries.isEmpty)
    }

    @Test func aReturnPutsTheQuantitiesBackAtItsTimeAndTellsBothSides() {
        let stored: [ExactText: StoredOrder] = ["o1": StoredOrder(order: order("o1"), status: .shipped, delivery: DeliveryFacts(
            state: .atRelay, method: .relay, relay: relay, pickupCode: "4821", holdUntil: at("2026-12-15T18:00:00Z")))]
        let p = plan([.returned(orderId: "o1", at: at("2026-12-16T08:00:00Z"), reason: "non retiré")], stored: stored)
        #expect(p.order.reservations.isEmpty, "nothing was reserved any more")
        #expect(p.order.consumption.map { "\($0.sku)+\($0.delta)@\($0.at)" } == ["a+3@2026-12-16T08:00:00.000000Z", "b+1@2026-12-16T08:00:00.000000Z"])
        #expect(p.order.changes.map(\.status) == [.returned])
        #expect(p.order.reminders.cancellations.map(\.kinds) == [[.relayHold]])
        #expect(p.order.messages.map { "\($0.recipient.rawValue):\($0.template):\($0.channel.rawValue)" }
                == ["shop:delivery-returned-shop:email", "customer:delivery-returned-customer:email", "customer:delivery-returned-customer:sms"])
        #expect(p.order.messages.first?.facts.delivery?.reason == "non retiré")
    }

    @Test func aReturnHeardOfFirstReleasesTheReservationAndLeavesStockOnHand() {
        let stored: [ExactText: StoredOrder] = ["o1": StoredOrder(order: order("o1"), status: .ready)]
        let p = plan([.returned(orderId: "o1", at: at("2026-12-16T08:00:00Z"), reason: nil)], stored: stored)
        #expect(p.order.outcomes == [.applied])
        #expect(p.order.reservations.map(\.delta) == [-2, -1, -1])
        #expect(p.order.consumption.isEmpty, "left and came back: on hand unchanged, and no two adjustments of one job id")
        #expect(p.order.changes.map(\.status) == [.returned])
    }

    /// The relay point's reminder is elapsed time before the hold ends, moved out of quiet
    /// hours on the shop's clock: on the October change day the quiet hours end at 08:00
    /// CET (07:00 UTC), on the March one at 08:00 CEST (06:00 UTC).
    @Test(arguments: [
        // hold ends Sunday 25 Oct 21:00 CET; 24 h before is Saturday 22:00 CEST, quiet: Sunday 08:00 CET.
        ("2026-10-25T21:00:00+01:00", "Europe/Paris", "2026-10-25T07:00:00.000000Z"),
        // hold ends Sunday 29 March 21:00 CEST; 24 h before is Saturday 20:00 CET, quiet: Sunday 08:00 CEST.
        ("2026-03-29T21:00:00+02:00", "Europe/Paris", "2026-03-29T06:00:00.000000Z"),
        // outside quiet hours: exactly 24 h before.
        ("2026-03-29T15:00:00+02:00", "Europe/Paris", "2026-03-28T13:00:00.000000Z"),
        // the same instant in New York's zone: 24 h before is 09:00 EDT, outside its quiet hours.
        ("2026-03-29T21:00:00+02:00", "America/New_York", "2026-03-28T19:00:00.000000Z"),
    ])
    func theHoldReminderFollowsTheShopsClock(holdUntil: String, zone: String, due: String) {
        let stored: [ExactText: StoredOrder] = ["o1": StoredOrder(order: order("o1", zone: zone), status: .ready)]
        let p = plan([.atRelay(orderId: "o1", at: at("2026-03-01T10:00:00Z"), relay: relay, pickupCode: "1", holdUntil: at(holdUntil))],
                     stored: stored, now: "2026-03-01T10:00:00Z")
        #expect(p.order.reminders.planned.map { "\($0.reminder.kind.rawValue)@\($0.reminder.due)" } == ["relay_hold@\(due)"])
    }

    @Test func aHoldTooShortOrEndingInQuietHoursGetsNoReminder() {
        let stored: [ExactText: StoredOrder] = ["o1": StoredOrder(order: order("o1"), status: .ready)]
        // 24 h before the end had already passed when the parcel arrived.
        let short = plan([.atRelay(orderId: "o1", at: at("2026-12-01T10:00:00Z"), relay: relay, pickupCode: "1", holdUntil: at("2026-12-02T09:00:00Z"))],
                         stored: stored, now: "2026-12-01T10:00:00Z")
        #expect(short.order.reminders.planned.isEmpty)
        // Due in quiet hours that end after the hold itself: nothing useful to send.
        var rules = ReminderRules()
        rules.holdReminderBefore = .seconds(3600)
        let night = plan([.atRelay(orderId: "o1", at: at("2026-12-01T10:00:00Z"), relay: relay, pickupCode: "1", holdUntil: at("2026-12-03T06:30:00+01:00"))],
                         stored: stored, now: "2026-12-01T10:00:00Z", rules: rules)
        #expect(night.order.reminders.planned.isEmpty)
    }
}

@Suite("Orders once shipped")
struct ShippedOrderTests {
    /// docs/producers.md, "Queue `deliveries`": once shipped, the `orders` queue's events
    /// are kept in the history and change nothing; a parcel back is a return, not a cancellation.
    @Test(arguments: [OrderStatus.shipped, .delivered, .returned])
    func orderEventsChangeNothingOnceTheOrderIsShipped(status: OrderStatus) {
        for event in [OrderEvent.confirmed, .ready, .collected, .cancelled(by: .customer), .expired] {
            #expect(OrderLifecycle.decide(event, current: status) == .ignore(reason: "the order is already \(status.rawValue)"))
        }
        #expect(!status.isOpen, "a shipped order holds no reservation")
    }
}

import Foundation
import Testing
import RelaisDomain
import RelaisMessages

@Suite struct WebhookEventTests {
    @Test("event types", arguments: [
        ("order-placed-shop", "order.placed"), ("order-cancelled-shop", "order.cancelled"),
        ("order-expired-shop", "order.expired"), ("order-ready-customer", "order.ready"),
        ("pickup-reminder-customer", "pickup.reminder"), ("pickup-soon-customer", "pickup.soon"),
    ])
    func eventType(template: String, expected: String) {
        #expect(WebhookEvent.eventType(template: template) == expected)
    }

    @Test func bodyCarriesTheOrder() throws {
        let facts = Fixtures.facts(shortage: true, cancelledBy: .customer, reason: "Erreur")
        let body = WebhookEvent.body(template: "order-cancelled-shop", facts: facts)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(json["type"] as? String == "order.cancelled")
        #expect(json["timestamp"] as? String == "2026-11-28T17:00:00.000000Z")
        let data = try #require(json["data"] as? [String: Any])
        #expect(data["order_id"] as? String == "CMD-2026-0042")
        #expect(data["shop_id"] as? String == "shop-17")
        #expect(data["status"] as? String == "cancelled")
        #expect((data["customer"] as? [String: Any])?["name"] as? String == "Marie Dupont")
        #expect(data["total_cents"] as? Int == 1640)
        #expect(data["currency"] as? String == "EUR")
        #expect(data["cancelled_by"] as? String == "customer")
        #expect(data["reason"] as? String == "Erreur")
        #expect(data["pickup_deadline"] as? String == "2026-11-29T17:00:00.000000Z")
        let items = try #require(data["items"] as? [[String: Any]])
        #expect(items.count == 2)
        #expect(items[1]["sku"] as? String == "BAG-TRAD")
        #expect(items[1]["unit_price_cents"] as? Int == 130)
        #expect(items[1]["quantity"] as? Int == 3)
        #expect(items[1]["short"] as? Bool == true)
        #expect(items[0]["short"] as? Bool == false)
    }

    @Test func optionalFieldsAreLeftOutAndKeysSorted() throws {
        var facts = Fixtures.facts()
        facts.pickupDeadline = nil
        facts.slotStart = nil
        facts.slotEnd = nil
        let body = String(decoding: WebhookEvent.body(template: "order-placed-shop", facts: facts), as: UTF8.self)
        #expect(!body.contains("cancelled_by") && !body.contains("reason") && !body.contains("pickup_deadline"))
        #expect(body.hasPrefix("{\"data\":{\"currency\":\"EUR\",\"customer\":{\"name\":\"Marie Dupont\"},\"items\":"), "\(body)")
        #expect(body.contains("\"status\":\"placed\""))
        #expect(body.hasSuffix("\"timestamp\":\"2026-11-28T17:00:00.000000Z\",\"type\":\"order.placed\"}"), "\(body)")
    }
}

import Foundation
import JSONReader
import RelaisDomain
import Testing

/// The JSON stored for orders and messages, written by json-c, reads back as the same
/// value and says what Foundation's encoder said.
@Suite struct JSONEncodingTests {
    static let awkward = "L\u{e9}a \"la\" \\ Dubois / caf\u{e9} \u{1F956}\n\ttab \u{1}"

    static let order = PlacedOrder(
        orderId: "ord-1",
        shop: .init(id: "boul", name: awkward, email: "boutique@example.fr", webhookURL: "https://shop.example/hook", timeZone: "Europe/Paris"),
        customer: .init(name: awkward, email: nil, phone: "+33612345678", language: .en),
        items: [.init(sku: "pain", name: awkward, quantity: 2, unitPriceCents: 120), .init(sku: "big", name: "x", quantity: Int64.max, unitPriceCents: Int64.min)],
        totalCents: 240, placedAt: Timestamp(microseconds: 1_795_000_000_123_456), pickupDeadline: nil)

    static let facts = MessageFacts(
        orderId: "ord-1", shopId: "boul", shopName: awkward, timeZone: "Europe/Paris", customerName: "Léa", language: .fr,
        items: [.init(sku: "pain", name: awkward, quantity: 2, unitPriceCents: 120, short: true)], totalCents: 240, currency: "EUR",
        at: Timestamp(microseconds: 1_795_000_000_000_001), slotStart: Timestamp(microseconds: 1_795_000_100_000_000),
        cancelledBy: .shop, cancelReason: awkward)

    @Test func anOrderReadsBackAsItself() throws {
        let text = try JSONCEncoder().encode(Self.order)
        #expect(try JSONDecoder().decode(PlacedOrder.self, from: Data(text.utf8)) == Self.order)
        #expect(!text.contains("pickup_deadline"), "a nil optional is left out: \(text)")
        #expect(text.contains("https://shop.example/hook"), "slashes are not escaped: \(text)")
    }

    @Test func messageFactsReadBackAsThemselves() throws {
        let text = try JSONCEncoder().encode(Self.facts)
        #expect(try JSONDecoder().decode(MessageFacts.self, from: Data(text.utf8)) == Self.facts)
    }

    @Test func theSameJSONAsFoundationsEncoder() throws {
        for (ours, theirs) in [(try JSONCEncoder().encode(Self.order), try JSONEncoder().encode(Self.order)),
                               (try JSONCEncoder().encode(Self.facts), try JSONEncoder().encode(Self.facts))] {
            let a = try JSONSerialization.jsonObject(with: Data(ours.utf8)) as? NSDictionary
            let b = try JSONSerialization.jsonObject(with: theirs) as? NSDictionary
            #expect(a != nil && a == b, "\(ours)")
        }
    }

    class Base: Encodable {
        var sku = "pain"
    }

    final class Derived: Base {
        var quantity: Int64 = 2
        private enum Keys: String, CodingKey { case quantity, base, list }
        override func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(quantity, forKey: .quantity)
            try super.encode(to: c.superEncoder())
            try super.encode(to: c.superEncoder(forKey: .base))
            var list = c.nestedUnkeyedContainer(forKey: .list)
            try super.encode(to: list.superEncoder())
            try list.encode(quantity)
        }
    }

    @Test func superclassesAreEncodedWhereFoundationPutsThem() throws {
        let ours = try JSONCEncoder().encode(Derived())
        let theirs = try JSONEncoder().encode(Derived())
        let a = try JSONSerialization.jsonObject(with: Data(ours.utf8)) as? NSDictionary
        let b = try JSONSerialization.jsonObject(with: theirs) as? NSDictionary
        #expect(a != nil && a == b, "\(ours) against \(String(decoding: theirs, as: UTF8.self))")
    }

    @Test func topLevelScalarsAndArrays() throws {
        #expect(try JSONCEncoder().encode([1, 2, 3]) == "[1,2,3]")
        #expect(try JSONCEncoder().encode("a\"b") == #""a\"b""#)
        #expect(try JSONCEncoder().encode([String: Int]()) == "{}")
        #expect(throws: (any Error).self) { try JSONCEncoder().encode(Double.nan) }
    }
}

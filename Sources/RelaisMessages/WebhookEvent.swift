import Foundation
import RelaisDomain

/// The JSON event a shop's webhook receives instead of a rendered message.
///
/// ```json
/// {"type": "order.placed", "timestamp": "2026-11-28T09:00:00.000000Z",
///  "data": {"order_id": "…", "shop_id": "…", "status": "placed", "customer": {"name": "…"},
///           "items": [{"sku": "…", "name": "…", "quantity": 2, "unit_price_cents": 450, "short": false}],
///           "total_cents": 900, "currency": "EUR", "pickup_deadline": "…", "slot_start": "…",
///           "slot_end": "…", "cancelled_by": "customer", "reason": "…"}}
/// ```
/// Optional fields are left out when they have no value. Keys are sorted, so the body is
/// the same bytes every time it is built (it is what the signature covers).
public enum WebhookEvent {
    /// The JSON body of the webhook for a shop message.
    public static func body(template: String, facts: MessageFacts) -> [UInt8] {
        let type = eventType(template: template), timestamp = facts.at.description
        // An appointment's or a quote's event carries that family's data, not an order's.
        if let appointment = facts.appointment {
            return encode(Event(type: type, timestamp: timestamp, data: AppointmentContext.webhookData(facts, appointment)))
        }
        if let quote = facts.quote {
            return encode(Event(type: type, timestamp: timestamp, data: QuoteContext.webhookData(facts, quote)))
        }
        return encode(Event(
            type: type, timestamp: timestamp,
            data: Payload(
                orderId: facts.orderId, shopId: facts.shopId, status: status(template: template),
                customer: .init(name: facts.customerName),
                items: facts.items.map {
                    .init(sku: $0.sku, name: $0.name, quantity: $0.quantity, unitPriceCents: $0.unitPriceCents, short: $0.short)
                },
                totalCents: facts.totalCents, currency: facts.currency,
                pickupDeadline: facts.pickupDeadline?.description,
                slotStart: facts.slotStart?.description, slotEnd: facts.slotEnd?.description,
                cancelledBy: facts.cancelledBy?.rawValue, reason: facts.cancelReason, delivery: facts.delivery)))
    }

    /// The body's bytes: keys sorted, so the body is the same every time it is built.
    private static func encode(_ event: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, integers and booleans only: encoding cannot fail.
        return Array(try! encoder.encode(event))
    }

    /// The event type of a template: the recipient suffix dropped, the first hyphen a dot,
    /// the others underscores (`order-placed-shop` → `order.placed`,
    /// `pickup-reminder-customer` → `pickup.reminder`).
    public static func eventType(template: String) -> String {
        var name = Substring(template)
        for suffix in ["-shop", "-customer"] where name.hasSuffix(suffix) {
            name = name.dropLast(suffix.count)
        }
        guard let hyphen = name.firstIndex(of: "-") else { return String(name) }
        return name[..<hyphen] + "." + name[name.index(after: hyphen)...].replacingOccurrences(of: "-", with: "_")
    }

    /// The order status an `order.*` event leaves the order in; nil for other events.
    private static func status(template: String) -> String? {
        let type = eventType(template: template)
        guard type.hasPrefix("order.") else { return nil }
        return OrderStatus(rawValue: String(type.dropFirst("order.".count)))?.rawValue
    }

    private struct Event<Body: Encodable>: Encodable {
        let type: String
        let timestamp: String
        let data: Body
    }

    private struct Payload: Encodable {
        let orderId: String
        let shopId: String
        let status: String?
        let customer: Customer
        let items: [Item]
        let totalCents: Int64
        let currency: String
        let pickupDeadline: String?
        let slotStart: String?
        let slotEnd: String?
        let cancelledBy: String?
        let reason: String?
        let delivery: DeliveryFacts?

        enum CodingKeys: String, CodingKey {
            case orderId = "order_id", shopId = "shop_id", status, customer, items, totalCents = "total_cents", currency
            case pickupDeadline = "pickup_deadline", slotStart = "slot_start", slotEnd = "slot_end"
            case cancelledBy = "cancelled_by", reason, delivery
        }
    }

    private struct Customer: Encodable {
        let name: String
    }

    private struct Item: Encodable {
        let sku: String
        let name: String
        let quantity: Int64
        let unitPriceCents: Int64
        let short: Bool

        enum CodingKeys: String, CodingKey {
            case sku, name, quantity, unitPriceCents = "unit_price_cents", short
        }
    }
}

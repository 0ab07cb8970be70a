import Foundation
import RelaisDomain

/// The variables a template sees, built from a message's facts (documented in docs/templates.md).
///
/// A dictionary rather than a struct: the names are the templates' snake_case, and an
/// absent optional is an absent key, so `{{#deadline}}…{{/deadline}}` is simply skipped.
enum MessageContext {
    /// The template variables for `facts`, with money and times in `language` and the shop's zone.
    static func values(_ facts: MessageFacts, language: Language) -> [String: Any] {
        let zone = facts.timeZone
        let items = facts.items.map { item(for: $0, language: language) }
        let shortages = zip(facts.items, items).filter { $0.0.short }.map(\.1)
        let itemCount = facts.items.reduce(Int64(0)) { $0.addingReportingOverflow($1.quantity).overflow ? .max : $0 + $1.quantity }
        var values: [String: Any] = [
            "shop_name": facts.shopName,
            "shop_id": facts.shopId,
            "customer_name": facts.customerName,
            "order_id": facts.orderId,
            "items": items,
            "item_count": itemCount,
            "items_plural": itemCount > 1,
            "shortages": shortages,
            "has_shortages": !shortages.isEmpty,
            "shortage_count": shortages.count,
            "shortages_plural": shortages.count > 1,
            "total": Money.format(cents: facts.totalCents, language: language),
            "at": LocalTime.format(facts.at, timeZone: zone, language: language),
            "cancelled_by_shop": facts.cancelledBy == .shop,
            "cancelled_by_customer": facts.cancelledBy == .customer,
            "cancelled_by_platform": facts.cancelledBy == .platform,
        ]
        if let deadline = facts.pickupDeadline {
            values["deadline"] = LocalTime.format(deadline, timeZone: zone, language: language)
        }
        if let start = facts.slotStart {
            values["slot_start"] = LocalTime.format(start, timeZone: zone, language: language)
            values["slot_day"] = LocalTime.day(start, timeZone: zone, language: language)
            values["slot_time"] = LocalTime.time(start, timeZone: zone, language: language)
        }
        if let end = facts.slotEnd {
            values["slot_end_time"] = LocalTime.time(end, timeZone: zone, language: language)
        }
        if let reason = facts.cancelReason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty {
            values["reason"] = reason
        }
        // A family's own facts add its variables; they never replace the ones above.
        var family: [String: Any] = [:]
        if let delivery = facts.delivery { family = DeliveryContext.values(delivery, timeZone: zone, language: language) }
        if let appointment = facts.appointment { family = AppointmentContext.values(appointment, timeZone: zone, language: language) }
        if let quote = facts.quote { family = QuoteContext.values(quote, timeZone: zone, language: language) }
        values.merge(family) { common, _ in common }
        return values
    }

    private static func item(for item: MessageFacts.Item, language: Language) -> [String: Any] {
        var values: [String: Any] = [
            "name": item.name,
            "sku": item.sku,
            "quantity": item.quantity,
            "unit_price": Money.format(cents: item.unitPriceCents, language: language),
            "short": item.short,
        ]
        // Producers' numbers are only checked for sign: an absurd line has no total rather than a crash.
        let (lineTotal, overflow) = item.unitPriceCents.multipliedReportingOverflow(by: item.quantity)
        if !overflow { values["line_total"] = Money.format(cents: lineTotal, language: language) }
        return values
    }
}

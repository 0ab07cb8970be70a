import Foundation
import RelaisDomain

/// The template variables of the `deliveries` queue's messages (documented in docs/templates.md).
enum DeliveryContext {
    /// The template variables `facts` adds, in `language` and the shop's zone.
    static func values(_ facts: DeliveryFacts, timeZone: String, language: Language) -> [String: Any] {
        var values: [String: Any] = [
            "method_home": facts.method == .home,
            "method_relay": facts.method == .relay,
        ]
        values["carrier"] = facts.carrier
        values["tracking_url"] = facts.trackingURL
        values["tracking_number"] = facts.trackingNumber
        values["pickup_code"] = facts.pickupCode
        if let relay = facts.relay {
            values["relay_name"] = relay.name
            values["relay_address"] = relay.address
            values["relay_hours"] = relay.openingHours
        }
        if let holdUntil = facts.holdUntil {
            values["hold_until"] = LocalTime.format(holdUntil, timeZone: timeZone, language: language)
            values["hold_day"] = LocalTime.day(holdUntil, timeZone: timeZone, language: language)
            values["hold_time"] = LocalTime.time(holdUntil, timeZone: timeZone, language: language)
        }
        if let reason = facts.reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty {
            values["reason"] = reason
        }
        return values
    }
}

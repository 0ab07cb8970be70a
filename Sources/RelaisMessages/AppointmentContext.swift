import RelaisDomain

/// The template variables and webhook data of the appointment family's messages
/// (documented in docs/templates.md).
enum AppointmentContext {
    /// The template variables `facts` adds, in `language` and the shop's zone.
    ///
    /// The customer, the shop, who cancelled and why are the common variables
    /// (`customer_name`, `shop_name`, `cancelled_by_*`, `reason`), and `order_id` holds the
    /// appointment's id.
    static func values(_ facts: AppointmentFacts, timeZone: String, language: Language) -> [String: Any] {
        var values: [String: Any] = [
            "service": facts.service,
            "appointment_start": LocalTime.format(facts.start, timeZone: timeZone, language: language),
            "appointment_day": LocalTime.day(facts.start, timeZone: timeZone, language: language),
            "appointment_time": LocalTime.time(facts.start, timeZone: timeZone, language: language),
            "appointment_end_time": LocalTime.time(facts.end, timeZone: timeZone, language: language),
            "appointment_status": facts.status.rawValue,
        ]
        if let minutes = facts.durationMinutes { values["duration_minutes"] = String(minutes) }
        if let address = facts.address { values["address"] = address }
        if let previous = facts.previousStart {
            values["previous_start"] = LocalTime.format(previous, timeZone: timeZone, language: language)
            values["previous_day"] = LocalTime.day(previous, timeZone: timeZone, language: language)
            values["previous_time"] = LocalTime.time(previous, timeZone: timeZone, language: language)
        }
        if let previousEnd = facts.previousEnd {
            values["previous_end_time"] = LocalTime.time(previousEnd, timeZone: timeZone, language: language)
        }
        return values
    }

    /// The `data` of the webhook event a shop receives for `facts`: the appointment as it
    /// stands after the event. Optional fields are left out when they have no value.
    static func webhookData(_ facts: MessageFacts, _ appointment: AppointmentFacts) -> some Encodable {
        Payload(appointmentId: facts.orderId, shopId: facts.shopId, status: appointment.status.rawValue,
                service: appointment.service, durationMinutes: appointment.durationMinutes,
                start: appointment.start.description, end: appointment.end.description, address: appointment.address,
                customer: .init(name: facts.customerName), cancelledBy: facts.cancelledBy?.rawValue, reason: facts.cancelReason)
    }

    private struct Payload: Encodable {
        let appointmentId: String
        let shopId: String
        let status: String
        let service: String
        let durationMinutes: Int64?
        let start: String
        let end: String
        let address: String?
        let customer: Customer
        let cancelledBy: String?
        let reason: String?

        enum CodingKeys: String, CodingKey {
            case appointmentId = "appointment_id", shopId = "shop_id", status, service, durationMinutes = "duration_minutes"
            case start, end, address, customer, cancelledBy = "cancelled_by", reason
        }
    }

    private struct Customer: Encodable {
        let name: String
    }
}

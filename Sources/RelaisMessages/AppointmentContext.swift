import RelaisDomain

/// The template variables and webhook data of the appointment family's messages
/// (documented in docs/templates.md).
enum AppointmentContext {
    /// The template variables `facts` adds, in `language` and the shop's zone.
    static func values(_ facts: AppointmentFacts, timeZone: String, language: Language) -> [String: Any] {
        [:]
    }

    /// The `data` of the webhook event a shop receives for `facts`.
    static func webhookData(_ facts: MessageFacts, _ appointment: AppointmentFacts) -> some Encodable {
        appointment
    }
}

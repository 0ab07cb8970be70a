import RelaisDomain

/// The template variables and webhook data of the delivery family's messages
/// (documented in docs/templates.md).
enum DeliveryContext {
    /// The template variables `facts` adds, in `language` and the shop's zone.
    static func values(_ facts: DeliveryFacts, timeZone: String, language: Language) -> [String: Any] {
        [:]
    }
}

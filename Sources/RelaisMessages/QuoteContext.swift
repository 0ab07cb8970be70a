import RelaisDomain

/// The template variables and webhook data of the quote family's messages
/// (documented in docs/templates.md).
enum QuoteContext {
    /// The template variables `facts` adds, in `language` and the shop's zone.
    static func values(_ facts: QuoteFacts, timeZone: String, language: Language) -> [String: Any] {
        [:]
    }

    /// The `data` of the webhook event a shop receives for `facts`.
    static func webhookData(_ facts: MessageFacts, _ quote: QuoteFacts) -> some Encodable {
        quote
    }
}

/// What a message of the quote family says about its quote, captured when its event
/// happened (`MessageFacts.quote`).
public struct QuoteFacts: Codable, Sendable, Equatable {
    /// Creates the facts.
    public init() {}
}

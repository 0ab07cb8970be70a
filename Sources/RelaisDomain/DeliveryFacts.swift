/// What a message of the delivery family says about its delivery, captured when its event
/// happened (`MessageFacts.delivery`).
public struct DeliveryFacts: Codable, Sendable, Equatable {
    /// Creates the facts.
    public init() {}
}

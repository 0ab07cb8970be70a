/// An order's delivery: as Relais keeps it (`relais.deliveries`, `StoredOrder.delivery`),
/// and as a message of the `deliveries` queue says it, captured when its step happened
/// (`MessageFacts.delivery`).
public struct DeliveryFacts: Codable, Sendable, Equatable {
    public var state: DeliveryState
    public var method: DeliveryMethod?
    public var carrier: String?
    public var trackingURL: String?
    public var trackingNumber: String?
    public var relay: RelayPoint?
    /// The code the customer shows at the relay point.
    public var pickupCode: String?
    /// When the relay point sends the parcel back.
    public var holdUntil: Timestamp?
    /// Why it came back, when the carrier said: in the return's messages only, not kept.
    public var reason: String?

    /// Creates the facts.
    public init(state: DeliveryState, method: DeliveryMethod? = nil, carrier: String? = nil, trackingURL: String? = nil,
                trackingNumber: String? = nil, relay: RelayPoint? = nil, pickupCode: String? = nil, holdUntil: Timestamp? = nil,
                reason: String? = nil) {
        self.state = state
        self.method = method
        self.carrier = carrier
        self.trackingURL = trackingURL
        self.trackingNumber = trackingNumber
        self.relay = relay
        self.pickupCode = pickupCode
        self.holdUntil = holdUntil
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case state, method, carrier, trackingURL = "tracking_url", trackingNumber = "tracking_number", relay
        case pickupCode = "pickup_code", holdUntil = "hold_until", reason
    }
}

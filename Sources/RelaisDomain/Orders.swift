import Foundation

/// A job of the `orders` queue: one event of an order's life.
public enum OrderJob: Sendable, Equatable {
    /// `order.placed`: the order, its shop, customer and items.
    case placed(PlacedOrder)
    /// `order.confirmed`.
    case confirmed(orderId: String, at: Timestamp)
    /// `order.ready`, with the time after which an uncollected order expires.
    case ready(orderId: String, at: Timestamp, pickupDeadline: Timestamp?)
    /// `order.collected`.
    case collected(orderId: String, at: Timestamp)
    /// `order.cancelled`, by whom and why.
    case cancelled(orderId: String, at: Timestamp, by: CancelledBy, reason: String?)
    /// The pickup deadline of a ready order passed: Relais's own event, never a producer's.
    case expired(orderId: String, at: Timestamp)

    /// The order the event is about.
    public var orderId: String {
        switch self {
        case .placed(let order): order.orderId
        case .confirmed(let id, _), .ready(let id, _, _), .collected(let id, _), .cancelled(let id, _, _, _), .expired(let id, _): id
        }
    }

    /// When the event happened.
    public var at: Timestamp {
        switch self {
        case .placed(let order): order.placedAt
        case .confirmed(_, let at), .ready(_, let at, _), .collected(_, let at), .cancelled(_, let at, _, _), .expired(_, let at): at
        }
    }

    /// The event, as the state machine sees it.
    public var event: OrderEvent {
        switch self {
        case .placed: .placed
        case .confirmed: .confirmed
        case .ready: .ready
        case .collected: .collected
        case .cancelled(_, _, let by, _): .cancelled(by: by)
        case .expired: .expired
        }
    }
}

/// `order.placed`: everything Relais keeps about an order. Encoded with the wire's field
/// names, it is also how the store keeps the order.
public struct PlacedOrder: Sendable, Equatable, Codable {
    public var orderId: String
    public var shop: Shop
    public var customer: Customer
    public var items: [Item]
    public var totalCents: Int64
    public var currency: String
    public var placedAt: Timestamp
    public var pickupDeadline: Timestamp?

    /// The shop the order is collected from.
    public struct Shop: Sendable, Equatable, Codable {
        public var id: String
        public var name: String
        public var email: String?
        public var phone: String?
        public var webhookURL: String?
        /// IANA time zone; Europe/Paris when the producer did not say.
        public var timeZone: String

        public init(id: String, name: String, email: String? = nil, phone: String? = nil, webhookURL: String? = nil,
                    timeZone: String = OrderRules.defaultTimeZone) {
            self.id = id
            self.name = name
            self.email = email
            self.phone = phone
            self.webhookURL = webhookURL
            self.timeZone = timeZone
        }

        enum CodingKeys: String, CodingKey { case id, name, email, phone, webhookURL = "webhook_url", timeZone = "timezone" }
    }

    /// Who ordered.
    public struct Customer: Sendable, Equatable, Codable {
        public var name: String
        public var email: String?
        public var phone: String?
        public var language: Language

        public init(name: String, email: String? = nil, phone: String? = nil, language: Language = .fr) {
            self.name = name
            self.email = email
            self.phone = phone
            self.language = language
        }

        enum CodingKeys: String, CodingKey { case name, email, phone, language = "locale" }
    }

    /// One line of the order.
    public struct Item: Sendable, Equatable, Codable {
        public var sku: String
        public var name: String
        public var quantity: Int64
        public var unitPriceCents: Int64

        public init(sku: String, name: String, quantity: Int64, unitPriceCents: Int64) {
            self.sku = sku
            self.name = name
            self.quantity = quantity
            self.unitPriceCents = unitPriceCents
        }

        enum CodingKeys: String, CodingKey { case sku, name, quantity, unitPriceCents = "unit_price_cents" }
    }

    public init(orderId: String, shop: Shop, customer: Customer, items: [Item], totalCents: Int64, currency: String = "EUR",
                placedAt: Timestamp, pickupDeadline: Timestamp? = nil) {
        self.orderId = orderId
        self.shop = shop
        self.customer = customer
        self.items = items
        self.totalCents = totalCents
        self.currency = currency
        self.placedAt = placedAt
        self.pickupDeadline = pickupDeadline
    }

    enum CodingKeys: String, CodingKey {
        case orderId = "order_id", shop, customer, items, totalCents = "total_cents", currency
        case placedAt = "placed_at", pickupDeadline = "pickup_deadline"
    }
}

/// The limits of the `orders` job types (docs/producers.md, "Queue `orders`"); the JSON Schemas
/// in docs/schemas state the same.
public enum OrderRules {
    /// Longest order id, shop id and SKU.
    public static let maxKeyLength = 200
    /// Longest shop, customer or item name.
    public static let maxNameLength = 200
    /// Longest e-mail address (RFC 5321's path limit).
    public static let maxEmailLength = 254
    /// Longest webhook URL.
    public static let maxURLLength = 2000
    /// Longest cancellation reason.
    public static let maxReasonLength = 500
    /// Longest IANA time zone name.
    public static let maxTimeZoneLength = 64
    /// Lines in one order.
    public static let itemCount = 1...500
    /// Units of one line.
    public static let quantity: ClosedRange<Int64> = 1...1_000_000
    /// Price of one unit, in cents.
    public static let unitPrice: ClosedRange<Int64> = 0...100_000_000
    /// An order's total, in cents.
    public static let total: ClosedRange<Int64> = 0...100_000_000_000
    /// The currencies accepted.
    public static let currencies = ["EUR"]
    /// The shop's time zone when the producer does not give one.
    public static let defaultTimeZone = "Europe/Paris"

    /// The IANA time zone names a shop may give: those this system's time zone database knows.
    public static let timeZones = Set(TimeZone.knownTimeZoneIdentifiers)

    /// Whether `text` is an E.164 phone number: `+`, then 7 to 15 digits, the first not 0.
    public static func isE164(_ text: String) -> Bool {
        let digits = text.utf8.dropFirst()
        return text.utf8.first == UInt8(ascii: "+") && (7...15).contains(digits.count)
            && digits.first != UInt8(ascii: "0") && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}

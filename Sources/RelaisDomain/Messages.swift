/// What a message is about: the outbox's `subject` and the reminders' too.
public enum MessageSubject: String, Sendable, Codable, CaseIterable {
    /// An order (and its pickup or delivery).
    case order
    /// An appointment at a shop.
    case appointment
    /// A quote asked of a shop.
    case quote
}

/// The language of a message: French unless the customer asked for English.
public enum Language: String, Sendable, Codable, CaseIterable {
    case fr, en
}

/// How a message travels (docs/producers.md, "Who is told, on which channel").
public enum Channel: String, Sendable, Codable, CaseIterable {
    case email, sms, webhook
    /// Written to the log and recorded as sent: the fallback of a channel with no configuration.
    case log
}

/// What a message says, captured when its event happened.
///
/// The outbox stores it as JSON next to the template name, and the delivery worker
/// renders it when it sends: the message tells what was true at the event, whatever
/// happened to the order since.
public struct MessageFacts: Codable, Sendable, Equatable {
    /// The order the message is about; for an appointment's or a quote's message (see
    /// `subject`), that appointment's or quote's id.
    public var orderId: String
    /// What the message is about; nil for an order (the facts of messages written before
    /// appointments and quotes existed have none).
    public var subject: MessageSubject?
    /// The delivery of the order, for the messages of the `deliveries` queue.
    public var delivery: DeliveryFacts?
    /// The appointment, for an appointment's messages.
    public var appointment: AppointmentFacts?
    /// The quote, for a quote's messages.
    public var quote: QuoteFacts?
    /// The shop's id.
    public var shopId: String
    /// The shop's name, as customers know it.
    public var shopName: String
    /// The shop's e-mail address, when the order gave one: where customers' answers go.
    public var shopEmail: String?
    /// The shop's IANA time zone: dates and times are shown in it.
    public var timeZone: String
    /// The customer's name.
    public var customerName: String
    /// The language of messages to the customer (the shop's are in French).
    public var language: Language
    /// The order's lines, with whether the shop was short of each when it was placed.
    public var items: [Item]
    /// The order's total, in cents.
    public var totalCents: Int64
    /// The currency, `EUR`.
    public var currency: String
    /// When the event happened.
    public var at: Timestamp
    /// When an uncollected order expires, if it does.
    public var pickupDeadline: Timestamp?
    /// The booked pickup slot, if any.
    public var slotStart: Timestamp?
    /// The end of the booked pickup slot, if any.
    public var slotEnd: Timestamp?
    /// Who cancelled the order, for a cancellation.
    public var cancelledBy: CancelledBy?
    /// Why, when the canceller said.
    public var cancelReason: String?

    /// One line of the order.
    public struct Item: Codable, Sendable, Equatable {
        public var sku: String
        public var name: String
        public var quantity: Int64
        public var unitPriceCents: Int64
        /// Whether the shop had fewer available than ordered when the order was placed.
        public var short: Bool

        /// Creates a line.
        public init(sku: String, name: String, quantity: Int64, unitPriceCents: Int64, short: Bool = false) {
            self.sku = sku
            self.name = name
            self.quantity = quantity
            self.unitPriceCents = unitPriceCents
            self.short = short
        }

        enum CodingKeys: String, CodingKey {
            case sku, name, quantity, unitPriceCents = "unit_price_cents", short
        }
    }

    /// Creates the facts of a message.
    public init(orderId: String, shopId: String, shopName: String, timeZone: String, customerName: String,
                language: Language, items: [Item], totalCents: Int64, currency: String, at: Timestamp,
                pickupDeadline: Timestamp? = nil, slotStart: Timestamp? = nil, slotEnd: Timestamp? = nil,
                cancelledBy: CancelledBy? = nil, cancelReason: String? = nil, shopEmail: String? = nil) {
        self.orderId = orderId
        self.shopId = shopId
        self.shopName = shopName
        self.timeZone = timeZone
        self.customerName = customerName
        self.language = language
        self.items = items
        self.totalCents = totalCents
        self.currency = currency
        self.at = at
        self.pickupDeadline = pickupDeadline
        self.slotStart = slotStart
        self.slotEnd = slotEnd
        self.cancelledBy = cancelledBy
        self.cancelReason = cancelReason
        self.shopEmail = shopEmail
    }

    enum CodingKeys: String, CodingKey {
        case orderId = "order_id", shopId = "shop_id", shopName = "shop_name", timeZone = "time_zone"
        case customerName = "customer_name", language, items, totalCents = "total_cents", currency, at
        case pickupDeadline = "pickup_deadline", slotStart = "slot_start", slotEnd = "slot_end"
        case cancelledBy = "cancelled_by", cancelReason = "cancel_reason", shopEmail = "shop_email"
        case subject, delivery, appointment, quote
    }

    /// What the message is about, an order when `subject` says nothing.
    public var about: MessageSubject { subject ?? .order }
}

extension Timestamp: Codable {
    /// Encoded as its RFC 3339 text in UTC with microseconds, which reads back exactly
    /// (UTC can move a contract date-time into 1899 or 3000: those years read back too).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Timestamp(rfc3339: text, years: Timestamp.utcYears) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an RFC 3339 date-time: \(text)")
        }
        self = value
    }
}

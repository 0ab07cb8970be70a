/// What a message of the quote family says about its quote, captured when its event
/// happened (`MessageFacts.quote`).
///
/// The common facts carry the rest: `orderId` is the quote's id, `totalCents` its amount
/// (0 before it is sent), `items` is empty.
public struct QuoteFacts: Codable, Sendable, Equatable {
    /// The quote's id.
    public var quoteId: String
    /// Where the quote stands after the event: `requested`, `sent`, `accepted`, `declined`, `expired`.
    public var status: QuoteStatus
    /// What the customer asked for, in their words.
    public var request: String
    /// When the customer would like it done, if they said.
    public var desiredDate: Timestamp?
    /// The quote's amount in cents, once sent.
    public var amountCents: Int64?
    /// The amount's currency, once sent.
    public var currency: String?
    /// The quote's lines, once sent.
    public var lines: [QuoteLine]
    /// Until when the quote can be accepted, once sent.
    public var validUntil: Timestamp?
    /// Where the customer reads and answers the quote (an http or https URL), once sent.
    public var url: String?
    /// Whether the quote replaces one sent earlier.
    public var revised: Bool
    /// The order the platform places from an accepted quote, when it said.
    public var orderId: String?
    /// Why the customer declined, when they said.
    public var declineReason: String?

    /// Creates the facts.
    public init(quoteId: String, status: QuoteStatus, request: String, desiredDate: Timestamp? = nil, amountCents: Int64? = nil,
                currency: String? = nil, lines: [QuoteLine] = [], validUntil: Timestamp? = nil, url: String? = nil,
                revised: Bool = false, orderId: String? = nil, declineReason: String? = nil) {
        self.quoteId = quoteId
        self.status = status
        self.request = request
        self.desiredDate = desiredDate
        self.amountCents = amountCents
        self.currency = currency
        self.lines = lines
        self.validUntil = validUntil
        self.url = url
        self.revised = revised
        self.orderId = orderId
        self.declineReason = declineReason
    }

    enum CodingKeys: String, CodingKey {
        case quoteId = "quote_id", status, request, desiredDate = "desired_date", amountCents = "amount_cents", currency, lines
        case validUntil = "valid_until", url, revised, orderId = "order_id", declineReason = "decline_reason"
    }
}

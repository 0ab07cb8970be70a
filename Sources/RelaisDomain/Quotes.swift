/// A job of the `quotes` queue: one event of a quote's life (docs/producers.md, "Queue `quotes`").
public enum QuoteJob: Sendable, Equatable {
    /// `quote.requested`: a customer asks a shop for a quote.
    case requested(RequestedQuote)
    /// `quote.sent`: the shop's quote, or a revision of it.
    case sent(quoteId: String, at: Timestamp, offer: QuoteOffer)
    /// `quote.accepted`, with the order the platform will place from it, when it says.
    case accepted(quoteId: String, at: Timestamp, orderId: String?)
    /// `quote.declined`, and why when the customer said.
    case declined(quoteId: String, at: Timestamp, reason: String?)
    /// `quote.expired`: the platform closed the quote unanswered.
    case expired(quoteId: String, at: Timestamp)

    /// The quote the event is about.
    public var quoteId: String {
        switch self {
        case .requested(let request): request.quoteId
        case .sent(let id, _, _), .accepted(let id, _, _), .declined(let id, _, _), .expired(let id, _): id
        }
    }

    /// When the event happened on the platform.
    public var at: Timestamp {
        switch self {
        case .requested(let request): request.at
        case .sent(_, let at, _), .accepted(_, let at, _), .declined(_, let at, _), .expired(_, let at): at
        }
    }
}

/// Where a quote stands (`relais.quote_status.status`).
public enum QuoteStatus: String, Sendable, Codable, CaseIterable {
    /// Asked of the shop, not answered by it yet.
    case requested
    /// The shop's quote is out, waiting for the customer.
    case sent
    /// The customer accepted it (final).
    case accepted
    /// The customer declined it (final).
    case declined
    /// The platform closed it unanswered (final).
    case expired

    /// Whether the quote is answered or closed: nothing changes it any more.
    public var isFinal: Bool { self == .accepted || self == .declined || self == .expired }
}

/// `quote.requested`: everything Relais keeps of the request. Encoded with the wire's
/// field names, it is how the store keeps it.
public struct RequestedQuote: Sendable, Equatable, Codable {
    /// The quote's id, the same in every event of the quote.
    public var quoteId: String
    /// When the customer asked.
    public var at: Timestamp
    /// The shop asked, read as `order.placed`'s.
    public var shop: PlacedOrder.Shop
    /// Who asks, read as `order.placed`'s.
    public var customer: PlacedOrder.Customer
    /// What the customer asks for, one line of free text.
    public var request: String
    /// When the customer would like it done, if they said.
    public var desiredDate: Timestamp?

    /// Creates a request.
    public init(quoteId: String, at: Timestamp, shop: PlacedOrder.Shop, customer: PlacedOrder.Customer, request: String,
                desiredDate: Timestamp? = nil) {
        self.quoteId = quoteId
        self.at = at
        self.shop = shop
        self.customer = customer
        self.request = request
        self.desiredDate = desiredDate
    }

    enum CodingKeys: String, CodingKey {
        case quoteId = "quote_id", at, shop, customer, request, desiredDate = "desired_date"
    }
}

/// What `quote.sent` offers: its amount, lines, validity and link.
public struct QuoteOffer: Sendable, Equatable, Codable {
    /// The quote's amount in cents, as the shop states it (not checked against the lines:
    /// a discount or a fee may make them differ).
    public var amountCents: Int64
    /// `EUR`.
    public var currency: String
    /// What the amount is made of, 1 to 100 lines.
    public var lines: [QuoteLine]
    /// Until when the customer may accept it: after `at`.
    public var validUntil: Timestamp
    /// Where the customer reads and answers it: an http or https URL without user info.
    public var url: String

    /// Creates an offer.
    public init(amountCents: Int64, currency: String = "EUR", lines: [QuoteLine], validUntil: Timestamp, url: String) {
        self.amountCents = amountCents
        self.currency = currency
        self.lines = lines
        self.validUntil = validUntil
        self.url = url
    }

    enum CodingKeys: String, CodingKey {
        case amountCents = "amount_cents", currency, lines, validUntil = "valid_until", url
    }
}

/// One line of a quote.
public struct QuoteLine: Sendable, Equatable, Codable {
    /// What the line is for.
    public var description: String
    /// How many units.
    public var quantity: Int64
    /// The price of one unit, in cents.
    public var unitPriceCents: Int64

    /// Creates a line.
    public init(description: String, quantity: Int64, unitPriceCents: Int64) {
        self.description = description
        self.quantity = quantity
        self.unitPriceCents = unitPriceCents
    }

    enum CodingKeys: String, CodingKey { case description, quantity, unitPriceCents = "unit_price_cents" }
}

/// The limits of the `quotes` job types (docs/producers.md, "Queue `quotes`"); the JSON
/// Schemas in docs/schemas state the same. Ids, names, URLs and reasons are `OrderRules`'.
public enum QuoteRules {
    /// Longest request text.
    public static let maxRequestLength = 2000
    /// Longest line description.
    public static let maxLineDescriptionLength = 500
    /// Lines in one quote.
    public static let lineCount = 1...100
    /// A quote's amount, in cents: more than nothing, at most an order's total.
    public static let amount: ClosedRange<Int64> = 1...OrderRules.total.upperBound
}

/// A quote as the store holds it.
public struct StoredQuote: Sendable, Equatable {
    /// What `quote.requested` said.
    public var request: RequestedQuote
    /// Where the quote stands.
    public var status: QuoteStatus
    /// The quote as last sent, if it was.
    public var offer: QuoteOffer?
    /// The `at` of the `quote.sent` that `offer` is: a revision applies only when later.
    public var sentAt: Timestamp?
    /// When it was accepted, declined or expired.
    public var answeredAt: Timestamp?
    /// The order placed from an accepted quote, when the platform said.
    public var orderId: String?
    /// Why it was declined, when the customer said.
    public var declineReason: String?

    /// Creates a stored quote.
    public init(request: RequestedQuote, status: QuoteStatus, offer: QuoteOffer? = nil, sentAt: Timestamp? = nil,
                answeredAt: Timestamp? = nil, orderId: String? = nil, declineReason: String? = nil) {
        self.request = request
        self.status = status
        self.offer = offer
        self.sentAt = sentAt
        self.answeredAt = answeredAt
        self.orderId = orderId
        self.declineReason = declineReason
    }

    /// The facts of a message about the quote as it stands, at `at`.
    public func facts(at: Timestamp, revised: Bool = false) -> MessageFacts {
        let shop = request.shop, customer = request.customer
        var facts = MessageFacts(orderId: request.quoteId, shopId: shop.id, shopName: shop.name, timeZone: shop.timeZone,
                                 customerName: customer.name, language: customer.language, items: [],
                                 totalCents: offer?.amountCents ?? 0, currency: offer?.currency ?? "EUR", at: at,
                                 shopEmail: shop.email)
        facts.subject = .quote
        facts.quote = QuoteFacts(quoteId: request.quoteId, status: status, request: request.request,
                                 desiredDate: request.desiredDate, amountCents: offer?.amountCents, currency: offer?.currency,
                                 lines: offer?.lines ?? [], validUntil: offer?.validUntil, url: offer?.url, revised: revised,
                                 orderId: orderId, declineReason: declineReason)
        return facts
    }

    /// The messages of `template` to the shop or the customer, on `channels` (routing as an order's).
    public func messages(_ template: MessageTemplate, facts: MessageFacts, channels: Set<Channel>) -> [OrderPlan.PlannedMessage] {
        MessageRouting.deliveries(to: template.recipient, shop: request.shop, customer: request.customer, template: template,
                                  channels: channels).map {
            OrderPlan.PlannedMessage(orderId: request.quoteId, recipient: template.recipient, channel: $0.0, destination: $0.1,
                                     template: template, facts: facts)
        }
    }
}

/// The writes that apply a batch of `quotes` jobs, computed without touching the database.
public struct QuotePlan: Sendable, Equatable {
    /// One outcome per job, in order.
    public var outcomes: [OrderJobOutcome] = []
    /// Every quote the batch created or changed, as it stands after the batch, in the
    /// order each was first changed.
    public var quotes: [StoredQuote] = []
    /// The ids of the quotes of `quotes` requested in this batch (to insert).
    public var requested: Set<ExactText> = []
    /// Every event the batch kept in a quote's history, applied or not.
    public var history: [HistoryEntry] = []
    /// The messages the events cause, one per recipient and channel.
    public var messages: [OrderPlan.PlannedMessage] = []
    /// The reminder of each sent quote, cancelled and planned again by a revision or an answer.
    public var reminders = ReminderChanges()

    /// One event in a quote's history.
    public struct HistoryEntry: Sendable, Equatable {
        /// The quote.
        public var quoteId: String
        /// The job's id.
        public var jobId: String
        /// The job's type.
        public var type: String
        /// When the event happened (its `at`).
        public var at: Timestamp
        /// Whether it changed the quote.
        public var applied: Bool
        /// Why it changed nothing, when it did not.
        public var note: String?
    }

    /// Plans `jobs` (id, type and job, in arrival order) against the `stored` quotes they
    /// name, at `now` (a reminder already due at `now` is not planned).
    ///
    /// - An event other than `quote.requested` for an unknown quote is retried, and so is
    ///   an answer (`accepted`, `declined`) to a quote not sent yet.
    /// - A second `quote.requested` is kept in the history and changes nothing.
    /// - `quote.sent` applies to a requested quote, and to a sent one when its `at` is
    ///   later than the applied one's (a revision: amount, lines, validity and reminder
    ///   replaced); an earlier one is kept in the history, not applied.
    /// - After a final state (accepted, declined, expired) every event is kept in the
    ///   history, not applied.
    public static func make(_ jobs: [(id: String, type: String, job: QuoteJob)], stored: [ExactText: StoredQuote],
                            now: Timestamp, channels: Set<Channel>, rules: ReminderRules) -> QuotePlan {
        var plan = QuotePlan()
        var quotes = stored
        var changed: [ExactText: Int] = [:]
        for (id, type, job) in jobs {
            let quoteId = job.quoteId
            let key = ExactText(quoteId)
            let decision = plan.apply(job, to: quotes[key], now: now, channels: channels, rules: rules)
            switch decision {
            case .retry(let reason):
                plan.outcomes.append(.retry(reason: reason))
                continue
            case .ignore(let reason):
                plan.history.append(HistoryEntry(quoteId: quoteId, jobId: id, type: type, at: job.at, applied: false, note: reason))
                plan.outcomes.append(.ignored(reason: reason))
                continue
            case .apply(let quote):
                if case .requested = job { plan.requested.insert(key) }
                quotes[key] = quote
                if let index = changed[key] { plan.quotes[index] = quote } else {
                    changed[key] = plan.quotes.count
                    plan.quotes.append(quote)
                }
                plan.history.append(HistoryEntry(quoteId: quoteId, jobId: id, type: type, at: job.at, applied: true, note: nil))
                plan.outcomes.append(.applied)
            }
        }
        return plan
    }

    private enum Decision {
        case apply(StoredQuote)
        case ignore(String)
        case retry(String)
    }

    /// What `job` does to `current`; the messages and reminders of an applied event are added to the plan.
    private mutating func apply(_ job: QuoteJob, to current: StoredQuote?, now: Timestamp, channels: Set<Channel>,
                                rules: ReminderRules) -> Decision {
        if case .requested(let request) = job {
            if let current { return .ignore("the quote is already \(current.status.rawValue)") }
            let quote = StoredQuote(request: request, status: .requested)
            messages += quote.messages(.quoteRequestedShop, facts: quote.facts(at: request.at), channels: channels)
            return .apply(quote)
        }
        guard var quote = current else { return .retry("the quote is not requested yet") }
        guard !quote.status.isFinal else { return .ignore("the quote is already \(quote.status.rawValue)") }
        let quoteId = quote.request.quoteId
        switch job {
        case .requested:
            preconditionFailure("handled above")
        case .sent(_, let at, let offer):
            let revised = quote.status == .sent
            if let sentAt = quote.sentAt, at <= sentAt { return .ignore("a quote.sent of a later time is already applied") }
            quote.status = .sent
            quote.offer = offer
            quote.sentAt = at
            reminders.cancel(quoteId, [.quoteExpiring])
            if let due = rules.beforeDeadline(offer.validUntil, by: rules.quoteReminderBefore, now: now,
                                              timeZone: quote.request.shop.timeZone) {
                reminders.plan(quoteId, [PlannedReminder(kind: .quoteExpiring, due: due)])
            }
            messages += quote.messages(.quoteSentCustomer, facts: quote.facts(at: at, revised: revised), channels: channels)
        case .accepted(_, let at, let orderId):
            guard quote.status == .sent else { return .retry("the quote is not sent yet") }
            quote.status = .accepted
            quote.answeredAt = at
            quote.orderId = orderId
            reminders.cancel(quoteId, [.quoteExpiring])
            messages += quote.messages(.quoteAcceptedShop, facts: quote.facts(at: at), channels: channels)
        case .declined(_, let at, let reason):
            guard quote.status == .sent else { return .retry("the quote is not sent yet") }
            quote.status = .declined
            quote.answeredAt = at
            quote.declineReason = reason
            reminders.cancel(quoteId, [.quoteExpiring])
            messages += quote.messages(.quoteDeclinedShop, facts: quote.facts(at: at), channels: channels)
        case .expired(_, let at):
            quote.status = .expired
            quote.answeredAt = at
            reminders.cancel(quoteId, [.quoteExpiring])
        }
        return .apply(quote)
    }

    /// Why a due `quote_expiring` reminder of `quote` is not sent at `now`, or nil to send it.
    ///
    /// It is skipped when the quote is gone, answered or expired (or not sent), when its
    /// validity has passed, and when it was planned for an earlier version of the quote
    /// (`due` after the current validity's end: a revision cancels and re-plans it, this
    /// only guards the reminder of a race).
    public static func reasonToSkip(_ quote: StoredQuote?, due: Timestamp, now: Timestamp) -> String? {
        guard let quote else { return "the quote no longer exists" }
        guard quote.status == .sent, let offer = quote.offer else { return "the quote is \(quote.status.rawValue)" }
        guard now < offer.validUntil else { return "too late to be useful" }
        guard due < offer.validUntil else { return "the quote was revised" }
        return nil
    }
}

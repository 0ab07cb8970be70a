import RelaisContract
import RelaisDomain
import RelaisStore

/// `quotes`: a quote's life, from requested to accepted, declined or expired. The rules are
/// `QuoteRules` and `QuotePlan`; the statements are `QuoteProcessor`'s.
extension FamilyAdapter {
    /// The `quotes` family.
    public static let quotes = FamilyAdapter(QuoteCatalog.self) { environment in
        try QuoteProcessor(conninfo: environment.databaseURL, queue: QuoteCatalog.queue, channels: environment.channels,
                           rules: environment.reminders, lockTimeout: environment.lockTimeout)
    }
}

extension QuoteProcessor: FamilyProcessor {}

/// The `quotes` queue's job types.
public enum QuoteCatalog: JobCatalog {
    /// The queue's name.
    public static let queue = "quotes"
    /// The job types of the queue.
    public static let types = ["quote.requested", "quote.sent", "quote.accepted", "quote.declined", "quote.expired"]

    private enum Keys: String, CodingKey {
        case quote_id, at, shop, customer, request, desired_date, amount_cents, currency, lines, valid_until, url, order_id, reason
    }
    private enum LineKeys: String, CodingKey { case description, quantity, unit_price_cents }

    public static func decode(type: String, data: JobData) throws -> QuoteJob {
        let c = try data.fields(keyedBy: Keys.self)
        let quoteId = try c.requiredString(.quote_id, maxLength: OrderRules.maxKeyLength)
        let at = try c.requiredTimestamp(.at)
        switch type {
        case "quote.requested":
            return .requested(RequestedQuote(
                quoteId: quoteId, at: at,
                shop: try c.requiredObject(.shop, keyedBy: ContactFields.ShopKeys.self, ContactFields.shop),
                customer: try c.requiredObject(.customer, keyedBy: ContactFields.CustomerKeys.self, ContactFields.customer),
                request: try c.requiredString(.request, maxLength: QuoteRules.maxRequestLength),
                desiredDate: try c.optionalTimestamp(.desired_date)))
        case "quote.sent":
            return .sent(quoteId: quoteId, at: at, offer: try offer(c, at: at))
        case "quote.accepted":
            return .accepted(quoteId: quoteId, at: at, orderId: try c.optionalString(.order_id, maxLength: OrderRules.maxKeyLength))
        case "quote.declined":
            return .declined(quoteId: quoteId, at: at, reason: try c.optionalString(.reason, maxLength: OrderRules.maxReasonLength))
        case "quote.expired":
            return .expired(quoteId: quoteId, at: at)
        default:
            throw JobRejection(.unknownType, field: "type", "\"\(type)\" is not a quote job type")
        }
    }

    /// `quote.sent`'s amount, lines, validity and link.
    private static func offer(_ c: JobFields<Keys>, at: Timestamp) throws -> QuoteOffer {
        let amount = try c.requiredInteger(.amount_cents, in: QuoteRules.amount)
        let currency = try c.requiredString(.currency, maxLength: 3)
        guard OrderRules.currencies.contains(currency) else {
            throw JobRejection(.invalidField, field: c.path(.currency), "must be EUR")
        }
        let lines = try c.requiredArray(.lines, count: QuoteRules.lineCount, keyedBy: LineKeys.self) { line in
            QuoteLine(description: try line.requiredString(.description, maxLength: QuoteRules.maxLineDescriptionLength),
                      quantity: try line.requiredInteger(.quantity, in: OrderRules.quantity),
                      unitPriceCents: try line.requiredInteger(.unit_price_cents, in: OrderRules.unitPrice))
        }
        let validUntil = try c.requiredTimestamp(.valid_until)
        guard validUntil > at else { throw JobRejection(.invalidField, field: c.path(.valid_until), "must be after at") }
        let url = try c.requiredString(.url, maxLength: OrderRules.maxURLLength)
        // The customer follows it from an e-mail: a web address, and one that cannot pass
        // for another site by hiding a host behind user info.
        guard WebAddress.isValid(url) else { throw JobRejection(.invalidField, field: c.path(.url), "must be an http or https URL") }
        guard !WebAddress.hasUserInfo(url) else {
            throw JobRejection(.invalidField, field: c.path(.url), "must not contain a user name or password (user:password@)")
        }
        return QuoteOffer(amountCents: amount, currency: currency, lines: lines, validUntil: validUntil, url: url)
    }
}

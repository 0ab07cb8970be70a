import Foundation
import RelaisDomain

/// The template variables and webhook data of the quote family's messages
/// (documented in docs/templates.md).
enum QuoteContext {
    /// The template variables `facts` adds, in `language` and the shop's zone.
    ///
    /// The common ones stay: `order_id` is the quote's id there and `total` its amount;
    /// `linked_order_id` is the order placed from an accepted quote.
    static func values(_ facts: QuoteFacts, timeZone: String, language: Language) -> [String: Any] {
        var values: [String: Any] = [
            "quote_id": facts.quoteId,
            "quote_status": facts.status.rawValue,
            "request": facts.request,
            "revised": facts.revised,
            "lines": facts.lines.map { line(for: $0, language: language) },
            "line_count": facts.lines.count,
            "lines_plural": facts.lines.count > 1,
        ]
        if let desired = facts.desiredDate {
            values["desired_date"] = LocalTime.day(desired, timeZone: timeZone, language: language)
        }
        if let amount = facts.amountCents { values["amount"] = Money.format(cents: amount, language: language) }
        if let validUntil = facts.validUntil {
            values["valid_until"] = LocalTime.format(validUntil, timeZone: timeZone, language: language)
            values["valid_until_day"] = LocalTime.day(validUntil, timeZone: timeZone, language: language)
        }
        // Checked as an http(s) URL without user info when the job came in; templates
        // write it escaped like every value ({{link}}), never raw.
        if let url = facts.url { values["link"] = url }
        if let order = facts.orderId { values["linked_order_id"] = order }
        if let reason = facts.declineReason?.trimmingCharacters(in: .whitespaces), !reason.isEmpty {
            values["reason"] = reason
        }
        return values
    }

    private static func line(for line: QuoteLine, language: Language) -> [String: Any] {
        // Saturating: the stored numbers are a producer's, and an absurd line must still render.
        let (product, overflow) = line.unitPriceCents.multipliedReportingOverflow(by: line.quantity)
        let total = overflow ? (line.unitPriceCents < 0) != (line.quantity < 0) ? Int64.min : Int64.max : product
        return [
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": Money.format(cents: line.unitPriceCents, language: language),
            "line_total": Money.format(cents: total, language: language),
        ]
    }

    /// The `data` of the webhook event a shop receives for `facts`: keys sorted, optional
    /// ones left out when they have no value.
    static func webhookData(_ facts: MessageFacts, _ quote: QuoteFacts) -> some Encodable {
        Payload(quoteId: quote.quoteId, shopId: facts.shopId, status: quote.status.rawValue, customer: .init(name: facts.customerName),
                request: quote.request, desiredDate: quote.desiredDate?.description, amountCents: quote.amountCents,
                currency: quote.currency, validUntil: quote.validUntil?.description, url: quote.url, orderId: quote.orderId,
                reason: quote.declineReason)
    }

    private struct Payload: Encodable {
        let quoteId: String
        let shopId: String
        let status: String
        let customer: Customer
        let request: String
        let desiredDate: String?
        let amountCents: Int64?
        let currency: String?
        let validUntil: String?
        let url: String?
        let orderId: String?
        let reason: String?

        enum CodingKeys: String, CodingKey {
            case quoteId = "quote_id", shopId = "shop_id", status, customer, request, desiredDate = "desired_date"
            case amountCents = "amount_cents", currency, validUntil = "valid_until", url, orderId = "order_id", reason
        }
    }

    private struct Customer: Encodable {
        let name: String
    }
}

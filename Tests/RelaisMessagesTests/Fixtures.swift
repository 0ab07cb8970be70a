import Foundation
import RelaisDomain
@testable import RelaisMessages

/// Realistic facts and the shipped templates, shared by the tests.
enum Fixtures {
    /// The repository's `templates/` folder.
    static let shippedFolder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("templates").path

    /// The shipped templates, loaded once.
    static let shipped: TemplateSet = try! TemplateSet(shipped: shippedFolder, overrides: nil)

    /// 2026-11-28T17:00:00Z: Saturday 28 November, 18:00 in Paris (winter, +01:00).
    static let winterEvening = Timestamp(rfc3339: "2026-11-28T17:00:00Z")!
    /// 2026-07-04T16:00:00Z: Saturday 4 July, 18:00 in Paris (summer, +02:00).
    static let summerEvening = Timestamp(rfc3339: "2026-07-04T16:00:00Z")!

    /// An order of a typical shop, in Paris, one line short of stock when `shortage`.
    static func facts(language: Language = .fr, shortage: Bool = false, at: Timestamp = winterEvening,
                      timeZone: String = "Europe/Paris", cancelledBy: CancelledBy? = nil,
                      reason: String? = nil, customerName: String = "Marie Dupont",
                      shopName: String = "Boulangerie Martin") -> MessageFacts {
        MessageFacts(
            orderId: "CMD-2026-0042", shopId: "shop-17", shopName: shopName, timeZone: timeZone,
            customerName: customerName, language: language,
            items: [
                .init(sku: "TARTE-POM", name: "Tarte aux pommes", quantity: 1, unitPriceCents: 1250),
                .init(sku: "BAG-TRAD", name: "Baguette tradition", quantity: 3, unitPriceCents: 130, short: shortage),
            ],
            totalCents: 1640, currency: "EUR", at: at,
            pickupDeadline: Timestamp(microseconds: at.microseconds + 86_400_000_000),
            slotStart: at, slotEnd: Timestamp(microseconds: at.microseconds + 1_800_000_000),
            cancelledBy: cancelledBy, cancelReason: reason)
    }

    /// The facts of `template`'s message: an order's (`facts`), or for a quote's message
    /// that quote's (id `CMD-2026-0042` too), sent, with two lines, valid until two days
    /// after `at`, declined for `reason`.
    static func facts(for template: String, language: Language = .fr, shortage: Bool = false,
                      cancelledBy: CancelledBy? = nil, reason: String? = nil) -> MessageFacts {
        var facts = facts(language: language, shortage: shortage, cancelledBy: cancelledBy, reason: reason)
        guard template.hasPrefix("quote-") else { return facts }
        facts.items = []
        facts.pickupDeadline = nil
        facts.slotStart = nil
        facts.slotEnd = nil
        facts.cancelledBy = nil
        facts.cancelReason = nil
        facts.subject = .quote
        facts.quote = QuoteFacts(
            quoteId: facts.orderId, status: .sent, request: "Un gâteau d'anniversaire pour 12 personnes",
            desiredDate: Timestamp(microseconds: facts.at.microseconds + 7 * 86_400_000_000), amountCents: 4500,
            currency: "EUR",
            lines: [.init(description: "Gâteau 12 parts", quantity: 1, unitPriceCents: 3900),
                    .init(description: "Bougies", quantity: 12, unitPriceCents: 50)],
            validUntil: Timestamp(microseconds: facts.at.microseconds + 2 * 86_400_000_000),
            url: "https://devis.example/q/42", orderId: "CMD-2026-0100", declineReason: reason)
        facts.totalCents = 4500
        return facts
    }

    /// Who receives a message, from its name.
    static func recipient(of template: String) -> Recipient {
        MessageTemplate(rawValue: template)!.recipient
    }

    /// A fresh empty folder.
    static func temporaryFolder() -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("relais-templates-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Writes `text` at `relative` under `folder`, creating the language folder.
    static func write(_ text: String, to relative: String, in folder: String) {
        let url = URL(fileURLWithPath: folder).appendingPathComponent(relative)
        try! FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try! Data(text.utf8).write(to: url)
    }
}

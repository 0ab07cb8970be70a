import Foundation
import Testing
import RelaisDomain
@testable import RelaisMessages

/// The quote family's template variables and webhook data (`QuoteContext`).
@Suite struct QuoteMessageTests {
    let renderer = MessageRenderer(templates: Fixtures.shipped)

    @Test func aSentQuoteReadsItsAmountLinesValidityAndLinkInTheShopsZone() throws {
        let mail = try renderer.render("quote-sent-customer", channel: .email, recipient: .customer,
                                       facts: Fixtures.facts(for: "quote-sent-customer"))
        #expect(mail.subject == "Votre devis CMD-2026-0042 de Boulangerie Martin : 45,00 €")
        #expect(mail.text.contains("- 12 × Bougies : 0,50 € l’unité, soit 6,00 €"), "\(mail.text)")
        #expect(mail.text.contains("Valable jusqu’au : lundi 30 novembre à 18h00"), "Paris time: \(mail.text)")
        #expect(mail.text.contains("https://devis.example/q/42"))
        let english = try renderer.render("quote-sent-customer", channel: .email, recipient: .customer,
                                          facts: Fixtures.facts(for: "quote-sent-customer", language: .en))
        #expect(english.subject == "Your quote CMD-2026-0042 from Boulangerie Martin: €45.00")
        var martinique = Fixtures.facts(for: "quote-sent-customer")
        martinique.timeZone = "America/Martinique"
        let there = try renderer.render("quote-sent-customer", channel: .email, recipient: .customer, facts: martinique)
        #expect(there.text.contains("Valable jusqu’au : lundi 30 novembre à 13h00"), "the shop's zone: \(there.text)")
    }

    @Test func aRevisedQuoteSaysSo() throws {
        var facts = Fixtures.facts(for: "quote-sent-customer")
        facts.quote?.revised = true
        let mail = try renderer.render("quote-sent-customer", channel: .email, recipient: .customer, facts: facts)
        #expect(mail.subject == "Devis CMD-2026-0042 mis à jour de Boulangerie Martin : 45,00 €")
        #expect(mail.text.contains("il remplace le précédent"), "\(mail.text)")
    }

    @Test func theLinkIsEscapedInTheHTMLPart() throws {
        var facts = Fixtures.facts(for: "quote-sent-customer")
        // WebAddress.isValid takes it (no whitespace, a host): only the escaping keeps it an attribute.
        facts.quote?.url = #"https://devis.example/q?a=1&b="><script>alert(1)</script>"#
        #expect(WebAddress.isValid(facts.quote!.url!))
        let mail = try renderer.render("quote-sent-customer", channel: .email, recipient: .customer, facts: facts)
        let html = try #require(mail.html)
        #expect(!html.contains("<script>"), "\(html)")
        #expect(html.contains(#"href="https://devis.example/q?a=1&amp;b=&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;""#), "\(html)")
    }

    @Test func anAbsurdLineSaturatesInsteadOfCrashing() {
        let values = QuoteContext.values(QuoteFacts(quoteId: "q", status: .sent, request: "r", amountCents: 1,
                                                    lines: [QuoteLine(description: "x", quantity: .max, unitPriceCents: 3),
                                                            QuoteLine(description: "y", quantity: .max, unitPriceCents: -3)]),
                                         timeZone: "Europe/Paris", language: .en)
        let lines = values["lines"] as? [[String: Any]]
        #expect(lines?[0]["line_total"] as? String == Money.format(cents: .max, language: .en))
        #expect(lines?[1]["line_total"] as? String == Money.format(cents: .min, language: .en))
    }

    @Test func theShopsWebhookCarriesTheQuoteWithSortedKeys() throws {
        var facts = Fixtures.facts(for: "quote-accepted-shop")
        facts.quote?.status = .accepted
        let body = WebhookEvent.body(template: "quote-accepted-shop", facts: facts)
        let text = String(decoding: body, as: UTF8.self)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(json["type"] as? String == "quote.accepted")
        let data = try #require(json["data"] as? [String: Any])
        #expect(data["quote_id"] as? String == "CMD-2026-0042" && data["shop_id"] as? String == "shop-17")
        #expect(data["status"] as? String == "accepted" && data["order_id"] as? String == "CMD-2026-0100")
        #expect(data["amount_cents"] as? Int == 4500 && data["currency"] as? String == "EUR")
        #expect(data["valid_until"] as? String == "2026-11-30T17:00:00.000000Z")
        #expect((data["customer"] as? [String: Any])?["name"] as? String == "Marie Dupont")
        #expect(data["items"] == nil, "a quote's event carries no order lines")
        let keys = ["amount_cents", "currency", "customer", "desired_date", "order_id", "quote_id", "request", "shop_id",
                    "status", "url", "valid_until"]
        let positions = keys.compactMap { text.range(of: "\"\($0)\":")?.lowerBound }
        #expect(positions.count == keys.count && positions == positions.sorted(), "keys sorted: \(text)")
    }
}

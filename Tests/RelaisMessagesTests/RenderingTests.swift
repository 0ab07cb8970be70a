import Foundation
import Testing
import RelaisDomain
@testable import RelaisMessages

@Suite struct RenderingTests {
    let renderer = MessageRenderer(templates: Fixtures.shipped)

    static let everyMessage: [(String, Language)] = MessageTemplate.allCases.flatMap { template in
        Language.allCases.map { (template.rawValue, $0) }
    }

    @Test("every template renders as an e-mail with realistic facts", arguments: everyMessage)
    func emailRenders(name: String, language: Language) throws {
        let facts = Fixtures.facts(for: name, language: language, cancelledBy: .platform, reason: "Fermeture exceptionnelle")
        let message = try renderer.render(name, channel: .email, recipient: Fixtures.recipient(of: name), facts: facts)
        let subject = try #require(message.subject)
        #expect(!subject.isEmpty && !subject.contains("\n"))
        #expect(message.text.contains("CMD-2026-0042") || subject.contains("CMD-2026-0042"))
        #expect(!message.text.contains("{{") && !message.text.contains("&"), "\(message.text)")
        #expect(message.text.hasSuffix("\n") && !message.text.hasSuffix("\n\n"))
        #expect(!message.text.contains("\n\n\n"), "at most one blank line in a row")
        #expect(message.smsSegments == nil)
        let french = Fixtures.recipient(of: name) == .shop || language == .fr
        #expect(message.text.contains(french ? "Bonjour" : "Hello"), "\(message.text)")
    }

    @Test("every SMS fits one GSM-7 segment with typical values", arguments: everyMessage)
    func smsFitsOneSegment(name: String, language: Language) throws {
        let facts = Fixtures.facts(for: name, language: language, shortage: true, cancelledBy: .shop, reason: "Rupture de farine")
        let message = try renderer.render(name, channel: .sms, recipient: Fixtures.recipient(of: name), facts: facts)
        #expect(message.subject == nil)
        #expect(SMSText.isGSM7(message.text), "\(message.text)")
        #expect(message.smsSegments == 1, "\(message.text.unicodeScalars.count) characters: \(message.text)")
        #expect(message.text.contains("CMD-2026-0042"))
        #expect(!message.text.contains("{{") && !message.text.contains("\n"))
    }

    @Test func frenchEmailShowsEurosAndParisTime() throws {
        let winter = try renderer.render("order-placed-customer", channel: .email, recipient: .customer,
                                         facts: Fixtures.facts(at: Fixtures.winterEvening))
        #expect(winter.text.contains("1 × Tarte aux pommes : 12,50 €"), "\(winter.text)")
        #expect(winter.text.contains("Total : 16,40 €"))
        #expect(winter.text.contains("passée le samedi 28 novembre à 18h00"), "\(winter.text)")
        let summer = try renderer.render("order-placed-customer", channel: .email, recipient: .customer,
                                         facts: Fixtures.facts(at: Fixtures.summerEvening))
        #expect(summer.text.contains("passée le samedi 4 juillet à 18h00"), "\(summer.text)")
    }

    @Test("the shop's zone is the one applied", arguments: [
        ("America/Martinique", "samedi 28 novembre à 13h00"),
        ("Europe/London", "samedi 28 novembre à 17h00"),
    ])
    func shopZoneApplies(zone: String, expected: String) throws {
        let message = try renderer.render("pickup-evening-customer", channel: .email, recipient: .customer,
                                          facts: Fixtures.facts(timeZone: zone))
        #expect(message.subject?.hasSuffix(expected) == true, "\(message.subject ?? "")")
    }

    @Test func englishCustomerReadsEnglish() throws {
        let message = try renderer.render("order-ready-customer", channel: .email, recipient: .customer,
                                          facts: Fixtures.facts(language: .en))
        #expect(message.subject == "Your order CMD-2026-0042 is ready at Boulangerie Martin")
        #expect(message.text.contains("Total: €16.40"))
        #expect(message.text.contains("Your pickup slot: Saturday 28 November, 18:00–18:30."), "\(message.text)")
        #expect(message.text.contains("until Sunday 29 November at 18:00"))
    }

    @Test func optionalSectionsFollowTheFacts() throws {
        let booked = try renderer.render("order-ready-customer", channel: .email, recipient: .customer, facts: Fixtures.facts())
        #expect(booked.text.contains("Votre créneau de retrait : samedi 28 novembre, de 18h00 à 18h30.\n"), "\(booked.text)")
        #expect(booked.text.contains("gardée jusqu’au dimanche 29 novembre à 18h00"))
        var facts = Fixtures.facts()
        facts.slotStart = nil
        facts.slotEnd = nil
        facts.pickupDeadline = nil
        let open = try renderer.render("order-ready-customer", channel: .email, recipient: .customer, facts: facts)
        #expect(!open.text.contains("créneau") && !open.text.contains("gardée"), "\(open.text)")
        let sms = try renderer.render("order-ready-customer", channel: .sms, recipient: .customer, facts: facts)
        #expect(sms.text == "Boulangerie Martin : votre commande CMD-2026-0042 est disponible au retrait. Donnez ce numéro en magasin.")
    }

    @Test func shopsReadFrenchWhateverTheCustomerSpeaks() throws {
        let message = try renderer.render("order-placed-shop", channel: .email, recipient: .shop,
                                          facts: Fixtures.facts(language: .en))
        #expect(message.text.contains("Total : 16,40 €"), "\(message.text)")
    }

    @Test func shortageSectionOnlyWithShortages() throws {
        let short = try renderer.render("order-placed-shop", channel: .email, recipient: .shop,
                                        facts: Fixtures.facts(shortage: true))
        #expect(short.subject == "Nouvelle commande CMD-2026-0042 de Marie Dupont (stock insuffisant)")
        #expect(short.text.contains("Rupture / stock insuffisant\n"), "\(short.text)")
        #expect(short.text.contains("ne couvre pas cet article, réservé malgré tout pour cette commande :\n- 3 × Baguette tradition (réf. BAG-TRAD)\n"),
                "\(short.text)")
        #expect(short.text.contains("- 1 × Tarte aux pommes (réf. TARTE-POM) : 12,50 € l’unité, soit 12,50 €"))
        #expect(short.text.contains("- 3 × Baguette tradition (réf. BAG-TRAD) : 1,30 € l’unité, soit 3,90 €"))
        let shortSMS = try renderer.render("order-placed-shop", channel: .sms, recipient: .shop,
                                           facts: Fixtures.facts(shortage: true))
        #expect(shortSMS.text.contains("Stock insuffisant pour 1 article."), "\(shortSMS.text)")

        let full = try renderer.render("order-placed-shop", channel: .email, recipient: .shop, facts: Fixtures.facts())
        #expect(full.subject == "Nouvelle commande CMD-2026-0042 de Marie Dupont")
        #expect(!full.text.contains("Rupture") && !full.text.contains("insuffisant"), "\(full.text)")
        let fullSMS = try renderer.render("order-placed-shop", channel: .sms, recipient: .shop, facts: Fixtures.facts())
        #expect(fullSMS.text == "Nouvelle commande CMD-2026-0042 de Marie Dupont : 4 articles, 16,40 €. Merci de la confirmer.")
    }

    @Test func cancellationSaysWhoAndWhy() throws {
        let byCustomer = try renderer.render("order-cancelled-shop", channel: .email, recipient: .shop,
                                             facts: Fixtures.facts(cancelledBy: .customer, reason: "Erreur de commande"))
        #expect(byCustomer.text.contains("Marie Dupont a annulé sa commande CMD-2026-0042.\nMotif : Erreur de commande\n"),
                "\(byCustomer.text)")
        #expect(!byCustomer.text.contains("plateforme"))
        let byShop = try renderer.render("order-cancelled-customer", channel: .email, recipient: .customer,
                                         facts: Fixtures.facts(cancelledBy: .shop))
        #expect(byShop.text.contains("Boulangerie Martin a dû annuler votre commande"))
        #expect(!byShop.text.contains("Motif"), "no reason given, no reason line")
    }

    @Test func plainTextIsNotHTMLEscaped() throws {
        let message = try renderer.render("order-confirmed-customer", channel: .email, recipient: .customer,
                                          facts: Fixtures.facts(customerName: "Anne \"Nanou\" <Roux>",
                                                                shopName: "L'Épi & Co"))
        #expect(message.subject == "L'Épi & Co a confirmé votre commande CMD-2026-0042")
        #expect(message.text.contains("Bonjour Anne \"Nanou\" <Roux>,"), "\(message.text)")
    }

    @Test func subjectStaysOnOneLine() throws {
        let message = try renderer.render("order-placed-shop", channel: .email, recipient: .shop,
                                          facts: Fixtures.facts(customerName: "Eve\r\nBcc: x@example.com"))
        #expect(message.subject == "Nouvelle commande CMD-2026-0042 de Eve Bcc: x@example.com")
    }

    @Test func smsUsesLookAlikesOnlyWhenTheySaveSegments() throws {
        let long = try renderer.render("order-ready-customer", channel: .sms, recipient: .customer,
                                       facts: Fixtures.facts(customerName: "François", shopName: "Côté Fleurs"))
        #expect(long.text.hasPrefix("Coté Fleurs : votre commande"), "\(long.text)")
        #expect(long.smsSegments == 1)
        let folder = Fixtures.temporaryFolder()
        Fixtures.write("{{shop_name}} : {{slot_time}}", to: "fr/pickup-soon-customer.sms.mustache", in: folder)
        let shortRenderer = MessageRenderer(templates: try TemplateSet(shipped: Fixtures.shippedFolder, overrides: folder))
        let short = try shortRenderer.render("pickup-soon-customer", channel: .sms, recipient: .customer,
                                             facts: Fixtures.facts(shopName: "Côté Fleurs"))
        #expect(short.text == "Côté Fleurs : 18h00", "one UCS-2 segment either way: keep the real spelling")
        #expect(short.smsSegments == 1)
    }

    @Test func logChannelIsTheEmailRendering() throws {
        let facts = Fixtures.facts()
        let log = try renderer.render("order-ready-customer", channel: .log, recipient: .customer, facts: facts)
        let email = try renderer.render("order-ready-customer", channel: .email, recipient: .customer, facts: facts)
        #expect(log.subject == email.subject && log.text == email.text)
        #expect(log.html == nil && email.html != nil, "a log line carries no HTML")
    }

    @Test func webhookChannelIsNotRendered() {
        #expect(throws: TemplateError.self) {
            try renderer.render("order-placed-shop", channel: .webhook, recipient: .shop, facts: Fixtures.facts())
        }
    }

    @Test func unknownTemplateThrows() {
        let error = #expect(throws: TemplateError.self) {
            try renderer.render("order-teleported-customer", channel: .email, recipient: .customer, facts: Fixtures.facts())
        }
        #expect(error?.description.contains("fr/order-teleported-customer.email.mustache") == true)
    }
}

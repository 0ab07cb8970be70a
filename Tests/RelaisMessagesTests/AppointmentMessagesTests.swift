import Foundation
import Testing
import RelaisDomain
@testable import RelaisMessages

/// An appointment's facts as the plan captures them: a haircut in Paris on Saturday 28
/// November at 10:00, moved from Friday 27 at 15:00, cancelled by `cancelledBy`.
private func appointmentFacts(language: Language = .fr, cancelledBy: CancelledBy? = .platform, reason: String? = "Fermeture exceptionnelle",
                              address: String? = "12 rue des Lilas, 75011 Paris") -> MessageFacts {
    var facts = MessageFacts(orderId: "RDV-2026-0042", shopId: "shop-17", shopName: "Salon Léa", timeZone: "Europe/Paris",
                             customerName: "Marie Dupont", language: language, items: [], totalCents: 0, currency: "EUR",
                             at: Timestamp(rfc3339: "2026-11-20T09:00:00Z")!, cancelledBy: cancelledBy, cancelReason: reason,
                             shopEmail: "salon@example.fr")
    facts.subject = .appointment
    facts.appointment = AppointmentFacts(service: "Coupe et brushing", durationMinutes: 45, start: Timestamp(rfc3339: "2026-11-28T09:00:00Z")!,
                                         end: Timestamp(rfc3339: "2026-11-28T09:45:00Z")!, address: address, status: .booked,
                                         previousStart: Timestamp(rfc3339: "2026-11-27T14:00:00Z")!,
                                         previousEnd: Timestamp(rfc3339: "2026-11-27T14:45:00Z")!)
    return facts
}

@Suite struct AppointmentMessagesTests {
    let renderer = MessageRenderer(templates: Fixtures.shipped)

    static let everyAppointmentMessage: [(String, Language)] = MessageTemplate.allCases
        .filter { $0.rawValue.hasPrefix("appointment-") }
        .flatMap { template in Language.allCases.map { (template.rawValue, $0) } }

    @Test("every appointment e-mail names the service and the time in the shop's zone", arguments: everyAppointmentMessage)
    func emailRenders(name: String, language: Language) throws {
        let recipient = Fixtures.recipient(of: name)
        let message = try renderer.render(name, channel: .email, recipient: recipient, facts: appointmentFacts(language: language))
        let text = (message.subject ?? "") + "\n" + message.text
        #expect(text.contains("RDV-2026-0042"), "\(text)")
        #expect(text.contains("Coupe et brushing"), "\(text)")
        let french = recipient == .shop || language == .fr
        #expect(text.contains(french ? "10h00" : "10:00"), "10:00 in Paris, not 09:00 UTC: \(text)")
        #expect(!text.contains("{{") && !message.text.contains("\n\n\n"), "\(text)")
        #expect(message.html?.contains("RDV-2026-0042") == true)
    }

    @Test("every appointment SMS fits one GSM-7 segment", arguments: everyAppointmentMessage)
    func smsFitsOneSegment(name: String, language: Language) throws {
        let message = try renderer.render(name, channel: .sms, recipient: Fixtures.recipient(of: name),
                                          facts: appointmentFacts(language: language, cancelledBy: .shop, reason: "Salon fermé"))
        #expect(SMSText.isGSM7(message.text), "\(message.text)")
        #expect(message.smsSegments == 1, "\(message.text.unicodeScalars.count) characters: \(message.text)")
        #expect(message.text.contains("RDV-2026-0042"))
    }

    @Test func theReschedulingNamesTheOldAndNewTimes() throws {
        let fr = try renderer.render("appointment-rescheduled-customer", channel: .email, recipient: .customer, facts: appointmentFacts())
        #expect(fr.text.contains("prévu vendredi 27 novembre à 15h00, est déplacé"), "\(fr.text)")
        #expect(fr.text.contains("Nouvel horaire : samedi 28 novembre, de 10h00 à 10h45"), "\(fr.text)")
        let en = try renderer.render("appointment-rescheduled-customer", channel: .sms, recipient: .customer,
                                     facts: appointmentFacts(language: .en))
        #expect(en.text == "Salon Léa: your appointment RDV-2026-0042 has moved to Saturday 28 November at 10:00 (was Friday 27 November at 15:00).",
                "\(en.text)")
    }

    @Test func theCancellationSaysWhoAndWhy() throws {
        let byShop = try renderer.render("appointment-cancelled-customer", channel: .email, recipient: .customer,
                                         facts: appointmentFacts(cancelledBy: .shop, reason: "Salon fermé"))
        #expect(byShop.text.contains("Salon Léa a dû annuler votre rendez-vous du samedi 28 novembre à 10h00 (Coupe et brushing)."), "\(byShop.text)")
        #expect(byShop.text.contains("Motif : Salon fermé"), "\(byShop.text)")
        let toShop = try renderer.render("appointment-cancelled-shop", channel: .email, recipient: .shop,
                                         facts: appointmentFacts(cancelledBy: .customer, reason: nil))
        #expect(toShop.text.contains("Marie Dupont a annulé son rendez-vous RDV-2026-0042"), "\(toShop.text)")
        #expect(!toShop.text.contains("Motif"), "\(toShop.text)")
    }

    @Test func theWebhookCarriesTheAppointmentWithSortedKeys() throws {
        var facts = appointmentFacts(cancelledBy: .customer, reason: "Empêchement")
        facts.appointment?.status = .cancelled
        let body = String(decoding: WebhookEvent.body(template: "appointment-cancelled-shop", facts: facts), as: UTF8.self)
        #expect(body == #"{"data":{"address":"12 rue des Lilas, 75011 Paris","appointment_id":"RDV-2026-0042","cancelled_by":"customer","#
                + #""customer":{"name":"Marie Dupont"},"duration_minutes":45,"end":"2026-11-28T09:45:00.000000Z","reason":"Empêchement","#
                + #""service":"Coupe et brushing","shop_id":"shop-17","start":"2026-11-28T09:00:00.000000Z","status":"cancelled"},"#
                + #""timestamp":"2026-11-20T09:00:00.000000Z","type":"appointment.cancelled"}"#, "\(body)")
        let booked = String(decoding: WebhookEvent.body(template: "appointment-booked-shop", facts: appointmentFacts(cancelledBy: nil, reason: nil,
                                                                                                                  address: nil)), as: UTF8.self)
        #expect(booked.contains(#""type":"appointment.booked""#) && !booked.contains("cancelled_by") && !booked.contains("address"), "\(booked)")
    }
}

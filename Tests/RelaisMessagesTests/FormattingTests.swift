import Testing
import RelaisDomain
import RelaisMessages

@Suite struct MoneyTests {
    @Test("euros in French and English", arguments: [
        (Int64(0), "0,00 €", "€0.00"),
        (5, "0,05 €", "€0.05"),
        (1250, "12,50 €", "€12.50"),
        (100_000, "1 000,00 €", "€1,000.00"),
        (123_456_789, "1 234 567,89 €", "€1,234,567.89"),
        (-1250, "-12,50 €", "-€12.50"),
    ])
    func format(cents: Int64, french: String, english: String) {
        #expect(Money.format(cents: cents, language: .fr) == french)
        #expect(Money.format(cents: cents, language: .en) == english)
    }

    @Test func frenchAmountsStayGSM7() {
        #expect(SMSText.isGSM7(Money.format(cents: 123_456_789, language: .fr)))
    }
}

@Suite struct LocalTimeTests {
    @Test("the shop's zone applies, with summer time", arguments: [
        ("2026-11-28T17:00:00Z", "Europe/Paris", "samedi 28 novembre à 18h00", "Saturday 28 November at 18:00"),
        ("2026-07-04T16:00:00Z", "Europe/Paris", "samedi 4 juillet à 18h00", "Saturday 4 July at 18:00"),
        ("2026-11-28T22:00:00Z", "America/Martinique", "samedi 28 novembre à 18h00", "Saturday 28 November at 18:00"),
        ("2026-11-28T17:00:00Z", "Europe/London", "samedi 28 novembre à 17h00", "Saturday 28 November at 17:00"),
        ("2026-11-28T23:30:00Z", "Europe/Paris", "dimanche 29 novembre à 0h30", "Sunday 29 November at 00:30"),
        ("2026-11-01T08:05:00Z", "Europe/Paris", "dimanche 1er novembre à 9h05", "Sunday 1 November at 09:05"),
        ("2026-11-28T17:00:00Z", "Mars/Olympus_Mons", "samedi 28 novembre à 18h00", "Saturday 28 November at 18:00"),
    ])
    func format(instant: String, zone: String, french: String, english: String) {
        let t = Timestamp(rfc3339: instant)!
        #expect(LocalTime.format(t, timeZone: zone, language: .fr) == french)
        #expect(LocalTime.format(t, timeZone: zone, language: .en) == english)
    }

    @Test func dayAndTimeAlone() {
        let t = Timestamp(rfc3339: "2026-08-06T07:30:00Z")!
        #expect(LocalTime.day(t, timeZone: "Europe/Paris", language: .fr) == "jeudi 6 août")
        #expect(LocalTime.time(t, timeZone: "Europe/Paris", language: .fr) == "9h30")
        #expect(LocalTime.day(t, timeZone: "Europe/Paris", language: .en) == "Thursday 6 August")
        #expect(LocalTime.time(t, timeZone: "Europe/Paris", language: .en) == "09:30")
    }
}

import RelaisDomain
import Testing

/// An instant from a fixture; the offsets say which side of a DST change it is on.
private func at(_ text: String) throws -> Timestamp {
    try #require(Timestamp(rfc3339: text), "fixture is not RFC 3339: \(text)")
}

private let paris = "Europe/Paris"
private let noQuietHours = QuietHours(start: LocalClockTime(hour: 0, minute: 0), end: LocalClockTime(hour: 0, minute: 0))

/// The reminder time rules (`ReminderRules`), one nested suite per rule.
@Suite("Reminder rules")
struct ReminderRulesTests {}

extension ReminderRulesTests {
    @Suite("configuration")
    struct Configuration {
        @Test func defaultsAreTheContracts() {
            let rules = ReminderRules()
            #expect(rules.quietHours == QuietHours(start: LocalClockTime(hour: 20, minute: 0), end: LocalClockTime(hour: 8, minute: 0)))
            #expect(rules.quietHours == .default)
            #expect(rules.uncollectedDelay == .seconds(86_400))
            #expect(rules.eveningTime == LocalClockTime(hour: 18, minute: 0))
            #expect(rules.soonBefore == .seconds(3600))
        }

        @Test func eachKindHasItsTemplate() {
            #expect(ReminderKind.uncollected.template == .pickupReminderCustomer)
            #expect(ReminderKind.evening.template == .pickupEveningCustomer)
            #expect(ReminderKind.soon.template == .pickupSoonCustomer)
            #expect(ReminderKind.relayHold.template == .deliveryHoldReminderCustomer)
            #expect(ReminderKind.allCases.filter { $0.subject == .order } == [.uncollected, .evening, .soon, .relayHold])
            #expect(ReminderKind.quoteExpiring.template == .quoteReminderCustomer && ReminderKind.quoteExpiring.subject == .quote)
            #expect(ReminderKind.allCases.filter { $0.subject == .appointment } == [.appointmentEvening, .appointmentSoon])
            #expect(ReminderKind(rawValue: "evening") == .evening)
        }

        @Test(arguments: [
            ("20:00-08:00", 20, 0, 8, 0),
            ("12:00-14:00", 12, 0, 14, 0),
            ("8:30-7:05", 8, 30, 7, 5),
            ("23:59-00:00", 23, 59, 0, 0),
        ])
        func quietHoursParse(text: String, startHour: Int, startMinute: Int, endHour: Int, endMinute: Int) throws {
            let parsed = try #require(QuietHours(parsing: text), "\(text) should parse")
            #expect(parsed.start == LocalClockTime(hour: startHour, minute: startMinute))
            #expect(parsed.end == LocalClockTime(hour: endHour, minute: endMinute))
            #expect(QuietHours(parsing: parsed.description) == parsed, "description \(parsed.description) should read back")
        }

        @Test(arguments: ["", "20:00", "20:00-", "24:00-08:00", "20:60-08:00", "20:00–08:00", " 20:00-08:00",
                          "20:00-08:00-09:00", "+1:00-08:00", "20:0-08:00", "ab:cd-ef:gh", "120:00-08:00"])
        func malformedQuietHoursAreRefused(text: String) {
            #expect(QuietHours(parsing: text) == nil, "\"\(text)\" should not parse")
        }

        @Test func sameStartAndEndMeansNoQuietHours() throws {
            let none = try #require(QuietHours(parsing: "00:00-00:00"))
            #expect(none.isEmpty)
            #expect(!QuietHours.default.isEmpty)
            #expect(QuietHours.default.description == "20:00-08:00")
        }

        @Test func clockTimesOrderWithinTheDay() {
            #expect(LocalClockTime(hour: 8, minute: 0) < LocalClockTime(hour: 20, minute: 0))
            #expect(LocalClockTime(hour: 7, minute: 59) < LocalClockTime(hour: 8, minute: 0))
            #expect(LocalClockTime(parsing: "07:05") == LocalClockTime(hour: 7, minute: 5))
            #expect(LocalClockTime(hour: 7, minute: 5).description == "07:05")
        }
    }
}

extension ReminderRulesTests {
    @Suite("quiet hours")
    struct QuietHoursMoves {
        let rules = ReminderRules()

        @Test(arguments: [
            // Due → may go out, Paris in summer (CEST).
            ("2026-06-10T22:30:00+02:00", "2026-06-11T08:00:00+02:00"),
            ("2026-06-10T06:00:00+02:00", "2026-06-10T08:00:00+02:00"),
            ("2026-06-10T00:00:00+02:00", "2026-06-10T08:00:00+02:00"),
            ("2026-06-10T23:59:59+02:00", "2026-06-11T08:00:00+02:00"),
            ("2026-06-10T20:00:00+02:00", "2026-06-11T08:00:00+02:00"),
            ("2026-06-10T07:59:59.999999+02:00", "2026-06-10T08:00:00+02:00"),
            ("2026-06-10T19:59:00+02:00", "2026-06-10T19:59:00+02:00"),
            ("2026-06-10T19:59:59.999999+02:00", "2026-06-10T19:59:59.999999+02:00"),
            ("2026-06-10T08:00:00+02:00", "2026-06-10T08:00:00+02:00"),
            ("2026-06-10T12:00:00+02:00", "2026-06-10T12:00:00+02:00"),
            // Winter (CET), and the turn of a month and of a year.
            ("2026-01-15T21:00:00+01:00", "2026-01-16T08:00:00+01:00"),
            ("2026-04-30T23:00:00+02:00", "2026-05-01T08:00:00+02:00"),
            ("2026-12-31T20:00:00+01:00", "2027-01-01T08:00:00+01:00"),
        ])
        func quietHoursSpanningMidnight(due: String, expected: String) throws {
            let moved = rules.outsideQuietHours(try at(due), timeZone: paris, latest: nil)
            #expect(moved == (try at(expected)), "due \(due) should go out at \(expected)")
        }

        @Test(arguments: [
            ("2026-06-10T13:00:00+02:00", "2026-06-10T14:00:00+02:00"),
            ("2026-06-10T12:00:00+02:00", "2026-06-10T14:00:00+02:00"),
            ("2026-06-10T11:59:00+02:00", "2026-06-10T11:59:00+02:00"),
            ("2026-06-10T14:00:00+02:00", "2026-06-10T14:00:00+02:00"),
            ("2026-06-10T22:30:00+02:00", "2026-06-10T22:30:00+02:00"),
            ("2026-06-10T03:00:00+02:00", "2026-06-10T03:00:00+02:00"),
        ])
        func quietHoursWithinOneDay(due: String, expected: String) throws {
            let lunch = ReminderRules(quietHours: QuietHours(start: LocalClockTime(hour: 12, minute: 0), end: LocalClockTime(hour: 14, minute: 0)))
            let moved = lunch.outsideQuietHours(try at(due), timeZone: paris, latest: nil)
            #expect(moved == (try at(expected)), "due \(due) should go out at \(expected) with 12:00–14:00 quiet")
        }

        @Test func noQuietHoursMoveNothing() throws {
            let none = ReminderRules(quietHours: noQuietHours)
            for text in ["2026-06-10T23:00:00+02:00", "2026-06-10T00:00:00+02:00", "2026-06-10T04:00:00+02:00"] {
                #expect(none.outsideQuietHours(try at(text), timeZone: paris, latest: nil) == (try at(text)), "\(text) moved")
            }
        }

        @Test func movedTimeAtOrAfterTheLatestIsDropped() throws {
            let due = try at("2026-06-10T22:30:00+02:00")
            #expect(rules.outsideQuietHours(due, timeZone: paris, latest: try at("2026-06-11T07:00:00+02:00")) == nil)
            #expect(rules.outsideQuietHours(due, timeZone: paris, latest: try at("2026-06-11T08:00:00+02:00")) == nil)
            #expect(rules.outsideQuietHours(due, timeZone: paris, latest: try at("2026-06-11T08:00:01+02:00"))
                == (try at("2026-06-11T08:00:00+02:00")))
            let outside = try at("2026-06-10T15:00:00+02:00")
            #expect(rules.outsideQuietHours(outside, timeZone: paris, latest: outside) == nil, "due at the latest is too late")
            #expect(rules.outsideQuietHours(outside, timeZone: paris, latest: try at("2026-06-10T15:00:01+02:00")) == outside)
        }

        @Test(arguments: [
            // Last Sunday of March: 02:00 CET becomes 03:00 CEST; the end is 08:00 CEST that day.
            ("2026-03-29T01:00:00+01:00", "2026-03-29T08:00:00+02:00"),
            ("2026-03-28T22:30:00+01:00", "2026-03-29T08:00:00+02:00"),
            ("2026-03-29T03:30:00+02:00", "2026-03-29T08:00:00+02:00"),
            ("2026-03-29T19:59:00+02:00", "2026-03-29T19:59:00+02:00"),
            ("2026-03-29T20:00:00+02:00", "2026-03-30T08:00:00+02:00"),
            // Last Sunday of October: 03:00 CEST becomes 02:00 CET; the end is 08:00 CET that day.
            ("2026-10-24T21:00:00+02:00", "2026-10-25T08:00:00+01:00"),
            ("2026-10-25T01:00:00+02:00", "2026-10-25T08:00:00+01:00"),
            ("2026-10-25T02:30:00+02:00", "2026-10-25T08:00:00+01:00"),
            ("2026-10-25T02:30:00+01:00", "2026-10-25T08:00:00+01:00"),
            ("2026-10-25T08:00:00+01:00", "2026-10-25T08:00:00+01:00"),
            ("2026-10-25T20:00:00+01:00", "2026-10-26T08:00:00+01:00"),
        ])
        func endOfQuietHoursOnADstChangeDayIsEightLocal(due: String, expected: String) throws {
            let moved = rules.outsideQuietHours(try at(due), timeZone: paris, latest: nil)
            #expect(moved == (try at(expected)), "due \(due) should go out at \(expected)")
        }

        @Test func anotherZoneUsesItsOwnClock() throws {
            // Martinique is UTC−4 all year: 19:59 there is 01:59 in Paris, yet outside its quiet hours.
            let martinique = "America/Martinique"
            #expect(rules.outsideQuietHours(try at("2026-03-29T19:59:00-04:00"), timeZone: martinique, latest: nil)
                == (try at("2026-03-29T19:59:00-04:00")))
            #expect(rules.outsideQuietHours(try at("2026-03-29T22:30:00-04:00"), timeZone: martinique, latest: nil)
                == (try at("2026-03-30T08:00:00-04:00")))
            #expect(rules.outsideQuietHours(try at("2026-10-25T06:00:00-04:00"), timeZone: martinique, latest: nil)
                == (try at("2026-10-25T08:00:00-04:00")))
        }

        @Test func aucklandEndsQuietHoursAtEightOnItsOwnDstDay() throws {
            // 27 September 2026: 02:00 NZST (+12) becomes 03:00 NZDT (+13).
            #expect(rules.outsideQuietHours(try at("2026-09-26T22:00:00+12:00"), timeZone: "Pacific/Auckland", latest: nil)
                == (try at("2026-09-27T08:00:00+13:00")))
            // 5 April 2026: 03:00 NZDT becomes 02:00 NZST.
            #expect(rules.outsideQuietHours(try at("2026-04-05T02:30:00+12:00"), timeZone: "Pacific/Auckland", latest: nil)
                == (try at("2026-04-05T08:00:00+12:00")))
        }

        @Test(arguments: ["Mars/Olympus_Mons", "", "Europe/Pariss"])
        func unknownZoneFallsBackToParis(zone: String) throws {
            // 19:30 UTC is outside quiet hours in UTC but 21:30 in Paris.
            #expect(rules.outsideQuietHours(try at("2026-06-10T19:30:00Z"), timeZone: zone, latest: nil)
                == (try at("2026-06-11T08:00:00+02:00")), "\"\(zone)\" should be read as Europe/Paris")
        }
    }
}

extension ReminderRulesTests {
    @Suite("ready orders")
    struct ReadyOrders {
        let rules = ReminderRules()

        @Test func remindsADayAfterReady() throws {
            let planned = rules.forReady(readyAt: try at("2026-06-10T10:00:00+02:00"), pickupDeadline: nil, timeZone: paris)
            #expect(planned == [PlannedReminder(kind: .uncollected, due: try at("2026-06-11T10:00:00+02:00"))])
            #expect(planned.first?.kind.template == .pickupReminderCustomer)
        }

        @Test func reminderInQuietHoursWaitsForMorning() throws {
            let planned = rules.forReady(readyAt: try at("2026-06-10T21:00:00+02:00"), pickupDeadline: nil, timeZone: paris)
            #expect(planned == [PlannedReminder(kind: .uncollected, due: try at("2026-06-12T08:00:00+02:00"))])
        }

        @Test func delayIsElapsedTimeAcrossADstChange() throws {
            // 24 real hours after 10:00 CET on the eve of the March change is 11:00 CEST.
            let planned = rules.forReady(readyAt: try at("2026-03-28T10:00:00+01:00"), pickupDeadline: nil, timeZone: paris)
            #expect(planned == [PlannedReminder(kind: .uncollected, due: try at("2026-03-29T11:00:00+02:00"))])
        }

        @Test func shortenedDelayStillRespectsQuietHours() throws {
            let quick = ReminderRules(uncollectedDelay: .seconds(30))
            #expect(quick.forReady(readyAt: try at("2026-06-10T19:59:00+02:00"), pickupDeadline: nil, timeZone: paris)
                == [PlannedReminder(kind: .uncollected, due: try at("2026-06-10T19:59:30+02:00"))])
            #expect(quick.forReady(readyAt: try at("2026-06-10T19:59:45+02:00"), pickupDeadline: nil, timeZone: paris)
                == [PlannedReminder(kind: .uncollected, due: try at("2026-06-11T08:00:00+02:00"))])
            let subSecond = ReminderRules(uncollectedDelay: .milliseconds(1500))
            #expect(subSecond.forReady(readyAt: try at("2026-06-10T10:00:00+02:00"), pickupDeadline: nil, timeZone: paris)
                == [PlannedReminder(kind: .uncollected, due: try at("2026-06-10T10:00:01.5+02:00"))])
        }

        @Test func reminderAtOrAfterTheDeadlineIsDropped() throws {
            let ready = try at("2026-06-10T10:00:00+02:00")
            #expect(rules.forReady(readyAt: ready, pickupDeadline: try at("2026-06-11T09:00:00+02:00"), timeZone: paris) == [])
            #expect(rules.forReady(readyAt: ready, pickupDeadline: try at("2026-06-11T10:00:00+02:00"), timeZone: paris) == [])
            #expect(rules.forReady(readyAt: ready, pickupDeadline: try at("2026-06-11T10:00:01+02:00"), timeZone: paris)
                == [PlannedReminder(kind: .uncollected, due: try at("2026-06-11T10:00:00+02:00"))])
        }

        @Test func reminderMovedPastTheDeadlineIsDropped() throws {
            // Due 21:00, inside quiet hours; the order expires at 07:00 before they end.
            let ready = try at("2026-06-10T21:00:00+02:00")
            #expect(rules.forReady(readyAt: ready, pickupDeadline: try at("2026-06-12T07:00:00+02:00"), timeZone: paris) == [])
            #expect(rules.forReady(readyAt: ready, pickupDeadline: try at("2026-06-12T09:00:00+02:00"), timeZone: paris)
                == [PlannedReminder(kind: .uncollected, due: try at("2026-06-12T08:00:00+02:00"))])
        }
    }
}

extension ReminderRulesTests {
    @Suite("bookings")
    struct Bookings {
        let rules = ReminderRules()
        let noQuiet = ReminderRules(quietHours: noQuietHours)

        @Test func bookingDaysAheadGetsTheEveningAndTheHourBefore() throws {
            let planned = rules.forBooking(slotStart: try at("2026-06-10T10:00:00+02:00"), slotEnd: try at("2026-06-10T10:30:00+02:00"),
                                           now: try at("2026-06-08T12:00:00+02:00"), timeZone: paris)
            #expect(planned == [PlannedReminder(kind: .evening, due: try at("2026-06-09T18:00:00+02:00")),
                                PlannedReminder(kind: .soon, due: try at("2026-06-10T09:00:00+02:00"))])
        }

        @Test func bookingLessThanADayAheadGetsNoEveningReminder() throws {
            let slot = try at("2026-06-10T10:00:00+02:00"), end = try at("2026-06-10T11:00:00+02:00")
            let hourBefore = [PlannedReminder(kind: .soon, due: try at("2026-06-10T09:00:00+02:00"))]
            #expect(rules.forBooking(slotStart: slot, slotEnd: end, now: try at("2026-06-09T12:00:00+02:00"), timeZone: paris) == hourBefore)
            // Exactly 24 h is not more than a day.
            #expect(rules.forBooking(slotStart: slot, slotEnd: end, now: try at("2026-06-09T10:00:00+02:00"), timeZone: paris) == hourBefore)
            let justOver = rules.forBooking(slotStart: slot, slotEnd: end, now: try at("2026-06-09T09:59:59+02:00"), timeZone: paris)
            #expect(justOver.map(\.kind) == [.evening, .soon])
        }

        @Test func bookingHalfAnHourAheadGetsNoReminders() throws {
            #expect(rules.forBooking(slotStart: try at("2026-06-10T10:00:00+02:00"), slotEnd: try at("2026-06-10T10:30:00+02:00"),
                                     now: try at("2026-06-10T09:30:00+02:00"), timeZone: paris) == [])
            // Due exactly now is already stale.
            #expect(rules.forBooking(slotStart: try at("2026-06-10T10:00:00+02:00"), slotEnd: try at("2026-06-10T10:30:00+02:00"),
                                     now: try at("2026-06-10T09:00:00+02:00"), timeZone: paris) == [])
        }

        @Test func slotAlreadyStartedGetsNoReminders() throws {
            #expect(rules.forBooking(slotStart: try at("2026-06-10T10:00:00+02:00"), slotEnd: try at("2026-06-10T10:30:00+02:00"),
                                     now: try at("2026-06-10T10:15:00+02:00"), timeZone: paris) == [])
        }

        @Test func eveningAlreadyPastIsDropped() throws {
            // Booked at 18:30 for 19:00 the next day: more than a day away, but 18:00 today is gone.
            let planned = rules.forBooking(slotStart: try at("2026-06-10T19:00:00+02:00"), slotEnd: try at("2026-06-10T19:30:00+02:00"),
                                           now: try at("2026-06-09T18:30:00+02:00"), timeZone: paris)
            #expect(planned == [PlannedReminder(kind: .soon, due: try at("2026-06-10T18:00:00+02:00"))])
        }

        @Test func hourBeforeInQuietHoursMovesToTheirEnd() throws {
            let planned = rules.forBooking(slotStart: try at("2026-06-10T08:30:00+02:00"), slotEnd: try at("2026-06-10T09:00:00+02:00"),
                                           now: try at("2026-06-08T12:00:00+02:00"), timeZone: paris)
            #expect(planned == [PlannedReminder(kind: .evening, due: try at("2026-06-09T18:00:00+02:00")),
                                PlannedReminder(kind: .soon, due: try at("2026-06-10T08:00:00+02:00"))])
        }

        @Test func hourBeforeMovedToTheSlotStartIsDropped() throws {
            for slot in ["2026-06-10T08:00:00+02:00", "2026-06-10T00:30:00+02:00", "2026-06-10T07:00:00+02:00"] {
                let planned = rules.forBooking(slotStart: try at(slot), slotEnd: try at(slot), now: try at("2026-06-08T12:00:00+02:00"), timeZone: paris)
                #expect(planned == [PlannedReminder(kind: .evening, due: try at("2026-06-09T18:00:00+02:00"))], "slot \(slot)")
            }
        }

        @Test func eveningTimeInQuietHoursMovesAndRemindersComeInOrder() throws {
            let late = ReminderRules(eveningTime: LocalClockTime(hour: 21, minute: 0))
            let planned = late.forBooking(slotStart: try at("2026-06-10T10:00:00+02:00"), slotEnd: try at("2026-06-10T10:30:00+02:00"),
                                          now: try at("2026-06-08T12:00:00+02:00"), timeZone: paris)
            #expect(planned == [PlannedReminder(kind: .evening, due: try at("2026-06-10T08:00:00+02:00")),
                                PlannedReminder(kind: .soon, due: try at("2026-06-10T09:00:00+02:00"))])
        }

        @Test func soonBeforeIsConfigurable() throws {
            let halfHour = ReminderRules(soonBefore: .seconds(1800))
            let planned = halfHour.forBooking(slotStart: try at("2026-06-10T10:00:00+02:00"), slotEnd: try at("2026-06-10T10:30:00+02:00"),
                                              now: try at("2026-06-10T09:00:00+02:00"), timeZone: paris)
            #expect(planned == [PlannedReminder(kind: .soon, due: try at("2026-06-10T09:30:00+02:00"))])
        }

        @Test func hourBeforeASlotAfterTheSkippedHourIsOneRealHour() throws {
            // 29 March 2026, 03:30 CEST = 01:30 UTC; an hour earlier is 00:30 UTC = 01:30 CET, not "02:30".
            let slot = try at("2026-03-29T03:30:00+02:00")
            let planned = noQuiet.forBooking(slotStart: slot, slotEnd: try at("2026-03-29T04:00:00+02:00"),
                                             now: try at("2026-03-27T12:00:00+01:00"), timeZone: paris)
            #expect(planned == [PlannedReminder(kind: .evening, due: try at("2026-03-28T18:00:00+01:00")),
                                PlannedReminder(kind: .soon, due: try at("2026-03-29T00:30:00Z"))])
            #expect(planned.last?.due == (try at("2026-03-29T01:30:00+01:00")))
            #expect(planned.last.map { slot.microseconds - $0.due.microseconds } == 3_600_000_000)
            // With the default quiet hours, 01:30 moves to 08:00 CEST, after the slot: dropped.
            let quiet = rules.forBooking(slotStart: slot, slotEnd: try at("2026-03-29T04:00:00+02:00"),
                                         now: try at("2026-03-27T12:00:00+01:00"), timeZone: paris)
            #expect(quiet == [PlannedReminder(kind: .evening, due: try at("2026-03-28T18:00:00+01:00"))])
        }

        @Test func slotsInTheRepeatedHourAreEachRemindedOneRealHourBefore() throws {
            // 25 October 2026: 02:30 happens twice, at 00:30 UTC (CEST) and at 01:30 UTC (CET).
            let now = try at("2026-10-20T12:00:00+02:00")
            let first = try at("2026-10-25T02:30:00+02:00"), second = try at("2026-10-25T02:30:00+01:00")
            let evening = PlannedReminder(kind: .evening, due: try at("2026-10-24T18:00:00+02:00"))
            let plannedFirst = noQuiet.forBooking(slotStart: first, slotEnd: first, now: now, timeZone: paris)
            let plannedSecond = noQuiet.forBooking(slotStart: second, slotEnd: second, now: now, timeZone: paris)
            #expect(plannedFirst == [evening, PlannedReminder(kind: .soon, due: try at("2026-10-25T01:30:00+02:00"))])
            #expect(plannedSecond == [evening, PlannedReminder(kind: .soon, due: try at("2026-10-25T02:30:00+02:00"))])
            #expect(plannedFirst.last.map { first.microseconds - $0.due.microseconds } == 3_600_000_000)
            #expect(plannedSecond.last.map { second.microseconds - $0.due.microseconds } == 3_600_000_000)
        }

        @Test(arguments: [
            // Slot → its evening-before reminder, at 18:00 on the clock of the day before.
            ("2026-03-29T10:00:00+02:00", "2026-03-28T18:00:00+01:00"),
            ("2026-03-30T10:00:00+02:00", "2026-03-29T18:00:00+02:00"),
            ("2026-03-30T00:30:00+02:00", "2026-03-29T18:00:00+02:00"),
            ("2026-10-25T10:00:00+01:00", "2026-10-24T18:00:00+02:00"),
            ("2026-10-26T10:00:00+01:00", "2026-10-25T18:00:00+01:00"),
            ("2026-10-26T00:15:00+01:00", "2026-10-25T18:00:00+01:00"),
            ("2026-03-01T10:00:00+01:00", "2026-02-28T18:00:00+01:00"),
        ])
        func eveningBeforeIsSixOnTheEvesClock(slot: String, evening: String) throws {
            let start = try at(slot)
            let planned = rules.forBooking(slotStart: start, slotEnd: start, now: try at("2026-02-01T12:00:00+01:00"), timeZone: paris)
            #expect(planned.first == PlannedReminder(kind: .evening, due: try at(evening)), "slot \(slot)")
        }

        @Test func bookingInMartiniqueUsesItsClock() throws {
            let planned = rules.forBooking(slotStart: try at("2026-06-10T10:00:00-04:00"), slotEnd: try at("2026-06-10T10:30:00-04:00"),
                                           now: try at("2026-06-08T10:00:00-04:00"), timeZone: "America/Martinique")
            #expect(planned == [PlannedReminder(kind: .evening, due: try at("2026-06-09T18:00:00-04:00")),
                                PlannedReminder(kind: .soon, due: try at("2026-06-10T09:00:00-04:00"))])
        }

        @Test func bookingInAucklandAcrossItsDstChange() throws {
            // 27 September 2026 is Auckland's 23-hour day; a slot the next morning.
            let planned = rules.forBooking(slotStart: try at("2026-09-28T10:00:00+13:00"), slotEnd: try at("2026-09-28T10:30:00+13:00"),
                                           now: try at("2026-09-20T10:00:00+12:00"), timeZone: "Pacific/Auckland")
            #expect(planned == [PlannedReminder(kind: .evening, due: try at("2026-09-27T18:00:00+13:00")),
                                PlannedReminder(kind: .soon, due: try at("2026-09-28T09:00:00+13:00"))])
        }
    }
}

extension ReminderRulesTests {
    @Suite("stale reminders")
    struct StaleReminders {
        let rules = ReminderRules()
        let slot = Timestamp(rfc3339: "2026-06-10T10:00:00+02:00")!
        let deadline = Timestamp(rfc3339: "2026-06-12T18:00:00+02:00")!

        @Test func uncollectedIsUsefulHoursLateWhileTheOrderCanBeCollected() throws {
            let late = try at("2026-06-11T16:00:00+02:00")
            #expect(rules.isStillUseful(.uncollected, now: late, slotStart: nil, pickupDeadline: deadline))
            #expect(rules.isStillUseful(.uncollected, now: late, slotStart: nil, pickupDeadline: nil))
            // A missed slot leaves the order waiting: that is what the reminder is for.
            #expect(rules.isStillUseful(.uncollected, now: late, slotStart: slot, pickupDeadline: deadline))
        }

        @Test func nothingIsUsefulOnceTheDeadlinePassed() {
            for kind in ReminderKind.allCases {
                #expect(!rules.isStillUseful(kind, now: deadline, slotStart: nil, pickupDeadline: deadline), "\(kind) at the deadline")
                #expect(!rules.isStillUseful(kind, now: Timestamp(microseconds: deadline.microseconds + 1), slotStart: slot,
                                             pickupDeadline: deadline), "\(kind) after the deadline")
            }
            let earlySlotLateDeadline = Timestamp(rfc3339: "2026-06-09T12:00:00+02:00")!
            #expect(!rules.isStillUseful(.soon, now: earlySlotLateDeadline, slotStart: slot, pickupDeadline: earlySlotLateDeadline))
        }

        @Test func soonIsUsefulUntilTheSlotStarts() throws {
            #expect(rules.isStillUseful(.soon, now: try at("2026-06-10T09:00:00+02:00"), slotStart: slot, pickupDeadline: deadline))
            #expect(rules.isStillUseful(.soon, now: try at("2026-06-10T09:59:59+02:00"), slotStart: slot, pickupDeadline: nil))
            #expect(!rules.isStillUseful(.soon, now: slot, slotStart: slot, pickupDeadline: deadline))
            #expect(!rules.isStillUseful(.soon, now: try at("2026-06-10T13:00:00+02:00"), slotStart: slot, pickupDeadline: deadline))
            #expect(!rules.isStillUseful(.soon, now: try at("2026-06-10T09:00:00+02:00"), slotStart: nil, pickupDeadline: deadline))
        }

        @Test func eveningIsUsefulUntilTheHourBeforeTakesOver() throws {
            #expect(rules.isStillUseful(.evening, now: try at("2026-06-09T18:00:00+02:00"), slotStart: slot, pickupDeadline: deadline))
            // Hours late, after a night of downtime, it still names the slot's day and time.
            #expect(rules.isStillUseful(.evening, now: try at("2026-06-10T08:59:59+02:00"), slotStart: slot, pickupDeadline: nil))
            #expect(!rules.isStillUseful(.evening, now: try at("2026-06-10T09:00:00+02:00"), slotStart: slot, pickupDeadline: deadline))
            #expect(!rules.isStillUseful(.evening, now: try at("2026-06-10T09:30:00+02:00"), slotStart: slot, pickupDeadline: deadline))
            #expect(!rules.isStillUseful(.evening, now: try at("2026-06-10T11:00:00+02:00"), slotStart: slot, pickupDeadline: deadline))
            #expect(!rules.isStillUseful(.evening, now: try at("2026-06-09T18:00:00+02:00"), slotStart: nil, pickupDeadline: deadline))
        }

        @Test func eveningCutOffFollowsSoonBefore() throws {
            let halfHour = ReminderRules(soonBefore: .seconds(1800))
            #expect(halfHour.isStillUseful(.evening, now: try at("2026-06-10T09:15:00+02:00"), slotStart: slot, pickupDeadline: nil))
            #expect(!halfHour.isStillUseful(.evening, now: try at("2026-06-10T09:30:00+02:00"), slotStart: slot, pickupDeadline: nil))
        }
    }
}

import Foundation

/// A time of day on a shop's wall clock, to the minute.
public struct LocalClockTime: Sendable, Equatable, Comparable, CustomStringConvertible {
    /// The hour, 0–23.
    public let hour: Int
    /// The minute, 0–59.
    public let minute: Int

    /// Creates a time of day; `hour` must be 0–23 and `minute` 0–59 (use `init?(parsing:)` for text from configuration).
    public init(hour: Int, minute: Int) {
        precondition((0...23).contains(hour) && (0...59).contains(minute), "LocalClockTime out of range: \(hour):\(minute)")
        self.hour = hour
        self.minute = minute
    }

    /// Parses `HH:MM` (`08:00`, `8:00`, `23:59`); nil for anything else.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...2).contains(parts[0].count), parts[1].count == 2,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let hour = Int(parts[0]), let minute = Int(parts[1]), (0...23).contains(hour), (0...59).contains(minute)
        else { return nil }
        self.init(hour: hour, minute: minute)
    }

    /// Minutes since midnight.
    public var minutesSinceMidnight: Int { hour * 60 + minute }

    /// `HH:MM`.
    public var description: String {
        (hour < 10 ? "0" : "") + String(hour) + ":" + (minute < 10 ? "0" : "") + String(minute)
    }

    public static func < (a: LocalClockTime, b: LocalClockTime) -> Bool { a.minutesSinceMidnight < b.minutesSinceMidnight }
}

/// The part of each day, in shop local time, when no reminder goes out: `start` is inside, `end` is not.
///
/// `start > end` spans midnight (20:00–08:00: from 20:00 to 08:00 the next morning);
/// `start < end` is within one day (12:00–14:00); `start == end` means no quiet hours.
public struct QuietHours: Sendable, Equatable, CustomStringConvertible {
    /// When the quiet hours begin, inclusive.
    public var start: LocalClockTime
    /// When they end, exclusive: a reminder may go out at this time.
    public var end: LocalClockTime

    /// 20:00–08:00, the contract's default.
    public static let `default` = QuietHours(start: LocalClockTime(hour: 20, minute: 0), end: LocalClockTime(hour: 8, minute: 0))

    /// Creates quiet hours from `start` (inclusive) to `end` (exclusive).
    public init(start: LocalClockTime, end: LocalClockTime) {
        self.start = start
        self.end = end
    }

    /// Parses `HH:MM-HH:MM` (`20:00-08:00`); nil for anything else. `00:00-00:00` is no quiet hours.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = LocalClockTime(parsing: String(parts[0])),
              let end = LocalClockTime(parsing: String(parts[1]))
        else { return nil }
        self.init(start: start, end: end)
    }

    /// Whether there are no quiet hours at all (`start == end`).
    public var isEmpty: Bool { start == end }

    /// `HH:MM-HH:MM`, as `init?(parsing:)` reads it.
    public var description: String { "\(start)-\(end)" }
}

/// The reminders a customer gets about a pickup or an appointment.
public enum ReminderKind: String, Sendable, CaseIterable, Codable {
    /// A ready order is still not collected after the reminder delay.
    case uncollected
    /// The evening before a booked slot.
    case evening
    /// Shortly (one hour by default) before a booked slot.
    case soon
    /// Before a relay point sends a waiting parcel back (`holdReminderBefore` ahead of its `hold_until`).
    case relayHold = "relay_hold"
    /// An unanswered quote stops being valid soon (`quoteReminderBefore` before it does).
    case quoteExpiring = "quote_expiring"
    /// The evening before an appointment (`ReminderRules.forBooking`'s evening one).
    case appointmentEvening = "appointment_evening"
    /// Shortly before an appointment (`ReminderRules.forBooking`'s soon one).
    case appointmentSoon = "appointment_soon"

    /// The message template the reminder is sent with.
    public var template: MessageTemplate {
        switch self {
        case .uncollected: .pickupReminderCustomer
        case .evening: .pickupEveningCustomer
        case .soon: .pickupSoonCustomer
        case .relayHold: .deliveryHoldReminderCustomer
        case .quoteExpiring: .quoteReminderCustomer
        case .appointmentEvening: .appointmentEveningCustomer
        case .appointmentSoon: .appointmentSoonCustomer
        }
    }

    /// What the reminder is about: the scheduler hands it to that family's `ReminderSource`.
    public var subject: MessageSubject {
        switch self {
        case .uncollected, .evening, .soon, .relayHold: .order
        case .quoteExpiring: .quote
        case .appointmentEvening, .appointmentSoon: .appointment
        }
    }
}

/// A reminder to send, and when.
public struct PlannedReminder: Sendable, Equatable {
    /// Which reminder.
    public let kind: ReminderKind
    /// When it goes out: already outside quiet hours.
    public let due: Timestamp

    /// Creates a planned reminder.
    public init(kind: ReminderKind, due: Timestamp) {
        self.kind = kind
        self.due = due
    }
}

/// When pickup reminders go out (docs/producers.md, "Queue `orders`" `order.ready`, "Queue `pickups`").
///
/// Pure: every instant comes in as an argument, nothing reads the clock. Wall-clock
/// arithmetic (the evening before, the end of quiet hours) is done on the shop's
/// calendar, so that it stays right on the 23- and 25-hour days of DST changes; delays
/// (`uncollectedDelay`, `soonBefore`) are elapsed time, so "one hour before" is always
/// one real hour. An unknown time zone is read as `OrderRules.defaultTimeZone`.
public struct ReminderRules: Sendable, Equatable {
    /// When no reminder goes out, in shop time; 20:00–08:00 by default.
    public var quietHours: QuietHours
    /// How long after `order.ready` an uncollected order is reminded of, in elapsed time; 24 h by default.
    public var uncollectedDelay: Duration
    /// The shop time of the evening-before reminder; 18:00 by default.
    public var eveningTime: LocalClockTime
    /// How long before the slot starts the last reminder goes out, in elapsed time; one hour by default.
    public var soonBefore: Duration
    /// How long before a relay point sends a parcel back its customer is reminded, in elapsed time; 24 h by default.
    public var holdReminderBefore: Duration
    /// How long before a quote stops being valid an unanswered one is reminded of, in elapsed time; 48 h by default.
    public var quoteReminderBefore: Duration

    /// Creates the rules; the defaults are the contract's.
    public init(quietHours: QuietHours = .default, uncollectedDelay: Duration = .seconds(86_400),
                eveningTime: LocalClockTime = LocalClockTime(hour: 18, minute: 0), soonBefore: Duration = .seconds(3600),
                holdReminderBefore: Duration = .seconds(86_400), quoteReminderBefore: Duration = .seconds(172_800)) {
        self.quietHours = quietHours
        self.uncollectedDelay = uncollectedDelay
        self.eveningTime = eveningTime
        self.soonBefore = soonBefore
        self.holdReminderBefore = holdReminderBefore
        self.quoteReminderBefore = quoteReminderBefore
    }

    /// The one reminder of something that ends at `deadline` (a relay point's hold, a
    /// quote's validity), planned at `now`: due `before` (elapsed time) ahead of it, moved
    /// to the end of quiet hours in the shop's zone when it falls inside them; nil when
    /// that is not after `now` (too short a wait to remind of) or not before `deadline`.
    public func beforeDeadline(_ deadline: Timestamp, by before: Duration, now: Timestamp, timeZone: String) -> Timestamp? {
        let due = Self.instant(deadline, plus: .zero - before)
        guard due > now, let sendAt = outsideQuietHours(due, timeZone: timeZone, latest: deadline) else { return nil }
        return sendAt
    }

    /// The "still not collected" reminder of an order that became ready at `readyAt`: none or one.
    ///
    /// Due `uncollectedDelay` after `readyAt` (elapsed time: across a DST change, 24 h after
    /// 10:00 is 11:00 or 09:00 on the wall clock), moved to the end of quiet hours when it
    /// falls inside them, and dropped when that is at or after `pickupDeadline`: the order
    /// expires then, and the customer is told so instead.
    public func forReady(readyAt: Timestamp, pickupDeadline: Timestamp?, timeZone: String) -> [PlannedReminder] {
        let due = Self.instant(readyAt, plus: uncollectedDelay)
        guard let sendAt = outsideQuietHours(due, timeZone: timeZone, latest: pickupDeadline) else { return [] }
        return [PlannedReminder(kind: .uncollected, due: sendAt)]
    }

    /// The reminders of a slot booked at `now`, in the order they go out: none, one or two.
    ///
    /// - The evening one, at `eveningTime` on the shop's calendar day before the slot's day,
    ///   only when `slotStart` is more than 24 h (elapsed) after `now`.
    /// - The soon one, `soonBefore` before `slotStart`.
    ///
    /// Each is dropped when it is due at or before `now` (a booking never brings a stale
    /// reminder), moved to the end of quiet hours when it falls inside them, and dropped
    /// when that is at or after `slotStart`. Reminders are anchored to the slot's start;
    /// `slotEnd` moves none of them, and a slot already started gets none.
    public func forBooking(slotStart: Timestamp, slotEnd: Timestamp, now: Timestamp, timeZone: String) -> [PlannedReminder] {
        guard slotStart > now else { return [] }
        var planned: [PlannedReminder] = []
        if slotStart.microseconds - now.microseconds > ReminderRules.microseconds(.seconds(86_400)) {
            let calendar = ReminderCalendar(timeZone: timeZone)
            let eveBefore = calendar.day(of: slotStart).adding(days: -1, in: calendar)
            if let due = calendar.instant(on: eveBefore, at: eveningTime), due > now,
               let sendAt = outsideQuietHours(due, timeZone: timeZone, latest: slotStart) {
                planned.append(PlannedReminder(kind: .evening, due: sendAt))
            }
        }
        let soon = Self.instant(slotStart, plus: .zero - soonBefore)
        if soon > now, let sendAt = outsideQuietHours(soon, timeZone: timeZone, latest: slotStart) {
            planned.append(PlannedReminder(kind: .soon, due: sendAt))
        }
        return planned.sorted { $0.due < $1.due }
    }

    /// When a reminder due at `due` may go out: `due` itself outside quiet hours, else the end
    /// of the quiet hours it falls in (the first local `quietHours.end` after `due`); nil
    /// when that is at or after `latest`.
    ///
    /// On a DST change day the end is the local time on that day's clock (08:00 CEST on the
    /// last Sunday of March, 08:00 CET on the last Sunday of October). A quiet-hours bound
    /// that the change skips (02:30 on the March change day) is read as Foundation's
    /// `Calendar` reads it, and a repeated one as its first occurrence.
    public func outsideQuietHours(_ due: Timestamp, timeZone: String, latest: Timestamp?) -> Timestamp? {
        var sendAt = due
        if !quietHours.isEmpty {
            let calendar = ReminderCalendar(timeZone: timeZone)
            // The quiet period that could hold `due` is the one ending next; `due` is in it
            // when that period began at or before `due`.
            if let end = calendar.first(quietHours.end, after: due),
               let start = calendar.last(quietHours.start, before: end), start <= due {
                sendAt = end
            }
        }
        if let latest, sendAt >= latest { return nil }
        return sendAt
    }

    /// Whether a reminder the scheduler reaches at `now` (late, after downtime, or on time)
    /// should still be sent.
    ///
    /// - Never once the order's `pickupDeadline` has passed (`pickupDeadline <= now`): it
    ///   has expired, and the customer is told that instead.
    /// - `uncollected`: useful however late, while the order can still be collected. A booked
    ///   slot does not make it stale: a customer who let the slot pass with the order still
    ///   waiting is exactly who it is for (pass `slotStart` or not, it is not read).
    /// - `soon` (and `appointmentSoon`, with the appointment's start as `slotStart`): useful
    ///   until the slot starts (`slotStart <= now` is stale); none without a slot.
    /// - `evening` (and `appointmentEvening`): useful until `slotStart − soonBefore`, when the one-hour-before reminder
    ///   takes over and two reminders together would be noise; none without a slot. Its
    ///   templates name the slot's day and time, never "tomorrow", so one sent late on the
    ///   slot's morning still reads true.
    ///
    /// - `relayHold`: useful until the relay point's hold ends, passed as `pickupDeadline`.
    ///
    /// Quiet hours are not looked at: a late reminder reached inside them goes through
    /// `outsideQuietHours(now, timeZone:latest:)` again.
    public func isStillUseful(_ kind: ReminderKind, now: Timestamp, slotStart: Timestamp?, pickupDeadline: Timestamp?) -> Bool {
        if let pickupDeadline, pickupDeadline <= now { return false }
        switch kind {
        case .uncollected:
            return true
        case .soon, .appointmentSoon:
            guard let slotStart else { return false }
            return now < slotStart
        case .evening, .appointmentEvening:
            guard let slotStart else { return false }
            return now < Self.instant(slotStart, plus: .zero - soonBefore) && now < slotStart
        case .relayHold:
            // Its deadline is the hold's end, passed as `pickupDeadline`.
            return true
        case .quoteExpiring:
            // A quote's reminder is judged by its own family (`QuoteReminders`), never here.
            return true
        }
    }

    /// The instant `duration` (elapsed time) after `instant`; before it for a negative duration.
    private static func instant(_ instant: Timestamp, plus duration: Duration) -> Timestamp {
        Timestamp(microseconds: instant.microseconds + microseconds(duration))
    }

    /// A duration in whole microseconds, as `Timestamp` counts them.
    private static func microseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}

/// The shop's wall clock: local days and times on the Gregorian calendar of its zone.
private struct ReminderCalendar {
    /// A calendar day in the shop's zone.
    struct Day {
        var year: Int
        var month: Int
        var day: Int

        /// The day `days` calendar days later (earlier when negative), whatever their length in hours.
        func adding(days: Int, in calendar: ReminderCalendar) -> Day {
            // Noon is on every day's clock, whatever a DST change does to the night.
            let noon = calendar.calendar.date(from: DateComponents(year: year, month: month, day: day, hour: 12))!
            let moved = calendar.calendar.date(byAdding: .day, value: days, to: noon)!
            let parts = calendar.calendar.dateComponents([.year, .month, .day], from: moved)
            return Day(year: parts.year!, month: parts.month!, day: parts.day!)
        }
    }

    let calendar: Calendar

    /// The calendar of `timeZone`, or of `OrderRules.defaultTimeZone` when the name is unknown.
    init(timeZone: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: OrderRules.defaultTimeZone)!
        self.calendar = calendar
    }

    /// The local day `instant` falls on.
    func day(of instant: Timestamp) -> Day {
        let parts = calendar.dateComponents([.year, .month, .day], from: instant.date)
        return Day(year: parts.year!, month: parts.month!, day: parts.day!)
    }

    /// The instant the local clock shows `time` on `day`.
    func instant(on day: Day, at time: LocalClockTime) -> Timestamp? {
        let parts = DateComponents(year: day.year, month: day.month, day: day.day, hour: time.hour, minute: time.minute, second: 0)
        return calendar.date(from: parts).map { Timestamp($0) }
    }

    /// The first instant strictly after `instant` at which the local clock shows `time`.
    func first(_ time: LocalClockTime, after instant: Timestamp) -> Timestamp? {
        let today = day(of: instant)
        for offset in 0...2 {
            if let candidate = self.instant(on: today.adding(days: offset, in: self), at: time), candidate > instant {
                return candidate
            }
        }
        return nil
    }

    /// The last instant strictly before `instant` at which the local clock shows `time`.
    func last(_ time: LocalClockTime, before instant: Timestamp) -> Timestamp? {
        let today = day(of: instant)
        for offset in 0...2 {
            if let candidate = self.instant(on: today.adding(days: -offset, in: self), at: time), candidate < instant {
                return candidate
            }
        }
        return nil
    }
}

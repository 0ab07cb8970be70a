import Foundation
import Synchronization
import RelaisDomain

/// Dates and times in the shop's time zone, as a message says them.
public enum LocalTime {
    /// The day and time: fr `"samedi 28 novembre à 18h00"`, en `"Saturday 28 November at 18:00"`.
    ///
    /// `timeZone` is an IANA name; an unknown one falls back to Europe/Paris.
    public static func format(_ t: Timestamp, timeZone: String, language: Language) -> String {
        let parts = Parts(t, timeZone: timeZone, language: language)
        switch language {
        case .fr: return parts.day + " à " + parts.time
        case .en: return parts.day + " at " + parts.time
        }
    }

    /// The day alone: fr `"samedi 28 novembre"` (`"dimanche 1er novembre"`), en `"Saturday 28 November"`.
    public static func day(_ t: Timestamp, timeZone: String, language: Language) -> String {
        Parts(t, timeZone: timeZone, language: language).day
    }

    /// The time alone: fr `"18h00"`, `"9h30"`; en `"18:00"`, `"09:30"`.
    public static func time(_ t: Timestamp, timeZone: String, language: Language) -> String {
        Parts(t, timeZone: timeZone, language: language).time
    }

    /// The zone messages use when the shop's is unknown (docs/producers.md: `shop.timezone`'s default).
    public static let fallbackZone = "Europe/Paris"

    static let french = Locale(identifier: "fr_FR")
    static let english = Locale(identifier: "en_GB")

    /// Each zone's `TimeZone` and Gregorian calendar, made once: every message formats
    /// a time or two, and making them costs more than formatting.
    private static let zones = Mutex<[String: (TimeZone, Calendar)]>([:])

    /// The zone named `identifier` (Europe/Paris when unknown) and its calendar.
    static func zone(_ identifier: String) -> (TimeZone, Calendar) {
        if let known = zones.withLock({ $0[identifier] }) { return known }
        let zone = TimeZone(identifier: identifier) ?? TimeZone(identifier: fallbackZone)!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        // Zone names come from producers: keep a bounded number.
        zones.withLock { if $0.count < 1000 { $0[identifier] = (zone, calendar) } }
        return (zone, calendar)
    }

    /// The day and time of an instant, formatted in a zone and a language.
    private struct Parts {
        let day: String
        let time: String

        init(_ t: Timestamp, timeZone: String, language: Language) {
            let (zone, calendar) = LocalTime.zone(timeZone)
            let date = t.date
            switch language {
            case .fr:
                let locale = LocalTime.french
                // French writes the first of the month as an ordinal: « 1er novembre ».
                let first = calendar.component(.day, from: date) == 1
                day = date.formatted(Date.VerbatimFormatStyle(
                    format: first ? "\(weekday: .wide) \(day: .defaultDigits)er \(month: .wide)"
                                  : "\(weekday: .wide) \(day: .defaultDigits) \(month: .wide)",
                    locale: locale, timeZone: zone, calendar: calendar))
                time = date.formatted(Date.VerbatimFormatStyle(
                    format: "\(hour: .defaultDigits(clock: .twentyFourHour, hourCycle: .zeroBased))h\(minute: .twoDigits)",
                    locale: locale, timeZone: zone, calendar: calendar))
            case .en:
                let locale = LocalTime.english
                day = date.formatted(Date.VerbatimFormatStyle(
                    format: "\(weekday: .wide) \(day: .defaultDigits) \(month: .wide)",
                    locale: locale, timeZone: zone, calendar: calendar))
                time = date.formatted(Date.VerbatimFormatStyle(
                    format: "\(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits)",
                    locale: locale, timeZone: zone, calendar: calendar))
            }
        }
    }
}

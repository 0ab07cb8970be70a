import Foundation

/// An instant from an RFC 3339 string, kept as microseconds since the Unix epoch so that
/// comparisons are exact and PostgreSQL gets the same value Relais compared.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public let microseconds: Int64

    /// The years a producer's date-time may have (the JSON Schemas say the same).
    public static let contractYears: ClosedRange<Int64> = 1900...2999

    /// The years of a contract date-time once written in UTC: `1900-01-01T00:00:00+14:00`
    /// is in 1899, `2999-12-31T23:59:59-14:59` in 3000.
    public static let utcYears: ClosedRange<Int64> = 1899...3000

    /// Creates a timestamp from microseconds since the epoch.
    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// Creates a timestamp from a `Date`, rounded to the microsecond.
    public init(_ date: Date) {
        microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// Parses an RFC 3339 date-time (`2026-11-28T10:00:00Z`, `…T10:00:00.25+01:00`).
    ///
    /// Strict, as the JSON Schema's pattern is: years 1900–2999, upper-case `T` and `Z`,
    /// 1–9 fraction digits (rounded to the microsecond, as PostgreSQL rounds), offsets
    /// up to ±14:59, a real calendar date. Foundation's ISO 8601 parser was not used
    /// for this: it accepts trailing text, rolls 31 November over to 1 December, and
    /// its `Date` (a `Double`) can be a microsecond off.
    ///
    /// - Parameter years: the years accepted; the contract's 1900–2999 unless the text is
    ///   one Relais wrote itself (see `Codable`).
    public init?(rfc3339 text: String, years: ClosedRange<Int64> = Timestamp.contractYears) {
        let b = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var value: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                value = value * 10 + Int64(b[i] - 0x30)
            }
            return value
        }
        guard b.count >= 20, b.count <= 40,
              let year = digits(0, 4), b[4] == UInt8(ascii: "-"), let month = digits(5, 2), b[7] == UInt8(ascii: "-"),
              let day = digits(8, 2), b[10] == UInt8(ascii: "T"), let hour = digits(11, 2), b[13] == UInt8(ascii: ":"),
              let minute = digits(14, 2), b[16] == UInt8(ascii: ":"), let second = digits(17, 2)
        else { return nil }
        guard years.contains(year), (1...12).contains(month), hour <= 23, minute <= 59, second <= 59 else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays: Int64 = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][Int(month) - 1]
        guard (1...monthDays).contains(day) else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
            let count = i - start
            guard (1...9).contains(count), let fraction = digits(start, count) else { return nil }
            nanos = fraction * Int64([1, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1000, 100, 10, 1][count])
        }
        guard i < b.count else { return nil }
        var offsetSeconds: Int64 = 0
        if b[i] == UInt8(ascii: "Z") {
            guard i + 1 == b.count else { return nil }
        } else {
            guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), i + 6 == b.count,
                  let offsetHours = digits(i + 1, 2), b[i + 3] == UInt8(ascii: ":"), let offsetMinutes = digits(i + 4, 2),
                  offsetHours <= 14, offsetMinutes <= 59
            else { return nil }
            offsetSeconds = (offsetHours * 3600 + offsetMinutes * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        }
        let days = Timestamp.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        microseconds = seconds * 1_000_000 + (nanos + 500) / 1000
    }

    /// Days from 1970-01-01 to a date of the proleptic Gregorian calendar
    /// (H. Hinnant's `days_from_civil`).
    static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The instant as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: Double(microseconds) / 1_000_000) }

    /// The instant in UTC, RFC 3339 with microseconds.
    public var description: String {
        // Integer division: a Double holds microseconds exactly only up to 2^53 (year 2255).
        let (quotient, remainder) = microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        let seconds = remainder < 0 ? quotient - 1 : quotient
        let fraction = microseconds - seconds * 1_000_000
        let base = Date(timeIntervalSince1970: Double(seconds)).formatted(Timestamp.plain)
        return String(base.dropLast()) + "." + String(fraction + 1_000_000).dropFirst() + "Z"
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microseconds < b.microseconds }

    private static let plain = Date.ISO8601FormatStyle()
}

import Foundation

/// An instant from an RFC 3339 string, kept as microseconds since the Unix epoch so that
/// comparisons are exact and PostgreSQL gets the same value Relais compared.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public let microseconds: Int64

    /// Creates a timestamp from microseconds since the epoch.
    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// Creates a timestamp from a `Date`, rounded to the microsecond.
    public init(_ date: Date) {
        microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// Parses an RFC 3339 date-time (`2026-11-28T10:00:00Z`, `…T10:00:00.25+01:00`).
    ///
    /// The shape is checked strictly first, as the JSON Schema's pattern does (years
    /// 1900–2999, upper-case `T` and `Z`, 1–9 fraction digits, offsets up to ±14:59,
    /// a real calendar date), because Foundation's ISO 8601 parser is lenient: it
    /// accepts trailing text and rolls 31 November over to 1 December.
    public init?(rfc3339 text: String) {
        guard Timestamp.hasValidShape(Array(text.utf8)) else { return nil }
        guard let date = (try? Timestamp.withFraction.parse(text)) ?? (try? Timestamp.plain.parse(text)) else { return nil }
        self.init(date)
    }

    /// `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)` with every field in range.
    static func hasValidShape(_ b: [UInt8]) -> Bool {
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var value = 0
            for i in from..<(from + count) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                value = value * 10 + Int(b[i] - 0x30)
            }
            return value
        }
        guard b.count >= 20, b.count <= 40,
              let year = digits(0, 4), b[4] == UInt8(ascii: "-"), let month = digits(5, 2), b[7] == UInt8(ascii: "-"),
              let day = digits(8, 2), b[10] == UInt8(ascii: "T"), let hour = digits(11, 2), b[13] == UInt8(ascii: ":"),
              let minute = digits(14, 2), b[16] == UInt8(ascii: ":"), let second = digits(17, 2)
        else { return false }
        guard (1900...2999).contains(year), (1...12).contains(month), hour <= 23, minute <= 59, second <= 59 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...monthDays).contains(day) else { return false }
        var i = 19
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
            guard (1...9).contains(i - start) else { return false }
        }
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: "Z") { return i + 1 == b.count }
        guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), i + 6 == b.count,
              let offsetHours = digits(i + 1, 2), b[i + 3] == UInt8(ascii: ":"), let offsetMinutes = digits(i + 4, 2)
        else { return false }
        return offsetHours <= 14 && offsetMinutes <= 59
    }

    /// The instant as a `Date`.
    public var date: Date { Date(timeIntervalSince1970: Double(microseconds) / 1_000_000) }

    /// The instant in UTC, RFC 3339 with microseconds.
    public var description: String {
        let seconds = Int64((Double(microseconds) / 1_000_000).rounded(.down))
        let fraction = microseconds - seconds * 1_000_000
        let base = Date(timeIntervalSince1970: Double(seconds)).formatted(Timestamp.plain)
        return String(base.dropLast()) + "." + String(fraction + 1_000_000).dropFirst() + "Z"
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.microseconds < b.microseconds }

    private static let withFraction = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let plain = Date.ISO8601FormatStyle()
}

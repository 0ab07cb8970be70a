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
    /// RFC 3339 also allows a lower-case `t`/`z` and a space between date and time;
    /// those are normalised before Foundation's ISO 8601 parser sees the text.
    public init?(rfc3339 text: String) {
        var scalars = Array(text.unicodeScalars)
        guard scalars.count >= 20, scalars.count <= 40 else { return nil }
        if scalars[10] == "t" || scalars[10] == " " { scalars[10] = "T" }
        if scalars[scalars.count - 1] == "z" { scalars[scalars.count - 1] = "Z" }
        var normalised = String.UnicodeScalarView()
        normalised.append(contentsOf: scalars)
        let candidate = String(normalised)
        guard let date = (try? Timestamp.withFraction.parse(candidate)) ?? (try? Timestamp.plain.parse(candidate)) else {
            return nil
        }
        self.init(date)
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

import Logging
import Synchronization

/// A log level that several handlers obey together; changing it (SIGHUP reload) changes
/// it for all of them at once.
public final class LogLevelControl: Sendable {
    /// The process's control: the one the daemon's handlers obey unless given another.
    public static let shared = LogLevelControl()
    private let level: Atomic<Int>

    /// A control of its own, starting at `level`: handlers given it (tests, for one) leave
    /// the process's level alone.
    public init(_ level: Logger.Level = .info) {
        self.level = Atomic(level.ordinal)
    }

    /// The current level.
    public var current: Logger.Level {
        get { Logger.Level.allCases[level.load(ordering: .relaxed)] }
        set { level.store(newValue.ordinal, ordering: .relaxed) }
    }
}

/// A log handler whose level is a shared `LogLevelControl` (the process's unless the
/// handler says otherwise), so that a reload changes every logger at once.
public protocol ProcessLevelLogHandler: LogHandler {
    /// The level this handler obeys, shared with the other handlers given the same control.
    var levelControl: LogLevelControl { get }
}

extension ProcessLevelLogHandler {
    /// The process's control, `LogLevelControl.shared`.
    public var levelControl: LogLevelControl { .shared }

    public var logLevel: Logger.Level {
        get { levelControl.current }
        set { levelControl.current = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}

extension Logger.Level {
    var ordinal: Int { Logger.Level.allCases.firstIndex(of: self)! }

    /// The syslog priority journald stores in `PRIORITY`.
    public var syslogPriority: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}

/// How log metadata keys become journald fields.
public enum JournalFields {
    /// The fields operators query by name (`journalctl -u relais JOB_ID=…`).
    static let named: [String: String] = [
        "job.id": "JOB_ID",
        "job.queue": "QUEUE",
        "job.type": "JOB_TYPE",
        "job.outcome": "OUTCOME",
        "job.duration_ms": "DURATION_MS",
        "order.id": "ORDER_ID",
        "shop.id": "SHOP_ID",
    ]

    /// The journald field for a metadata key: the named ones above, otherwise the key in
    /// upper case with anything but `A-Z 0-9` turned into `_` (`job.attempt` → `JOB_ATTEMPT`).
    /// Never starts with `_` or a digit: those are journald's own or invalid.
    public static func name(for key: String) -> String {
        if let named = named[key] { return named }
        var out = ""
        for scalar in key.unicodeScalars {
            if (scalar >= "a" && scalar <= "z") { out.unicodeScalars.append(Unicode.Scalar(scalar.value - 32)!) }
            else if (scalar >= "A" && scalar <= "Z") || (scalar >= "0" && scalar <= "9") { out.unicodeScalars.append(scalar) }
            else { out += "_" }
        }
        if out.isEmpty || out.first == "_" || out.first!.isNumber { out = "F" + out }
        return String(out.prefix(64))
    }
}

/// Keeps e-mail addresses and phone numbers out of logs, whatever a message or a
/// reason happens to quote.
public enum Redaction {
    /// `text` with e-mail addresses replaced by `[email]` and international phone
    /// numbers (`+33 6 12 34 56 78`, `+33612345678`) by `[phone]`.
    public static func redact(_ text: String) -> String {
        guard text.utf8.contains(where: startsRedaction) else { return text }
        var bytes = Array(text.utf8)
        bytes = redactEmails(bytes)
        bytes = redactPhones(bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `byte` is one redaction looks around (`@` of an address, `+` of a phone
    /// number): text without any is left as it is.
    public static func startsRedaction(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "@") || byte == UInt8(ascii: "+")
    }

    private static func isLocal(_ b: UInt8) -> Bool {
        isAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "%") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-")
    }
    private static func isDomain(_ b: UInt8) -> Bool { isAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") }
    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b >= 0x80
    }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    /// Copies `bytes`, replacing each span `match` finds with `label`. `match` gets the
    /// bytes, a position and where copying resumed, and returns the span to replace there.
    private static func replacing(_ bytes: [UInt8], with label: String,
                                  _ match: ([UInt8], Int, Int) -> Range<Int>?) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        var copied = 0
        while i < bytes.count {
            if let span = match(bytes, i, copied) {
                out += bytes[copied..<span.lowerBound]
                out += Array(label.utf8)
                copied = span.upperBound
                i = span.upperBound
                continue
            }
            i += 1
        }
        out += bytes[copied...]
        return out
    }

    /// `local@domain.tld` around an `@`.
    private static func redactEmails(_ bytes: [UInt8]) -> [UInt8] {
        replacing(bytes, with: "[email]") { b, i, copied in
            guard b[i] == UInt8(ascii: "@") else { return nil }
            var start = i
            while start > copied && isLocal(b[start - 1]) { start -= 1 }
            var end = i + 1
            while end < b.count && isDomain(b[end]) { end += 1 }
            let domain = b[(i + 1)..<end]
            guard start < i, domain.contains(UInt8(ascii: ".")), domain.first != UInt8(ascii: ".") else { return nil }
            return start..<end
        }
    }

    /// `+` and 8–15 digits, with single spaces, dots or dashes between them.
    private static func redactPhones(_ bytes: [UInt8]) -> [UInt8] {
        replacing(bytes, with: "[phone]") { b, i, _ in
            guard b[i] == UInt8(ascii: "+"), i + 1 < b.count, isDigit(b[i + 1]) else { return nil }
            var end = i + 1
            var digits = 0
            while end < b.count && (isDigit(b[end]) || ((b[end] == 0x20 || b[end] == 0x2E || b[end] == 0x2D) && end + 1 < b.count && isDigit(b[end + 1]))) {
                if isDigit(b[end]) { digits += 1 }
                end += 1
            }
            return (8...15).contains(digits) ? i..<end : nil
        }
    }
}

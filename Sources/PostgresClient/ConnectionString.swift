import CLibpq

/// Checks and describes libpq connection strings (`postgresql://…` URLs or `key=value`
/// settings) without ever repeating any part of them: they carry passwords.
public enum PgConnectionString {
    /// Why libpq's own parser (`PQconninfoParse`) refuses `conninfo`, in words of our
    /// own that quote nothing of it; nil when libpq accepts it.
    ///
    /// libpq's error text quotes the offending part of the string, which may hold the
    /// password (after a bad `%` escape, or a URL missing its `://`), so it is only used
    /// to pick one of the reasons below, never shown.
    public static func problem(_ conninfo: String) -> String? {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let options = PQconninfoParse(conninfo, &errorMessage)
        defer {
            if let options { PQconninfoFree(options) }
            if let errorMessage { PQfreemem(errorMessage) }
        }
        guard let options else {
            return reason(forParseError: errorMessage.map { String(cString: $0) } ?? "out of memory")
        }
        // libpq parses any value and refuses a bad one only when it connects, where the
        // failure would read as a database that cannot be reached.
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val, let rule = valueRules[String(cString: keyword)],
               let problem = rule.problem(String(cString: value)) {
                return "its \(String(cString: keyword)) \(problem)"
            }
            option += 1
        }
        return nil
    }

    /// What a value must be.
    enum ValueRule {
        case oneOf([String])
        case integer

        /// Why `value` breaks the rule, quoting nothing of it; nil when it keeps it.
        func problem(_ value: String) -> String? {
            switch self {
            case .oneOf(let allowed):
                allowed.contains(value) ? nil : "must be one of \(allowed.joined(separator: ", "))"
            case .integer:
                !value.isEmpty && value.utf8.count <= 9 && value.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
                    ? nil : "must be a whole number"
            }
        }
    }

    /// The options whose values libpq checks only when it connects (libpq 15–17).
    static let valueRules: [String: ValueRule] = [
        "sslmode": .oneOf(["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]),
        "gssencmode": .oneOf(["disable", "prefer", "require"]),
        "channel_binding": .oneOf(["disable", "prefer", "require"]),
        "target_session_attrs": .oneOf(["any", "read-write", "read-only", "primary", "standby", "prefer-standby"]),
        "load_balance_hosts": .oneOf(["disable", "random"]),
        "connect_timeout": .integer,
        "keepalives": .integer,
        "keepalives_idle": .integer,
        "keepalives_interval": .integer,
        "keepalives_count": .integer,
        "tcp_user_timeout": .integer,
    ]

    /// Our reason for one of libpq's parse errors (fe-connect.c), quoting nothing.
    static func reason(forParseError text: String) -> String {
        let reasons: [(String, String)] = [
            ("invalid percent-encoded token", "a % escape is invalid (% must be followed by two hex digits; write %25 for a % sign)"),
            ("forbidden value %00", "a %00 escape is not allowed"),
            ("missing \"=\" after", "it is neither a postgresql:// URL (is \"://\" missing?) nor key=value settings"),
            ("unterminated quoted string", "a quoted value is not terminated"),
            ("invalid connection option", "it names a connection option libpq does not know"),
            ("IPv6 host address", "an IPv6 host address in [brackets] is malformed"),
            ("unexpected character", "an unexpected character follows the host (expected \":\" or \"/\")"),
            ("key/value separator", "a query parameter is malformed (expected ?key=value&key=value)"),
            ("invalid URI query parameter", "a query parameter is not a libpq connection option"),
            ("out of memory", "libpq ran out of memory parsing it"),
        ]
        for (needle, reason) in reasons where text.contains(needle) { return reason }
        return "libpq cannot parse it"
    }

    /// libpq's text for a failed connection with every quoted part blanked:
    /// `connection to server at "…", port 5432 failed: FATAL:  password authentication
    /// failed for user "…"`.
    ///
    /// libpq quotes what it repeats of the connection string (host names, user and
    /// database names, option values), and a mistyped URL can put part of a password
    /// in one of them (`postgresql://relais:pa@ss@host/db` has the host `ss@host`).
    public static func redactedConnectFailure(_ text: String) -> String {
        var out = ""
        var inQuote = false
        for character in text {
            if character == "\"" {
                out += inQuote ? "\"" : "\"…"
                inQuote.toggle()
            } else if !inQuote {
                out.append(character)
            }
        }
        if inQuote { out += "\"" }
        return out
    }
}

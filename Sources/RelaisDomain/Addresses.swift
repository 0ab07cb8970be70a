// Foundation on purpose: the rules below must read text exactly as they always have,
// and `Substring.contains(".")` is Foundation's string search when Foundation is
// imported (scripts/schemas/grapheme_classes.swift maps what that search sees).
import Foundation

/// The one rule of what Relais takes for an e-mail address: in a job (`shop.email`,
/// `customer.email`, docs/producers.md), in the configuration (the SMTP sender) and at
/// delivery.
///
/// `isValid` is the job contract's rule, which docs/schemas/order.placed.schema.json
/// restates as a pattern (scripts/order-schemas): change one and the contract tests
/// (`Tests/contract/check_rules.py`) ask for the other.
public enum EmailAddress {
    /// Whether `text` reads as an e-mail address: one `@`, something on each side, a dot
    /// in the domain that neither starts nor ends it, no whitespace (Unicode `White_Space`).
    /// Judged on Characters (grapheme clusters): an `@` or `.` carrying a combining mark is
    /// not one. Deliverability is the SMTP server's business.
    public static func isValid(_ text: String) -> Bool {
        // Bytes for ASCII text (nearly every address): the same verdict without asking
        // each Character for its Unicode properties, which costs on every order.
        if text.utf8.allSatisfy({ $0 < 0x80 }) {
            let bytes = Array(text.utf8)
            guard let at = bytes.firstIndex(of: UInt8(ascii: "@")), at > 0 else { return false }
            let domain = bytes[(at + 1)...]
            let dot = UInt8(ascii: ".")
            return !domain.contains(UInt8(ascii: "@")) && !bytes.contains(where: { $0 == 0x20 || (0x09...0x0D).contains($0) })
                && domain.contains(dot) && domain.first != dot && domain.last != dot
        }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !text.contains(where: \.isWhitespace) else { return false }
        let domain = parts[1]
        return domain.contains(".") && !domain.hasPrefix(".") && !domain.hasSuffix(".")
    }

    /// The characters an address may not carry into an SMTP command or a mail header as
    /// it is: they delimit, quote or list addresses there.
    private static let smtpSpecials = Set("<>(),;:\\\"[]".unicodeScalars)

    /// Whether `text` is a valid address (`isValid`) that plain SMTP can also carry as it
    /// is, in `MAIL FROM`/`RCPT TO` and in the `From`/`To` headers: printable ASCII
    /// without `<>(),;:\"[]`.
    ///
    /// A job may give an address with accents (the contract accepts it); SMTP without the
    /// SMTPUTF8 extension cannot send to it, so its message fails for good at delivery
    /// rather than reach the server mangled. The configured sender must pass this too.
    public static func isSendableBySMTP(_ text: String) -> Bool {
        isValid(text) && text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F && !smtpSpecials.contains($0) }
    }
}

/// The one rule of what Relais takes for a web address (an http or https URL): a shop's
/// `webhook_url` in a job (docs/producers.md), the SMS gateway's URL in the configuration,
/// and the webhook URL again at delivery.
///
/// Like `EmailAddress.isValid`, the order schema restates it as a pattern.
public enum WebAddress {
    /// Whether `text` is an absolute http or https URL (scheme in any case) with a host:
    /// the part after `://` up to the first `/`, `?` or `#` is not empty and does not
    /// start with `:`, and there is no whitespace anywhere.
    ///
    /// Whether the host resolves, or libcurl can parse the rest, is delivery's business:
    /// a URL libcurl cannot parse fails for good there.
    public static func isValid(_ text: String) -> Bool {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") { rest = lower.dropFirst(8) } else if lower.hasPrefix("http://") { rest = lower.dropFirst(7) } else { return false }
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return !host.isEmpty && !host.hasPrefix(":") && !text.contains(where: { $0.isWhitespace })
    }

    /// Whether the URL's authority (after `://`, up to the first `/`, `?` or `#`) has an
    /// `@`: a user name or password, which a webhook URL may not carry (libcurl would send
    /// it as Basic credentials). Read as bytes, as libcurl reads it.
    public static func hasUserInfo(_ url: String) -> Bool {
        guard let separator = url.utf8.firstRange(of: "://".utf8) else { return false }
        return url.utf8[separator.upperBound...].prefix { $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }
            .contains(UInt8(ascii: "@"))
    }
}

import CurlClient
import Foundation
import RelaisDomain
import Synchronization

/// One e-mail: a text part and an HTML part saying the same, with the headers that
/// make it read as people expect (a named sender, the shop to answer, one thread per order).
public struct EmailMessage: Sendable, Equatable {
    /// The `Message-ID` header's value, angle brackets included; stable per outbox row
    /// so that a resend after a crash is recognisable as the same message.
    public var messageId: String
    /// The sender (`From`); its address is also MAIL FROM.
    public var from: Mailbox
    /// The recipient's bare address (`To` and RCPT TO).
    public var to: String
    /// Where answers go (`Reply-To`), when not to the sender: the shop, for a customer.
    public var replyTo: String?
    /// The id the messages of one order share (`In-Reply-To` and `References`), so that
    /// mail clients show them as one conversation.
    public var thread: String?
    /// The subject, any Unicode text.
    public var subject: String
    /// The text part, any Unicode text.
    public var text: String
    /// The HTML part: a whole document, its values already escaped.
    public var html: String
    /// When the message was written (`Date`).
    public var date: Date

    /// Creates a message.
    public init(messageId: String, from: Mailbox, to: String, replyTo: String? = nil, thread: String? = nil,
                subject: String, text: String, html: String, date: Date) {
        self.messageId = messageId
        self.from = from
        self.to = to
        self.replyTo = replyTo
        self.thread = thread
        self.subject = subject
        self.text = text
        self.html = html
        self.date = date
    }

    /// A Message-ID made from a stable id: `<relais-42@shop.example>` for outbox id 42
    /// and a sender at `shop.example` (`relais.local` when the sender has no domain).
    /// Characters not allowed in a Message-ID become `-`.
    public static func messageId(outboxId: String, from address: String) -> String {
        "<relais-\(atext(outboxId))@\(domain(of: address))>"
    }

    /// The thread id of an order's messages: `<relais-order-A-1042@shop.example>`. An
    /// order id with characters a Message-ID cannot carry is written in hexadecimal
    /// instead (`x` then its UTF-8 bytes), so that two orders never share a thread.
    public static func threadId(orderId: String, from address: String) -> String {
        let plain = !orderId.isEmpty && orderId.unicodeScalars.allSatisfy(atextScalars.contains)
        let token = plain ? orderId : "x" + orderId.utf8.map { String(format: "%02x", $0) }.joined()
        return "<relais-order-\(token)@\(domain(of: address))>"
    }

    private static func domain(of address: String) -> String {
        let domainPart = address.split(separator: "@").last.map(String.init) ?? ""
        return address.contains("@") && !domainPart.isEmpty ? atext(domainPart) : "relais.local"
    }
}

extension EmailMessage {
    /// The header lines Relais writes, encoded for the wire; libcurl adds `Content-Type`
    /// (with its boundary) and `MIME-Version`.
    ///
    /// `Auto-Submitted: auto-generated` (RFC 3834) tells vacation responders and mail
    /// servers not to answer automatically; `X-Auto-Response-Suppress` asks the same of
    /// Exchange.
    public var headerLines: [String] {
        var lines = [
            "Date: \(MailHeader.date(date))",
            "From: \(from.header)",
            "To: \(MailHeader.clean(to))",
        ]
        if let replyTo { lines.append("Reply-To: \(MailHeader.clean(replyTo))") }
        lines.append("Subject: \(MailHeader.encodedWords(subject))")
        lines.append("Message-ID: \(MailHeader.clean(messageId))")
        if let thread {
            lines.append("In-Reply-To: \(MailHeader.clean(thread))")
            lines.append("References: \(MailHeader.clean(thread))")
        }
        lines.append("Auto-Submitted: auto-generated")
        lines.append("X-Auto-Response-Suppress: All")
        return lines
    }

    /// The body's parts, text then HTML (clients show the last one they can), in UTF-8
    /// with CRLF line endings; libcurl encodes them quoted-printable.
    public var parts: [MailPart] {
        [MailPart(contentType: "text/plain; charset=utf-8", body: Self.crlf(text)),
         MailPart(contentType: "text/html; charset=utf-8", body: Self.crlf(html))]
    }

    /// `text` with every line ending as CRLF and a final one.
    static func crlf(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 64)
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == 0x0A && previous != 0x0D { out.append(0x0D) }
            if previous == 0x0D && byte != 0x0A { out.append(0x0A) }
            out.append(byte)
            previous = byte
        }
        if previous == 0x0D { out.append(0x0A) } else if previous != 0x0A { out += [0x0D, 0x0A] }
        return out
    }
}

/// A sender or recipient with an optional display name: `Mes commerçants <noreply@example.org>`.
public struct Mailbox: Sendable, Equatable, CustomStringConvertible {
    /// The name people see, if any.
    public let name: String?
    /// The bare address.
    public let address: String

    /// The longest display name kept; a longer one (a shop's name comes from a producer)
    /// is cut, so that a header never grows without bound.
    static let nameLimit = 120

    /// A mailbox for `address` shown as `name`: control characters and runs of white
    /// space in the name become one space, and it is cut to `nameLimit` characters.
    public init(name: String?, address: String) {
        let cleaned = name.map { value in
            // Printable ASCII without doubled or edge spaces is already clean.
            if value.utf8.count <= Self.nameLimit, value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }),
               !value.hasPrefix(" "), !value.hasSuffix(" "), !value.contains("  ") { return value }
            return String(value.split(whereSeparator: { $0.isWhitespace || $0.unicodeScalars.contains { $0.properties.generalCategory == .control } })
                .joined(separator: " ").prefix(Self.nameLimit))
        }
        self.name = cleaned?.isEmpty == false ? cleaned : nil
        self.address = address
    }

    /// Reads `noreply@example.org`, `Mes commerçants <noreply@example.org>` or
    /// `"Martin & Fils" <noreply@example.org>`; nil unless the address is one SMTP can
    /// carry (`EmailAddress.isSendableBySMTP`) and the name is printable text.
    public init?(parsing text: String) {
        let value = text.trimmingCharacters(in: .whitespaces)
        guard value.hasSuffix(">"), let open = value.lastIndex(of: "<") else {
            guard EmailAddress.isSendableBySMTP(value) else { return nil }
            self.init(name: nil, address: value)
            return
        }
        let address = String(value[value.index(after: open)..<value.index(before: value.endIndex)])
        var name = value[..<open].trimmingCharacters(in: .whitespaces)
        if name.count >= 2, name.hasPrefix("\""), name.hasSuffix("\"") {
            name = String(name.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
        }
        guard EmailAddress.isSendableBySMTP(address),
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "<" || $0 == ">" })
        else { return nil }
        self.init(name: name, address: address)
    }

    /// The same address shown as `name` instead.
    public func named(_ name: String) -> Mailbox { Mailbox(name: name, address: address) }

    /// The mailbox as a header value: the name as a quoted string when it is ASCII, as
    /// RFC 2047 encoded words otherwise, then the address in angle brackets.
    public var header: String {
        let address = MailHeader.clean(self.address)
        guard let name else { return address }
        if name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) && !name.contains("=?") {
            let quoted = name.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return "\"\(quoted)\" <\(address)>"
        }
        return "\(MailHeader.encodedWords(name)) <\(address)>"
    }

    /// `Name <address>`, or the address alone.
    public var description: String { name.map { "\($0) <\(address)>" } ?? address }
}

/// Header values: RFC 2047 encoded words, RFC 5322 dates.
public enum MailHeader {
    /// The longest header line RFC 5322 recommends, without its CRLF.
    static let lineLimit = 78
    /// Bytes of UTF-8 per encoded word: 39 bytes are 52 base64 characters, so a word is
    /// 64 characters and "Subject: " plus one word stays under 76 (RFC 2047's limit).
    static let bytesPerWord = 39

    /// A header value as it goes on the wire after `Subject: `: as is when it is short
    /// printable ASCII, otherwise RFC 2047 `=?UTF-8?B?…?=` words folded onto lines of
    /// their own. Control characters (CR, LF…) become spaces first, so a value can never
    /// start a header of its own. Characters are never split between words.
    public static func encodedWords(_ value: String) -> String {
        let text = String(String.UnicodeScalarView(value.unicodeScalars.map {
            $0.properties.generalCategory == .control ? " " : $0
        }))
        let plain = text.unicodeScalars.allSatisfy { $0.isASCII } && !text.contains("=?")
        if plain && "Subject: ".count + text.utf8.count <= lineLimit { return text }
        var words: [String] = []
        var chunk = ""
        for character in text {
            if !chunk.isEmpty && chunk.utf8.count + character.utf8.count > bytesPerWord {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?\(Data($0.utf8).base64EncodedString())?=" }.joined(separator: "\r\n ")
    }

    /// An RFC 5322 date in UTC: `Tue, 14 May 2024 08:30:00 +0000`.
    public static func date(_ date: Date) -> String {
        dateFormatter.withLock { $0.string(from: date) }
    }

    /// Made once: opening an ICU date format is costly, and every message needs one for
    /// its `Date` header.
    private static let dateFormatter: Mutex<DateFormatter> = {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        return Mutex(formatter)
    }()

    /// A value with its control characters removed (addresses and ids are checked
    /// before sending; this only guarantees the header block stays well formed).
    static func clean(_ value: String) -> String {
        // Printable ASCII (nearly every address and id) needs no Unicode property look-up.
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return value }
        return String(String.UnicodeScalarView(value.unicodeScalars.filter { $0.properties.generalCategory != .control }))
    }
}

/// The characters RFC 5322 allows in a Message-ID's parts (a subset of its atext).
private let atextScalars = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+".unicodeScalars)

/// Keeps the characters RFC 5322 allows in a Message-ID's parts; others become `-`.
private func atext(_ value: String) -> String {
    let kept = value.unicodeScalars.map { atextScalars.contains($0) ? Character($0) : "-" }
    return String(kept)
}

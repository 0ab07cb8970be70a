import Foundation
import Synchronization

/// One plain-text e-mail, ready to be turned into RFC 5322 bytes.
public struct EmailMessage: Sendable, Equatable {
    /// The `Message-ID` header's value, angle brackets included; stable per outbox row
    /// so that a resend after a crash is recognisable as the same message.
    public var messageId: String
    /// The sender's bare address (`From` and MAIL FROM).
    public var from: String
    /// The recipient's bare address (`To` and RCPT TO).
    public var to: String
    /// The subject, any Unicode text.
    public var subject: String
    /// The body, any Unicode text; line endings become CRLF on the wire.
    public var text: String
    /// When the message was written (`Date`).
    public var date: Date

    /// Creates a message.
    public init(messageId: String, from: String, to: String, subject: String, text: String, date: Date) {
        self.messageId = messageId
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.date = date
    }

    /// A Message-ID made from a stable id: `<relais-42@shop.example>` for outbox id 42
    /// and a sender at `shop.example` (`relais.local` when the sender has no domain).
    /// Characters not allowed in a Message-ID become `-`.
    public static func messageId(outboxId: String, from address: String) -> String {
        let domainPart = address.split(separator: "@").last.map(String.init) ?? ""
        let domain = address.contains("@") && !domainPart.isEmpty ? atext(domainPart) : "relais.local"
        return "<relais-\(atext(outboxId))@\(domain)>"
    }
}

extension EmailMessage {
    /// The message as it goes over SMTP: headers, a blank line, the body; CRLF line endings.
    ///
    /// The body is `text/plain; charset=utf-8` in quoted-printable: seven-bit clean, so
    /// it needs no 8BITMIME from any relay on the way (libcurl does not send
    /// `BODY=8BITMIME`), keeps every line under SMTP's 998-byte limit, and stays readable
    /// for French text where most characters are ASCII. aiosmtpd and every mail client
    /// decode it. No dot-stuffing here: libcurl doubles a leading `.` itself.
    public var rfc5322: [UInt8] {
        var head = ""
        head += "Date: \(MailHeader.date(date))\r\n"
        head += "From: \(MailHeader.clean(from))\r\n"
        head += "To: \(MailHeader.clean(to))\r\n"
        head += "Subject: \(MailHeader.encodedWords(subject))\r\n"
        head += "Message-ID: \(MailHeader.clean(messageId))\r\n"
        head += "MIME-Version: 1.0\r\n"
        head += "Content-Type: text/plain; charset=utf-8\r\n"
        head += "Content-Transfer-Encoding: quoted-printable\r\n"
        head += "\r\n"
        return Array(head.utf8) + QuotedPrintable.encode(text)
    }
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
        String(String.UnicodeScalarView(value.unicodeScalars.filter { $0.properties.generalCategory != .control }))
    }
}

/// Quoted-printable (RFC 2045 §6.7) for a text body.
enum QuotedPrintable {
    /// Encodes `text` line by line: hard line breaks become CRLF, lines longer than 76
    /// characters get soft breaks (`=` CRLF), `=`, non-ASCII bytes and trailing blanks
    /// are escaped as `=XX`. The result ends with CRLF.
    static func encode(_ text: String) -> [UInt8] {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var lines = normalized.split(separator: "\n", omittingEmptySubsequences: false)
        if normalized.hasSuffix("\n") { lines.removeLast() }
        var out: [UInt8] = []
        for line in lines {
            let bytes = Array(line.utf8)
            var width = 0
            for (index, byte) in bytes.enumerated() {
                let isLast = index == bytes.count - 1
                let literal = (byte == 0x20 || byte == 0x09) ? !isLast : (byte >= 33 && byte <= 126 && byte != 0x3D)
                let token: [UInt8] = literal ? [byte] : escaped(byte)
                // Room for the token plus the "=" of a soft break: 76 characters a line.
                if width + token.count > 75 {
                    out += Array("=\r\n".utf8)
                    width = 0
                }
                out += token
                width += token.count
            }
            out += [0x0D, 0x0A]
        }
        return out
    }

    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    private static func escaped(_ byte: UInt8) -> [UInt8] {
        [0x3D, hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
    }
}

/// Keeps the characters RFC 5322 allows in a Message-ID's parts; others become `-`.
private func atext(_ value: String) -> String {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_+".unicodeScalars)
    let kept = value.unicodeScalars.map { allowed.contains($0) ? Character($0) : "-" }
    return String(kept)
}

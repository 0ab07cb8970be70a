import CurlClient
import Foundation
import RelaisDomain

/// Where and how e-mail goes out: `RELAIS_SMTP_URL` and `RELAIS_SMTP_FROM`, checked once.
public struct SMTPSettings: Sendable {
    /// `smtp://[user:pass@]host[:port]` (STARTTLS when offered) or `smtps://…` (implicit TLS).
    public let url: String
    /// The sender: its address for `From` and MAIL FROM, its name (if any) for `From`.
    public let from: Mailbox
    /// For `smtp://`: refuse to send unless STARTTLS succeeds.
    public let requireTLS: Bool
    /// For `smtp://` with a user name: send the credentials even when the server does
    /// not offer STARTTLS. Off by default, since they would cross the network in clear.
    public let allowPlaintextAuth: Bool
    /// A PEM file of trusted CAs instead of the system's (self-signed test servers).
    public let caFile: String?
    /// The limit for one message's whole SMTP exchange.
    public let timeout: Duration

    /// Checks the settings; the error names the one that is wrong, never its value.
    public init(url: String, from: String, requireTLS: Bool = false, allowPlaintextAuth: Bool = false, caFile: String? = nil,
                timeout: Duration = .seconds(30)) throws(DeliveryConfigurationError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw DeliveryConfigurationError(setting: "SMTP URL", problem: "expected smtp://[user:pass@]host:port or smtps://…")
        }
        guard scheme == "smtp" || scheme == "smtps" else {
            throw DeliveryConfigurationError(setting: "SMTP URL", problem: "scheme must be smtp or smtps, not \(scheme)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw DeliveryConfigurationError(setting: "SMTP URL", problem: "no host")
        }
        guard let sender = Mailbox(parsing: from) else {
            throw DeliveryConfigurationError(
                setting: "SMTP sender",
                problem: "expected an ASCII address, alone or after a name: noreply@example.org or Mes commerçants <noreply@example.org>")
        }
        guard timeout > .zero else {
            throw DeliveryConfigurationError(setting: "SMTP timeout", problem: "must be positive")
        }
        self.url = url
        self.from = sender
        self.requireTLS = requireTLS
        self.allowPlaintextAuth = allowPlaintextAuth
        self.caFile = caFile
        self.timeout = timeout
    }

    /// Whether the URL carries a user name, so that libcurl will authenticate.
    public var hasCredentials: Bool {
        guard let user = URLComponents(string: url)?.percentEncodedUser else { return false }
        return !user.isEmpty
    }

    /// Whether a send must fail unless STARTTLS succeeds: when asked (`requireTLS`), and
    /// whenever credentials would otherwise go in clear, unless `allowPlaintextAuth`.
    /// (`smtps://` is TLS from the first byte: libcurl ignores this there.)
    public var startTLSRequired: Bool {
        requireTLS || (hasCredentials && !allowPlaintextAuth)
    }

    /// The URL without its password, for logs: `smtp://user@host:587`.
    public var redactedURL: String {
        guard var components = URLComponents(string: url) else { return "smtp://?" }
        components.password = nil
        return components.string ?? "smtp://?"
    }
}

/// Sends e-mail through the configured SMTP server with libcurl.
public struct EmailSender: Sendable {
    /// The server, sender and limits.
    public let settings: SMTPSettings

    /// A sender for `settings`.
    public init(settings: SMTPSettings) {
        self.settings = settings
    }

    /// A message from the configured sender, its Message-ID made from `outboxId`.
    ///
    /// With a `shop`, the message is a customer's about that shop's order: it comes from
    /// "Boulangerie Martin via Mes commerçants" (the shop's name alone when the sender has
    /// none) at the sender's address, and answers go to the shop's address when it has one
    /// SMTP can carry. With an `orderId`, it joins the order's thread.
    public func compose(outboxId: String, to: String, subject: String, text: String, html: String, date: Date,
                        orderId: String? = nil, shop: (name: String, email: String?)? = nil) -> EmailMessage {
        var from = settings.from
        var replyTo: String?
        if let shop {
            from = from.named(from.name.map { "\(shop.name) via \($0)" } ?? shop.name)
            replyTo = shop.email.flatMap { EmailAddress.isSendableBySMTP($0) ? $0 : nil }
        }
        return EmailMessage(messageId: EmailMessage.messageId(outboxId: outboxId, from: settings.from.address),
                            from: from, to: to, replyTo: replyTo,
                            thread: orderId.map { EmailMessage.threadId(orderId: $0, from: settings.from.address) },
                            subject: subject, text: text, html: html, date: date)
    }

    /// Sends `message` and returns once the server has accepted it.
    ///
    /// Throws a permanent failure when the server rejects the sender, the recipient or
    /// the message with a 5xx reply, or when an address is not one we can send to;
    /// anything else (server down, timeout, TLS, login refused) is transient.
    public func send(_ message: EmailMessage, over session: CurlSession) throws(DeliveryFailure) {
        guard EmailAddress.isSendableBySMTP(message.to) else {
            throw DeliveryFailure(reason: "recipient address is not a bare ASCII address", permanent: true)
        }
        guard EmailAddress.isSendableBySMTP(message.from.address) else {
            throw DeliveryFailure(reason: "sender address is not a bare ASCII address", permanent: true)
        }
        guard isHeaderSafe(message.messageId) else {
            throw DeliveryFailure(reason: "Message-ID contains control characters", permanent: true)
        }
        let hidden = [message.from.address, message.to] + (message.replyTo.map { [$0] } ?? [])
        do {
            try session.sendMail(url: settings.url, from: message.from.address, to: [message.to], headers: message.headerLines,
                                 multipartType: "multipart/alternative", parts: message.parts,
                                 requireTLS: settings.startTLSRequired, caFile: settings.caFile, timeout: settings.timeout)
        } catch {
            throw failure(error, hiding: hidden)
        }
    }

    /// SMTP's verdict: a 5xx reply to MAIL FROM, RCPT TO or the message itself is final;
    /// a 5xx to AUTH (login refused) or STARTTLS is the operator's to fix, so transient.
    private func failure(_ error: CurlError, hiding secrets: [String]) -> DeliveryFailure {
        let rejectionCodes: Set<CurlError.Code> = [.sendError, .receiveError, .weirdServerReply]
        if rejectionCodes.contains(error.code) && (500..<600).contains(error.responseCode) {
            return DeliveryFailure(reason: redacting(secrets, in: "SMTP server rejected the message with reply \(error.responseCode): \(error)"),
                                   permanent: true)
        }
        let what = switch error.code {
        case .loginDenied: "SMTP server refused the login (check the user and password of the SMTP URL)"
        case .tlsRequiredButUnavailable where !settings.requireTLS:
            "SMTP server does not offer STARTTLS, and the SMTP URL's credentials are not sent unencrypted (smtp_allow_plaintext_auth is false)"
        case .tlsRequiredButUnavailable: "SMTP server does not offer STARTTLS and TLS is required"
        case .peerFailedVerification: "SMTP server's certificate did not verify"
        default: "SMTP delivery failed"
        }
        return DeliveryFailure(reason: redacting(secrets, in: "\(what): \(error)"), permanent: false)
    }
}

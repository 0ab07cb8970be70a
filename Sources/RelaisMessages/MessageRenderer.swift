import Mustache
import RelaisDomain

/// A message ready to send: a subject and an HTML part for an e-mail, the text, and an
/// SMS's segment count.
public struct RenderedMessage: Sendable, Equatable {
    /// The e-mail subject, on one line; nil for an SMS.
    public let subject: String?
    /// The plain-text body.
    public let text: String
    /// The e-mail's HTML part, a whole document; nil for an SMS and a log line.
    public let html: String?
    /// How many SMS segments the text takes; nil unless it is an SMS.
    public let smsSegments: Int?

    /// Creates a rendered message.
    public init(subject: String?, text: String, html: String? = nil, smsSegments: Int?) {
        self.subject = subject
        self.text = text
        self.html = html
        self.smsSegments = smsSegments
    }
}

/// Renders a message's facts with its template, in the recipient's language and the shop's time zone.
public struct MessageRenderer: Sendable {
    private let templates: TemplateSet

    /// Creates a renderer over a loaded template set.
    public init(templates: TemplateSet) {
        self.templates = templates
    }

    /// Renders `template` for `recipient` on `channel`. `template` is the name as the
    /// outbox stores it (a `MessageTemplate` raw value); any other name throws
    /// `unknownTemplate`, as a row from an older Relais might carry.
    ///
    /// - `.email`: subject, text, and the HTML part (its content in the layout).
    /// - `.sms`: the text, with look-alikes for non-GSM characters when that saves
    ///   segments (`SMSText.fitted`), and its segment count.
    /// - `.log`: the e-mail rendering, for the log line of an unconfigured channel.
    /// - `.webhook`: throws; a webhook carries `WebhookEvent.body` instead.
    ///
    /// Shops read French; customers read `facts.language`.
    public func render(_ template: String, channel: Channel, recipient: Recipient,
                       facts: MessageFacts) throws(TemplateError) -> RenderedMessage {
        let language = TemplateSet.language(for: recipient, customer: facts.language)
        let fileChannel: Channel
        switch channel {
        case .webhook: throw .webhookChannel(template)
        case .email, .log: fileChannel = .email
        case .sms: fileChannel = .sms
        }
        guard let compiled = templates.template(template, language: language, channel: fileChannel) else {
            throw .unknownTemplate(TemplateSet.path(template, language: language, channel: fileChannel))
        }
        let context = MessageContext.values(facts, language: language)
        let text = Self.tidy(compiled.body.render(context))
        guard let subjectTemplate = compiled.subject else {
            let fitted = SMSText.fitted(text)
            let best = SMSText.segments(fitted) < SMSText.segments(text) ? fitted : text
            return RenderedMessage(subject: nil, text: best, smsSegments: SMSText.segments(best))
        }
        // A subject is one header line whatever a name contains.
        let subject = subjectTemplate.render(context)
            .split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard channel == .email else { return RenderedMessage(subject: subject, text: text + "\n", smsSegments: nil) }
        guard let html = templates.html(template, language: language) else {
            throw .unknownTemplate(TemplateSet.htmlPath(template, language: language))
        }
        var page = context
        page["subject"] = subject
        page["content"] = html.content.body.render(context)
        return RenderedMessage(subject: subject, text: text + "\n", html: html.layout.body.render(page), smsSegments: nil)
    }

    /// The text without trailing spaces on its lines, without blank lines at either end,
    /// and with at most one blank line in a row (optional sections leave some behind).
    static func tidy(_ text: String) -> String {
        var lines: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = line
            while line.last?.isWhitespace == true { line.removeLast() }
            if line.isEmpty && (lines.last?.isEmpty ?? true) { continue }
            lines.append(line)
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}

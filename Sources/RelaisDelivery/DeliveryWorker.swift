import CurlClient
import Foundation
import Logging
import Metrics
import RelaisDomain
import RelaisMessages
import RelaisWorkers

/// How messages go out: the configured channels and the retry rules.
public struct DeliverySettings: Sendable {
    /// SMTP, when e-mail is configured.
    public var email: SMTPSettings?
    /// The SMS gateway, when configured.
    public var sms: SMSGateway?
    /// The Standard Webhooks secret, when webhooks are configured.
    public var webhookSecret: String?
    /// Where webhooks may connect: public addresses and the networks allowed
    /// (`webhook_allow_networks`).
    public var webhookAddresses = WebhookAddressPolicy()
    /// Webhooks in flight at once: a slow endpoint holds one slot, not the channel.
    public var webhookConcurrency = 32
    /// Connections open at once to one webhook host.
    public var webhookConnectionsPerHost = 4
    /// How long one send may take.
    public var timeout: Duration = .seconds(15)
    /// Attempts per message, then backoff between them.
    public var retry = RetryPolicy(maxAttempts: 10, baseDelay: .seconds(30), maxDelay: .seconds(3600))
    /// Messages claimed at once per channel.
    public var batchSize = 50
    /// Connections (SMTP sessions, HTTP connections to the gateway) sending e-mail and SMS
    /// at once, each reused from message to message.
    public var connections: [Channel: Int] = [.email: 4, .sms: 4]
    /// The most messages a second per channel (an SMS gateway's limit); none when absent.
    public var rates: [Channel: Double] = [:]
    /// The most messages a second each shop may send per channel; none when absent.
    public var shopRates: [Channel: Double] = [:]
    /// How often an idle worker looks for due messages.
    public var pollInterval: Duration = .milliseconds(250)

    /// The SMS gateway's address and token.
    public struct SMSGateway: Sendable {
        public var url: String
        public var token: String

        public init(url: String, token: String) {
            self.url = url
            self.token = token
        }
    }

    public init() {}

    /// The channels messages can take: the configured ones and the log.
    public var channels: Set<Channel> {
        var out: Set<Channel> = [.log]
        if email != nil { out.insert(.email) }
        if sms != nil { out.insert(.sms) }
        if webhookSecret != nil { out.insert(.webhook) }
        return out
    }
}

/// Sends the outbox's messages of one channel, on a thread the daemon owns.
///
/// One worker per channel, so that a slow or failing SMTP server never holds back
/// webhooks or SMS. Every channel claims due messages shop by shop in turn
/// (`OutboxPort.claim`). E-mail and SMS go to one operator-run server each, over a few
/// connections of their own, under the channel's and each shop's rate
/// (`runWithConnections`), each outcome written as soon as its send ends (by an
/// `OutcomeRecorder`). Webhooks go to as many servers as there are shops, some slow or
/// dead: they are sent concurrently (`WebhookPipeline`), each recorded as it ends.
///
/// The outbox is reached through the `OutboxPort`s its connector opens, one per thread:
/// delivery knows nothing of the store behind it.
public final class DeliveryWorker: Sendable {
    /// The channel this worker sends.
    public let channel: Channel
    /// Opens a connection to the outbox; called again after one fails.
    let connect: OutboxConnector
    let settings: DeliverySettings
    private let renderer: MessageRenderer
    let logger: Logger
    let senders: Senders
    /// `relais_notifications_total{channel,outcome}`, one counter per outcome, made once.
    private let counters: [String: Counter]
    /// Where the worker says how many messages it holds, for `/status`.
    let figures: DeliveryFigures?

    /// The configured senders; settings were validated when the configuration was read.
    struct Senders: Sendable {
        var email: EmailSender?
        var sms: SMSSender?
        var webhook: WebhookSender?
    }

    /// Creates the worker of `channel`, reaching the outbox through connections that
    /// `outbox` opens.
    public init(channel: Channel, outbox: @escaping OutboxConnector, settings: DeliverySettings, renderer: MessageRenderer,
                logger: Logger, figures: DeliveryFigures? = nil) {
        self.figures = figures
        self.channel = channel
        connect = outbox
        self.settings = settings
        self.renderer = renderer
        senders = Senders(
            email: settings.email.map(EmailSender.init(settings:)),
            sms: settings.sms.flatMap { try? SMSSender(url: $0.url, token: $0.token, timeout: settings.timeout) },
            webhook: settings.webhookSecret.flatMap { secret in
                (try? WebhookSigner(secret: secret)).map {
                    WebhookSender(signer: $0, timeout: settings.timeout, addresses: settings.webhookAddresses)
                }
            })
        var logger = logger
        logger[metadataKey: "channel"] = "\(channel.rawValue)"
        self.logger = logger
        counters = Dictionary(uniqueKeysWithValues: ["sent", "retry", "failed", "deferred"].map { outcome in
            (outcome, Counter(label: "relais_notifications_total", dimensions: [("channel", channel.rawValue), ("outcome", outcome)]))
        })
    }

    /// The worker loop; returns once `stop` is set (after the round in hand; for webhooks,
    /// after the sends in flight end or a short grace). An idle worker sleeps on `stop`
    /// for `pollInterval`; after a failure it drops its connection and waits out a
    /// `Backoff` (100 ms growing to 5 s).
    public func run(until stop: StopSignal) {
        if channel == .email || channel == .sms {
            runWithConnections(until: stop, connections: max(1, settings.connections[channel] ?? 1))
            return
        }
        var outbox: (any OutboxPort)?
        var webhooks: WebhookPipeline?
        var backoff = Backoff()
        while !stop.isSet {
            do {
                try reopen(&outbox)
                let busy: Bool
                if channel == .webhook {
                    if webhooks == nil { webhooks = try WebhookPipeline(worker: self) }
                    busy = try webhooks!.step(outbox!)
                } else {
                    busy = try round(outbox!) > 0
                }
                backoff.reset()
                if !busy { stop.sleep(settings.pollInterval) }
            } catch {
                pause(after: error, dropping: &outbox, backoff: &backoff, stop: stop)
            }
        }
        if let webhooks, let open = outbox, open.isOpen {
            webhooks.drain(open, grace: .seconds(2))
        }
        outbox?.close()
    }

    /// Makes sure `outbox` holds an open connection: a lost one is closed and replaced.
    func reopen(_ outbox: inout (any OutboxPort)?) throws {
        guard outbox == nil || !outbox!.isOpen else { return }
        outbox?.close()
        outbox = nil
        outbox = try connect()
    }

    /// After a failure: logs it (the first time and every 60th), drops the connection and
    /// waits out the backoff, or less if stopping.
    func pause(after error: any Error, dropping outbox: inout (any OutboxPort)?, backoff: inout Backoff, stop: StopSignal) {
        let delay = backoff.next()
        if backoff.isWorthLogging {
            logger.warning("delivery paused", metadata: ["error": "\(error)"])
        }
        outbox?.close()
        outbox = nil
        stop.sleep(delay)
    }

    /// How long a claimed message is leased: if this process dies, it is sent again when
    /// the lease ends. It covers two slow sends.
    var lease: Duration { .seconds(max(30, settings.timeout.seconds * 2)) }

    /// Writes one batch of due messages to the log (the channel of messages whose channel
    /// is not configured); returns how many it took. Log lines cost nothing to repeat, so
    /// the outcomes are written together at the end.
    func round(_ outbox: any OutboxPort) throws -> Int {
        let messages = try outbox.claim(channel: channel, limit: settings.batchSize, lease: lease)
        guard !messages.isEmpty else { return 0 }
        var logged: [DeliveryRecord] = []
        for message in messages {
            let started = ContinuousClock.now
            let result = deliver(message, nil)
            logged.append(DeliveryRecord(id: message.id, attempt: message.attempt, result: result))
            log(message, result, ContinuousClock.now - started)
        }
        try self.record(outbox, logged)
        return messages.count
    }

    /// Records outcomes; says so in the log for a message changed meanwhile (its change stands).
    func record(_ outbox: any OutboxPort, _ records: [DeliveryRecord]) throws {
        guard !records.isEmpty else { return }
        let recorded = try outbox.record(records)
        for record in records where !recorded.contains(record.id) {
            logger.notice("delivery outcome not recorded: the message was changed meanwhile", metadata: [
                "message.id": "\(record.id)", "attempt": "\(record.attempt)",
            ])
        }
    }

    func deliver(_ message: OutboxMessage, _ session: CurlSession?) -> DeliveryResult {
        do {
            try send(message, session)
            return .sent
        } catch let failure as DeliveryFailure {
            return outcome(after: failure, message)
        } catch let error as TemplateError {
            return .failed(error: "the template cannot be rendered: \(error)")
        } catch {
            return outcome(after: DeliveryFailure(reason: "\(error)", permanent: false), message)
        }
    }

    func outcome(after failure: DeliveryFailure, _ message: OutboxMessage) -> DeliveryResult {
        if failure.permanent { return .failed(error: failure.reason) }
        switch settings.retry.decide(afterAttempt: message.attempt, random: Double.random(in: 0..<1)) {
        case .retry(let delay):
            return .retry(at: Timestamp(Date().addingTimeInterval(delay.seconds)), error: failure.reason)
        case .giveUp:
            return .failed(error: "\(failure.reason) (gave up after \(message.attempt) attempts)")
        }
    }

    private func send(_ message: OutboxMessage, _ session: CurlSession?) throws {
        switch channel {
        case .log:
            let rendered = try renderer.render(message.template, channel: .log, recipient: message.recipient, facts: message.facts)
            logger.info("message", metadata: [
                "message.id": "\(message.id)", "order": "\(message.orderId)", "template": "\(message.template)",
                "recipient": "\(message.recipient.rawValue)", "subject": "\(rendered.subject ?? "")", "text": "\(rendered.text)",
            ])
        case .email:
            guard let email = senders.email, let session, let to = message.destination else { throw notConfigured }
            let rendered = try renderer.render(message.template, channel: .email, recipient: message.recipient, facts: message.facts)
            let shop = message.recipient == .customer ? (name: message.facts.shopName, email: message.facts.shopEmail) : nil
            try email.send(email.compose(outboxId: String(message.id), to: to, subject: rendered.subject ?? message.template,
                                         text: rendered.text, html: rendered.html ?? "", date: Date(),
                                         orderId: message.orderId, shop: shop), over: session)
        case .sms:
            guard let sms = senders.sms, let session, let to = message.destination else { throw notConfigured }
            let rendered = try renderer.render(message.template, channel: .sms, recipient: message.recipient, facts: message.facts)
            try sms.send(to: to, text: rendered.text, messageId: "relais-\(message.id)", over: session)
        case .webhook:
            guard let webhook = senders.webhook, let session, let url = message.destination else { throw notConfigured }
            try webhook.send(url: url, id: "relais-\(message.id)", body: WebhookEvent.body(template: message.template, facts: message.facts),
                             now: Date(), over: session)
        }
    }

    var notConfigured: DeliveryFailure {
        DeliveryFailure(reason: "channel \(channel.rawValue) is not configured in this relais", permanent: false)
    }

    func log(_ message: OutboxMessage, _ result: DeliveryResult, _ duration: Duration) {
        let outcome: String
        var metadata: Logger.Metadata = [
            "message.id": "\(message.id)", "order": "\(message.orderId)", "template": "\(message.template)",
            "attempt": "\(message.attempt)", "duration_ms": "\(String(format: "%.1f", duration.seconds * 1000))",
        ]
        switch result {
        case .sent: outcome = "sent"
        case .retry(let at, let error):
            outcome = "retry"
            metadata["error"] = "\(error)"
            metadata["next_attempt"] = "\(at)"
        case .failed(let error):
            outcome = "failed"
            metadata["error"] = "\(error)"
        case .deferred(let until, let reason):
            outcome = "deferred"
            metadata["error"] = "\(reason)"
            metadata["next_attempt"] = "\(until)"
        }
        metadata["outcome"] = "\(outcome)"
        counters[outcome]?.increment()
        if outcome == "sent" {
            logger.info("delivered", metadata: metadata)
        } else if outcome == "deferred" {
            logger.notice("delivery deferred", metadata: metadata)
        } else {
            logger.warning("delivery failed", metadata: metadata)
        }
    }
}

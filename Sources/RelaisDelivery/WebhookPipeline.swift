import CurlClient
import Foundation
import RelaisDomain
import RelaisMessages

/// The webhook channel's sends: up to `webhookConcurrency` in flight at once on the
/// worker's own thread (libcurl's multi interface), each recorded as soon as it ends.
///
/// Webhooks go to the shops' own systems, and some of those are slow or dead. A slot
/// is refilled with the next due message as soon as its send ends, so an endpoint that
/// never answers holds one slot until the timeout while the other shops' messages go
/// out through the rest. An endpoint (host and port) that timed out is rested: its further messages
/// are deferred (without counting an attempt) for a backoff that starts at
/// `delivery_retry_base` and doubles with each timeout after a rest, up to
/// `delivery_retry_max`, so that a dead system cannot take slot after slot.
///
/// Not `Sendable`: it belongs to the worker's thread, like the outbox connection it
/// records with.
final class WebhookPipeline {
    private let worker: DeliveryWorker
    private let multi: CurlMulti
    /// The sends in flight, by message id (their tag in `multi`).
    private var inFlight: [Int64: (message: OutboxMessage, host: String, started: ContinuousClock.Instant)] = [:]
    /// Outcomes not recorded yet: kept across a PostgreSQL error and recorded once it is back.
    private var unrecorded: [(message: OutboxMessage, result: DeliveryResult, duration: Duration)] = []
    /// Endpoints (`host:port`) that timed out: until when their messages are deferred, and how many rests in a row.
    private var resting: [String: (until: Date, timeouts: Int)] = [:]
    /// When to look for due messages again after a claim found fewer than it could take.
    private var nextClaim = ContinuousClock.now

    /// The reason recorded for a message deferred because its endpoint timed out.
    static let restingReason = "webhook endpoint timed out recently; postponed without counting an attempt"

    init(worker: DeliveryWorker) throws {
        self.worker = worker
        multi = try CurlMulti(maximumConnectionsPerHost: worker.settings.webhookConnectionsPerHost)
    }

    /// Fills the free slots with due messages, drives the sends for a moment and records
    /// those that ended. Returns whether there is work in hand (false: the caller may pause).
    func step(_ outbox: any OutboxPort) throws -> Bool {
        try flush(outbox)
        let settings = worker.settings
        var claimed = 0
        let free = settings.webhookConcurrency - multi.count
        if free > 0 && ContinuousClock.now >= nextClaim {
            let messages = try outbox.claim(channel: .webhook, limit: free, lease: worker.lease)
            claimed = messages.count
            // Fewer than asked for: nothing else is due right now.
            if messages.count < free { nextClaim = .now + settings.pollInterval }
            for message in messages { start(message) }
            try flush(outbox)
        }
        if multi.count > 0 {
            // With free slots, come back to claim soon; with none, wait for a send to end.
            let wait: Duration = multi.count < settings.webhookConcurrency
                ? min(.milliseconds(50), max(.zero, nextClaim - .now)) : .milliseconds(200)
            for (tag, result) in multi.wait(upTo: wait) { finish(tag, result) }
            try flush(outbox)
        }
        return claimed > 0 || multi.count > 0
    }

    /// At shutdown: lets the sends in flight end for up to `grace`, puts the others back
    /// (due at once, attempt not counted: what they sent may or may not have arrived, and
    /// the receiver drops a duplicate by its `webhook-id`), and records everything.
    func drain(_ outbox: any OutboxPort, grace: Duration) {
        let deadline = ContinuousClock.now + grace
        while multi.count > 0 && ContinuousClock.now < deadline {
            for (tag, result) in multi.wait(upTo: .milliseconds(100)) { finish(tag, result) }
        }
        let now = Timestamp(Date())
        for tag in multi.cancelAll() {
            guard let entry = inFlight.removeValue(forKey: tag) else { continue }
            conclude(entry.message, .deferred(until: now, reason: "interrupted by shutdown"), entry.started)
        }
        do { try flush(outbox) } catch {
            worker.logger.warning("delivery outcomes not recorded at shutdown", metadata: ["error": "\(error)"])
        }
        multi.close()
    }

    private func start(_ message: OutboxMessage) {
        let started = ContinuousClock.now
        guard let webhook = worker.senders.webhook, let url = message.destination else {
            return conclude(message, worker.outcome(after: worker.notConfigured, message), started)
        }
        let host = Self.endpoint(of: url)
        if let rest = resting[host], rest.until > Date() {
            return conclude(message, .deferred(until: Timestamp(rest.until), reason: Self.restingReason), started)
        }
        do {
            let body = WebhookEvent.body(template: message.template, facts: message.facts)
            let request = try webhook.request(url: url, id: "relais-\(message.id)", body: body, now: Date())
            try webhook.start(request, tag: message.id, on: multi)
            inFlight[message.id] = (message, host, started)
        } catch {
            conclude(message, worker.outcome(after: error, message), started)
        }
    }

    private func finish(_ tag: Int64, _ result: Result<HTTPResponse, CurlError>) {
        guard let entry = inFlight.removeValue(forKey: tag) else { return }
        switch result {
        case .failure(let error) where error.code == .timedOut:
            rest(entry.host)
        case .success:
            resting[entry.host] = nil
        case .failure:
            break
        }
        let outcome = WebhookSender.failure(result).map { worker.outcome(after: $0, entry.message) } ?? .sent
        conclude(entry.message, outcome, entry.started)
    }

    /// Rests the endpoint `host` (`host:port`) after a timeout; the sends to it already in
    /// flight that time out during the rest do not lengthen it.
    private func rest(_ host: String) {
        let now = Date()
        if let current = resting[host], current.until > now { return }
        if resting.count > 10_000 { resting = resting.filter { $0.value.until > now } }
        let timeouts = (resting[host]?.timeouts ?? 0) + 1
        let retry = worker.settings.retry
        let seconds = min(retry.baseDelay.seconds * Double(UInt64(1) << UInt64(min(timeouts - 1, 30))), retry.maxDelay.seconds)
        resting[host] = (now.addingTimeInterval(seconds), timeouts)
    }

    private func conclude(_ message: OutboxMessage, _ result: DeliveryResult, _ started: ContinuousClock.Instant) {
        unrecorded.append((message, result, ContinuousClock.now - started))
    }

    private func flush(_ outbox: any OutboxPort) throws {
        guard !unrecorded.isEmpty else { return }
        try worker.record(outbox, unrecorded.map { DeliveryRecord(id: $0.message.id, attempt: $0.message.attempt, result: $0.result) })
        for entry in unrecorded { worker.log(entry.message, entry.result, entry.duration) }
        unrecorded.removeAll()
    }

    /// The endpoint a URL names, `host:port` in lower case: what is rested after a timeout.
    static func endpoint(of url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host?.lowercased() else { return url }
        return "\(host):\(components.port ?? (components.scheme?.lowercased() == "https" ? 443 : 80))"
    }
}

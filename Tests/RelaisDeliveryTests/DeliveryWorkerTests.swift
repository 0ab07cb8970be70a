import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import PostgresClient
import RelaisDomain
import RelaisMessages
import RelaisStore
import RelaisTestSupport
import RelaisWorkers
import Testing
@testable import RelaisDelivery

/// The outbox worker against the real PostgreSQL and HTTP endpoints: when outcomes are
/// recorded, and what slow or forbidden webhook endpoints do to the others.
@Suite struct DeliveryWorkerTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    static let templates = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("templates").path

    @Test func eachSendIsRecordedWhenItEndsAndAnOperatorsFailedStands() throws {
        let database = try TestServers.makeDatabase()
        let gateway = try GatedHTTPServer(holding: 2)
        defer { gateway.stop() }
        var settings = DeliverySettings()
        settings.sms = .init(url: "http://127.0.0.1:\(gateway.port)/sms", token: "tok")
        // One connection: the sends go one after another, the second held by the gateway.
        settings.connections[.sms] = 1
        let ids = try TestServers.withDatabase(database) { db in
            try [3.0, 2.0, 1.0].map { ago in try Self.insert(db, channel: "sms", destination: "+33612345678", secondsAgo: ago) }
        }
        let worker = try Self.worker(.sms, database, settings)
        defer { worker.stop() }

        // The second send is held by the gateway: the first is recorded meanwhile, not
        // when the batch ends.
        try #require(gateway.waitForRequests(2), "the gateway got \(gateway.requestCount) requests")
        let recorded = try eventually(timeout: .seconds(5)) { try Self.row(database, ids[0]).status == "sent" }
        #expect(recorded, "the first send ended, yet its row is \(String(describing: try? Self.row(database, ids[0])))")
        #expect(gateway.requestCount == 2, "the second send is still held")

        // An operator gives up on the message in flight; its send then succeeds.
        _ = try TestServers.withDatabase(database) { db in
            try db.query("UPDATE relais.outbox SET status = 'failed', last_error = 'given up by the operator' WHERE id = $1",
                         [String(ids[1])], name: "operator")
        }
        gateway.release()
        // The third send comes after the second one's record.
        #expect(try eventually(timeout: .seconds(10)) { try Self.row(database, ids[2]).status == "sent" })
        let second = try Self.row(database, ids[1])
        #expect(second.status == "failed" && second.error == "given up by the operator", "the operator's change was overwritten: \(second)")
        #expect(gateway.requestCount == 3)
    }

    @Test func endpointsThatNeverAnswerDoNotDelayAnotherShopsWebhook() throws {
        let database = try TestServers.makeDatabase()
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        let silent = try (0..<8).map { _ in try SilentListener() }
        defer { silent.forEach { $0.stop() } }
        var settings = DeliverySettings()
        settings.webhookSecret = Self.secret
        settings.webhookAddresses = WebhookAddressPolicy(allowing: [IPNetwork("127.0.0.1")!])
        settings.timeout = .seconds(4)
        settings.retry = RetryPolicy(maxAttempts: 10, baseDelay: .seconds(60), maxDelay: .seconds(600))
        let good = try TestServers.withDatabase(database) { db in
            for (index, listener) in silent.enumerated() {
                _ = try Self.insert(db, channel: "webhook", destination: "http://127.0.0.1:\(listener.port)/hook",
                                    secondsAgo: 20 - Double(index))
            }
            return try Self.insert(db, channel: "webhook", destination: sink.url("/webhook"), secondsAgo: 1)
        }

        let started = ContinuousClock.now
        let worker = try Self.worker(.webhook, database, settings)
        defer { worker.stop() }
        try #require(try eventually(timeout: .seconds(40)) { try Self.row(database, good).status == "sent" })
        // One at a time, the good shop's webhook waited for the eight timeouts: 32 s.
        let waited = ContinuousClock.now - started
        #expect(waited < .seconds(3), "the good shop's webhook waited \(waited) behind endpoints that never answer")
        #expect(sink.requests(path: "/webhook").first?.verified == true)

        // The silent endpoints time out and are retried later; meanwhile a further message
        // to one of them is postponed without a try, and other endpoints are not.
        #expect(try eventually(timeout: .seconds(15)) {
            try TestServers.withDatabase(database) { db in
                try db.query("SELECT count(*) FROM relais.outbox WHERE status = 'pending' AND last_error LIKE '%timed out%'",
                             name: "timed out").rows[0][0] == "8"
            }
        })
        let (later, other) = try TestServers.withDatabase(database) { db in
            (try Self.insert(db, channel: "webhook", destination: "http://127.0.0.1:\(silent[0].port)/hook", secondsAgo: 0),
             try Self.insert(db, channel: "webhook", destination: sink.url("/webhook"), secondsAgo: 0))
        }
        #expect(try eventually(timeout: .seconds(5)) { try Self.row(database, other).status == "sent" })
        #expect(try eventually(timeout: .seconds(5)) { try Self.row(database, later).error == WebhookPipeline.restingReason })
        let postponed = try Self.row(database, later)
        #expect(postponed.status == "pending" && postponed.attempts == 0, "\(postponed)")
        #expect(postponed.dueInSeconds > 30, "postponed for the rest of the endpoint's backoff: \(postponed)")
    }

    @Test func webhookToALoopbackSinkIsRefusedWithoutTheAllowList() throws {
        let database = try TestServers.makeDatabase()
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        var settings = DeliverySettings()
        settings.webhookSecret = Self.secret
        let id = try TestServers.withDatabase(database) { db in
            try Self.insert(db, channel: "webhook", destination: sink.url("/webhook"), secondsAgo: 1)
        }
        let worker = try Self.worker(.webhook, database, settings)
        defer { worker.stop() }
        #expect(try eventually(timeout: .seconds(10)) { try Self.row(database, id).status == "failed" })
        #expect(try Self.row(database, id).error == WebhookSender.addressRefused)
        #expect(sink.requests(path: "/webhook").isEmpty, "the sink on loopback was reached")
    }

    @Test func stoppingPutsWebhooksInFlightBackWithinTheGrace() throws {
        let database = try TestServers.makeDatabase()
        let silent = try SilentListener()
        defer { silent.stop() }
        var settings = DeliverySettings()
        settings.webhookSecret = Self.secret
        settings.webhookAddresses = WebhookAddressPolicy(allowing: [IPNetwork("127.0.0.1")!])
        settings.timeout = .seconds(60)
        let id = try TestServers.withDatabase(database) { db in
            try Self.insert(db, channel: "webhook", destination: "http://127.0.0.1:\(silent.port)/hook", secondsAgo: 1)
        }
        let worker = try Self.worker(.webhook, database, settings)
        try #require(try eventually(timeout: .seconds(10)) { try Self.row(database, id).attempts == 1 }, "never claimed")
        let stopping = ContinuousClock.now
        worker.stop()
        #expect(ContinuousClock.now - stopping < .seconds(5), "stopping waited for the send's own 60 s timeout")
        let row = try Self.row(database, id)
        #expect(row.status == "pending" && row.attempts == 0 && row.error == "interrupted by shutdown" && row.dueInSeconds <= 0,
                "\(row)")
    }

    @Test func stoppingPutsTheSMSNoConnectionTookBackDueAtOnce() throws {
        let database = try TestServers.makeDatabase()
        let gateway = try GatedHTTPServer(holding: 1)
        defer { gateway.stop() }
        var settings = DeliverySettings()
        settings.sms = .init(url: "http://127.0.0.1:\(gateway.port)/sms", token: "tok")
        settings.connections[.sms] = 1
        settings.timeout = .seconds(2)
        let ids = try TestServers.withDatabase(database) { db in
            try [3.0, 2.0, 1.0].map { ago in try Self.insert(db, channel: "sms", destination: "+33612345678", secondsAgo: ago) }
        }
        let worker = try Self.worker(.sms, database, settings)
        // The one connection's first send is held by the gateway; the other two wait in the queue.
        try #require(gateway.waitForRequests(1), "the gateway got \(gateway.requestCount) requests")
        worker.stop()
        #expect(gateway.requestCount == 1, "a queued message was sent while stopping")
        let held = try Self.row(database, ids[0])
        #expect(held.status == "pending" && held.attempts == 1 && held.error?.contains("SMS gateway") == true,
                "the send in hand ended (timed out) and was recorded for a retry: \(held)")
        for id in ids.dropFirst() {
            let row = try Self.row(database, id)
            #expect(row.status == "pending" && row.attempts == 0 && row.error == "relais stopped before sending it" && row.dueInSeconds <= 0,
                    "put back due at once, its attempt not counted: \(row)")
        }
    }

    // MARK: - Helpers

    /// Inserts a message due `secondsAgo` ago; returns its id.
    static func insert(_ db: PgConnection, channel: String, destination: String, secondsAgo: Double) throws -> Int64 {
        let json = String(decoding: try JSONEncoder().encode(facts()), as: UTF8.self)
        let template = channel == "webhook" ? "order-placed-shop" : "order-ready-customer"
        let recipient = channel == "webhook" ? "shop" : "customer"
        let rows = try db.query("""
            INSERT INTO relais.outbox (order_id, recipient, channel, destination, template, facts, next_attempt_at)
            VALUES ('o-1', $1, $2, $3, $4, $5::jsonb, now() - make_interval(secs => $6::float8)) RETURNING id
            """, [recipient, channel, destination, template, json, String(secondsAgo)], name: "insert message").rows
        return Int64(rows[0][0]!)!
    }

    /// What the test messages say: an order of one baguette, placed now.
    static func facts() -> MessageFacts {
        MessageFacts(orderId: "o-1", shopId: "s-1", shopName: "Boulangerie", timeZone: "Europe/Paris",
                     customerName: "Léa", language: .fr,
                     items: [.init(sku: "b", name: "Baguette", quantity: 1, unitPriceCents: 120)],
                     totalCents: 120, currency: "EUR", at: Timestamp(Date()), pickupDeadline: Timestamp(Date() + 3600))
    }

    /// A message's row as an operator sees it.
    struct Row: CustomStringConvertible {
        let status: String
        let attempts: Int
        let error: String?
        let dueInSeconds: Double
        var description: String { "\(status), attempts \(attempts), due in \(dueInSeconds) s, last_error \(error ?? "nil")" }
    }

    static func row(_ database: String, _ id: Int64) throws -> Row {
        try TestServers.withDatabase(database) { db in
            let row = try db.query("""
                SELECT status, attempts, last_error, extract(epoch FROM next_attempt_at - now()) FROM relais.outbox WHERE id = $1
                """, [String(id)], name: "read message").rows[0]
            return Row(status: row[0] ?? "", attempts: Int(row[1] ?? "") ?? -1, error: row[2], dueInSeconds: Double(row[3] ?? "") ?? 0)
        }
    }

    static func worker(_ channel: Channel, _ database: String, _ settings: DeliverySettings) throws -> RunningWorker {
        var settings = settings
        settings.pollInterval = .milliseconds(50)
        let renderer = MessageRenderer(templates: try TemplateSet(shipped: templates, overrides: nil))
        return RunningWorker(DeliveryWorker(channel: channel, outbox: Outbox.connector(databaseURL: database), settings: settings,
                                            renderer: renderer, logger: Logger(label: "test")))
    }
}

/// A delivery worker running on a thread of its own, as the daemon runs it.
final class RunningWorker: Sendable {
    private let thread: WorkerThread

    init(_ worker: DeliveryWorker) {
        thread = WorkerThread.start(name: "delivery-test") { stop in worker.run(until: stop) }
    }

    /// Asks the worker to stop and waits for it (at most 15 s).
    func stop() { thread.stopAndWait(timeout: .seconds(15)) }
}

/// A TCP listener that completes connections (the kernel does) but never reads or
/// answers: an endpoint that never replies.
final class SilentListener {
    let port: Int
    private var fd: Int32

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        guard bound == 0, listen(socket, 64) == 0 else {
            close(socket)
            throw TestSetupError("silent listener: bind or listen failed")
        }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        fd = socket
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { stop() }

    func stop() {
        if fd >= 0 { close(fd) }
        fd = -1
    }
}

/// An HTTP/1.1 server on 127.0.0.1 that answers every request 200 at once, except the
/// request number `held` (counting from 1), which waits for `release()`.
final class GatedHTTPServer: @unchecked Sendable {
    // @unchecked: the counters are only touched under `condition`; `fd` is set once.
    let port: Int
    private let fd: Int32
    private let held: Int
    private let condition = NSCondition()
    private var received = 0
    private var released = false

    init(holding held: Int) throws {
        self.held = held
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fd = socket
        var reuse: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
        guard bound == 0, listen(socket, 16) == 0 else { throw TestSetupError("gated server: bind or listen failed") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// How many requests arrived so far.
    var requestCount: Int { condition.withLock { received } }

    /// Waits until `count` requests arrived.
    func waitForRequests(_ count: Int, timeout: Duration = .seconds(10)) -> Bool {
        eventually(timeout: timeout, every: .milliseconds(20)) { requestCount >= count }
    }

    /// Lets the held request have its answer.
    func release() {
        condition.withLock {
            released = true
            condition.broadcast()
        }
    }

    func stop() {
        release()
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    private func acceptLoop() {
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            Thread.detachNewThread { [self] in serve(client) }
        }
    }

    private func serve(_ client: Int32) {
        defer { close(client) }
        var buffer: [UInt8] = []
        while readRequest(client, &buffer) {
            condition.lock()
            received += 1
            if received == held { while !released { condition.wait() } }
            condition.unlock()
            let answer = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
            guard answer.withUnsafeBytes({ send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == answer.count else { return }
        }
    }

    /// Reads one request (headers and a Content-Length body) off `buffer` and the socket.
    private func readRequest(_ client: Int32, _ buffer: inout [UInt8]) -> Bool {
        let separator = Array("\r\n\r\n".utf8)
        while true {
            if let end = buffer.firstRange(of: separator) {
                let head = String(decoding: buffer[..<end.lowerBound], as: UTF8.self).lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if buffer.count >= end.upperBound + length {
                    buffer.removeFirst(end.upperBound + length)
                    return true
                }
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return false }
            buffer += chunk[..<n]
        }
    }
}

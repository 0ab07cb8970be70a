import Foundation
import PostgresClient
import Logging
import RedisClient
import RelaisDomain
import RelaisQueue
import RelaisStore
import RelaisTestSupport
import Testing

/// A running engine on its own prefix and database, with the real stock processor.
final class EngineHarness: Sendable {
    let prefix = TestServers.makePrefix()
    let databaseURL: String
    let settings: QueueSettings
    let engine: QueueEngine
    private let task: Task<Void, Never>

    init(lockTimeout: String = "5s", _ configure: (inout QueueSettings) -> Void = { _ in }) throws {
        databaseURL = try TestServers.makeDatabase()
        var settings = QueueSettings()
        settings.prefix = prefix
        settings.instance = "test"
        settings.blockTimeout = .milliseconds(200)
        settings.retry = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        configure(&settings)
        self.settings = settings
        let url = databaseURL
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        engine = QueueEngine(redis: try TestServers.redis, settings: settings,
                             queues: [QueueDefinition(StockCatalog()) { try StockProcessor(conninfo: url, lockTimeout: lockTimeout) }],
                             logger: logger)
        let engine = self.engine
        task = Task.detached { await engine.run() }
    }

    var stream: String { "\(prefix):stock" }

    func stop() async {
        engine.stop()
        await task.value
    }

    func redis<R>(_ body: (RedisConnection) throws -> R) throws -> R { try TestServers.withRedis(body) }

    func xadd(_ payload: String) throws {
        _ = try redis { try $0.command("XADD", stream, "*", "job", payload) }
    }

    /// Creates the consumer group as the engine would, for tests that act before it runs.
    func ensureGroup() throws {
        try redis { r in
            do {
                try r.command("XGROUP", "CREATE", stream, "relais", "0", "MKSTREAM")
            } catch let error as RedisError where error.message.hasPrefix("BUSYGROUP") {
                // The engine made it first.
            }
        }
    }

    func deadLetters() throws -> [StreamEntry] {
        try redis { StreamReplies.range(try $0.command("XRANGE", "\(prefix):dead", "-", "+")) }
    }

    func drained() throws -> Bool {
        try redis { r throws in
            let length = try r.command("XLEN", stream).integer ?? -1
            let retries = try r.command("ZCARD", "\(prefix):stock:retry").integer ?? -1
            return length == 0 && retries == 0
        }
    }
}

func adjustPayload(_ id: String, shop: String, sku: String = "a", delta: Int = 1) -> String {
    #"{"id":"\#(id)","type":"stock.adjust","data":{"shop_id":"\#(shop)","sku":"\#(sku)","delta":\#(delta),"at":"2026-11-28T10:00:00Z"}}"#
}

@Suite("Queue engine against real Redis and PostgreSQL", .serialized)
struct QueueEngineTests {
    @Test func transientFailureIsRetriedWithBackoffAndTakesEffectOnce() async throws {
        let harness = try EngineHarness(lockTimeout: "100ms")
        try TestServers.withDatabase(harness.databaseURL) { holder throws in
            try holder.query("INSERT INTO relais.stock_items (shop_id, sku, on_hand) VALUES ('s', 'a', 10)", name: "seed")
            try holder.execute("BEGIN", name: "begin")
            try holder.query("SELECT * FROM relais.stock_items FOR UPDATE", name: "lock")
            try harness.xadd(adjustPayload("r-1", shop: "s", delta: 5))
            let retried = try eventually(timeout: .seconds(10)) {
                try harness.redis { try $0.command("ZCARD", "\(harness.prefix):stock:retry").integer ?? 0 } > 0
            }
            #expect(retried, "the locked job waits in the retry set")
            try holder.execute("ROLLBACK", name: "release")
        }
        #expect(try eventually { try onHand(harness.databaseURL, shop: "s") == ["a": 15] })
        #expect(try eventually { try harness.drained() })
        #expect(try harness.deadLetters().isEmpty)
        await harness.stop()
    }

    @Test func lastFailedAttemptGoesToTheDeadLettersWithTheReason() async throws {
        let harness = try EngineHarness(lockTimeout: "50ms") { $0.retry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(50)) }
        try TestServers.withDatabase(harness.databaseURL) { holder throws in
            try holder.query("INSERT INTO relais.stock_items (shop_id, sku, on_hand) VALUES ('s', 'a', 10)", name: "seed")
            try holder.execute("BEGIN", name: "begin")
            try holder.query("SELECT * FROM relais.stock_items FOR UPDATE", name: "lock")
            try harness.xadd(adjustPayload("r-2", shop: "s", delta: 5))
            #expect(try eventually(timeout: .seconds(10)) { try !harness.deadLetters().isEmpty })
            try holder.execute("ROLLBACK", name: "release")
        }
        let letter = try #require(try harness.deadLetters().first?.fields)
        #expect(String(decoding: letter["code"] ?? [], as: UTF8.self) == "attempts_exhausted")
        #expect(String(decoding: letter["attempts"] ?? [], as: UTF8.self) == "2")
        #expect(String(decoding: letter["reason"] ?? [], as: UTF8.self).contains("55P03"))
        #expect(String(decoding: letter["job_id"] ?? [], as: UTF8.self) == "r-2")
        #expect(try onHand(harness.databaseURL, shop: "s") == ["a": 10])
        await harness.stop()
    }

    @Test func entriesHeldBeforeARestartAreReadAgainAtStart() async throws {
        let prefixHolder = try EngineHarness()
        await prefixHolder.stop()
        try prefixHolder.ensureGroup()
        // Simulate the previous run of the same consumer: it read the entry and died.
        try prefixHolder.xadd(adjustPayload("held", shop: "s", delta: 4))
        _ = try prefixHolder.redis {
            try $0.command("XREADGROUP", "GROUP", "relais", "test-stock-1", "COUNT", "10", "STREAMS", prefixHolder.stream, ">")
        }
        let restarted = EngineRestart(of: prefixHolder)
        #expect(try eventually(timeout: .seconds(5)) { try onHand(prefixHolder.databaseURL, shop: "s") == ["a": 4] },
                "read from its own pending entries at start, without waiting for the claim timeout")
        #expect(try eventually { try prefixHolder.drained() })
        await restarted.stop()
    }

    @Test func idleEntriesOfADeadConsumerAreClaimed() async throws {
        let harness = try EngineHarness { $0.claimIdle = .milliseconds(500) }
        try harness.ensureGroup()
        try harness.xadd(adjustPayload("ghosted", shop: "s", delta: 2))
        _ = try harness.redis { try $0.command("XREADGROUP", "GROUP", "relais", "ghost", "COUNT", "10", "STREAMS", harness.stream, ">") }
        // The engine may have taken it first; either way it must take effect exactly once.
        #expect(try eventually(timeout: .seconds(10)) { try onHand(harness.databaseURL, shop: "s") == ["a": 2] })
        #expect(try eventually { try harness.drained() })
        let pending = try harness.redis { try $0.command("XPENDING", harness.stream, "relais").elements.first?.integer }
        #expect(pending == 0)
        await harness.stop()
    }

    @Test func slowBatchKeepsItsLeaseAndIsNotClaimedTwice() async throws {
        // A batch held up far longer than the claim timeout by a row lock. (The claim
        // timeout leaves room for a busy CI machine: a renewal late by more than it is a
        // stalled instance, which the rival is right to take over.)
        let harness = try EngineHarness(lockTimeout: "10s") { $0.claimIdle = .milliseconds(1500) }
        let holder = try PgConnection(harness.databaseURL)
        defer { holder.close() }
        try holder.query("INSERT INTO relais.stock_items (shop_id, sku, on_hand) VALUES ('s', 'a', 0)", name: "seed")
        try holder.execute("BEGIN", name: "begin")
        try holder.query("SELECT * FROM relais.stock_items FOR UPDATE", name: "lock")
        try harness.xadd(adjustPayload("slow", shop: "s", delta: 1))
        // Another instance on the same queue, eager to claim idle entries.
        var other = harness.settings
        other.instance = "other"
        let rival = EngineRestart(of: harness, settings: other)
        try await Task.sleep(for: .seconds(5))
        try holder.execute("COMMIT", name: "release")
        #expect(try eventually { try harness.drained() })
        await rival.stop()
        let rivalJobs = rival.engine.consumerSnapshots.reduce(0) { $0 + $1.jobsFinished }
        #expect(rivalJobs == 0, "the rival claimed an entry whose lease was being renewed")
        #expect(try onHand(harness.databaseURL, shop: "s") == ["a": 1])
        await harness.stop()
    }

    @Test func jobDeliveredTooOftenIsDeadLetteredAsPoison() async throws {
        let harness = try EngineHarness { $0.claimIdle = .milliseconds(500); $0.maxDeliveries = 3 }
        await harness.stop()
        try harness.ensureGroup()
        try harness.xadd(adjustPayload("poison", shop: "s", delta: 2))
        try harness.redis { r throws in
            // A consumer that keeps crashing on this entry: each start re-reads it.
            try r.command("XREADGROUP", "GROUP", "relais", "crasher", "COUNT", "10", "STREAMS", harness.stream, ">")
            for _ in 0..<3 {
                try r.command("XREADGROUP", "GROUP", "relais", "crasher", "COUNT", "10", "STREAMS", harness.stream, "0")
            }
        }
        let restarted = EngineRestart(of: harness)
        #expect(try eventually(timeout: .seconds(10)) { try !harness.deadLetters().isEmpty })
        let letter = try #require(try harness.deadLetters().first?.fields)
        #expect(String(decoding: letter["code"] ?? [], as: UTF8.self) == "poison")
        #expect(try onHand(harness.databaseURL, shop: "s").isEmpty, "a poison job takes no effect")
        await restarted.stop()
    }
}

/// A second engine on the same prefix and database as `harness`, as after a restart.
final class EngineRestart: Sendable {
    let engine: QueueEngine
    private let task: Task<Void, Never>

    init(of harness: EngineHarness, settings: QueueSettings? = nil) {
        let url = harness.databaseURL
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        engine = QueueEngine(redis: try! TestServers.redis, settings: settings ?? harness.settings,
                             queues: [QueueDefinition(StockCatalog()) { try StockProcessor(conninfo: url) }], logger: logger)
        let engine = self.engine
        task = Task.detached { await engine.run() }
    }

    func stop() async {
        engine.stop()
        await task.value
    }
}

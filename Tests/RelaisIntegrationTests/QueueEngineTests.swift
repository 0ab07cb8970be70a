import Foundation
import Logging
import PostgresClient
import RedisClient
import RelaisDomain
import RelaisJobs
@testable import RelaisQueue
import RelaisTestSupport
import Synchronization
import Testing

/// A family written for the engine's tests: no PostgreSQL. A job's payload is its id;
/// what the handler does with it is set per id, and every effect is counted, by engine.
final class ScriptedFamily: Sendable {
    enum Script: Sendable { case apply, retry(String), dead(String), wait }

    private struct State {
        var scripts: [String: Script] = [:]
        var applied: [String: Int] = [:]
        var handledBy: [String: [String]] = [:]
        var waiting: Set<String> = []
        var released = false
    }
    private let state = Mutex(State())
    private let released = NSCondition()

    /// What to do with `id` from now on.
    func script(_ id: String, _ script: Script) { state.withLock { $0.scripts[id] = script } }

    /// How often `id`'s effect was applied.
    func applied(_ id: String) -> Int { state.withLock { $0.applied[id] ?? 0 } }

    /// The engines (by label) whose handler was handed `id`, once per time.
    func handlers(of id: String) -> [String] { state.withLock { $0.handledBy[id] ?? [] } }

    /// Whether a handler is holding `id` in a `.wait` script now.
    func isWaiting(_ id: String) -> Bool { state.withLock { $0.waiting.contains(id) } }

    /// Lets every `.wait` job go on and be applied.
    func release() {
        released.lock()
        state.withLock { $0.released = true }
        released.broadcast()
        released.unlock()
    }

    /// The `stock` queue run by this family's handlers, labelled `label` in `handlers(of:)`.
    func family(_ label: String) -> JobFamily {
        JobFamily(queue: "stock", types: ["test.job"]) { Handler(family: self, label: label) }
    }

    fileprivate func handle(_ job: StreamJob, label: String) -> HandledJob {
        let id = String(decoding: job.payload, as: UTF8.self)
        let script = state.withLock { s -> Script in
            s.handledBy[id, default: []].append(label)
            return s.scripts[id] ?? .apply
        }
        if job.excessDeliveries != nil { return HandledJob(.dead(JobRejection(.poison, "too often")), id: id, type: "test.job") }
        switch script {
        case .retry(let reason): return HandledJob(.retry(reason: reason), id: id, type: "test.job")
        case .dead(let reason): return HandledJob(.dead(JobRejection(.permanentFailure, reason)), id: id, type: "test.job")
        case .wait:
            released.lock()
            state.withLock { _ = $0.waiting.insert(id) }
            while !state.withLock({ $0.released }) { released.wait() }
            state.withLock { _ = $0.waiting.remove(id) }
            released.unlock()
        case .apply: break
        }
        state.withLock { $0.applied[id, default: 0] += 1 }
        return HandledJob(.done, id: id, type: "test.job")
    }

    private final class Handler: JobHandler {
        let family: ScriptedFamily
        let label: String
        init(family: ScriptedFamily, label: String) {
            self.family = family
            self.label = label
        }
        func handle(_ jobs: [StreamJob]) throws -> [HandledJob] { jobs.map { family.handle($0, label: label) } }
        func close() {}
    }
}

/// A running engine on its own prefix, with any family.
final class EngineHarness: Sendable {
    let prefix: String
    let settings: QueueSettings
    let engine: QueueEngine
    private let task: Task<Void, Never>

    init(prefix: String = TestServers.makePrefix(), family: JobFamily, _ configure: (inout QueueSettings) -> Void = { _ in }) throws {
        self.prefix = prefix
        var settings = QueueSettings()
        settings.prefix = prefix
        settings.instance = "test"
        settings.blockTimeout = .milliseconds(200)
        settings.retry = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        configure(&settings)
        self.settings = settings
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        engine = QueueEngine(redis: try TestServers.redis, settings: settings, families: [family], logger: logger)
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

    func deadLetters() throws -> [StreamEntry] {
        try redis { StreamReplies.range(try $0.command("XRANGE", "\(prefix):dead", "-", "+")) }
    }

    func drained() throws -> Bool {
        try redis { r throws in
            let length = try r.command("XLEN", stream).integer ?? -1
            let retries = try r.command("ZCARD", "\(stream):retry").integer ?? -1
            return length == 0 && retries == 0
        }
    }

    /// Whether every consumer of this engine has read from Redis and is going round.
    func running() -> Bool {
        engine.consumerSnapshots.allSatisfy { if case .running = $0.state { true } else { false } }
    }
}

/// The consumer group, made as the engine makes it, and one entry read into it by
/// `consumer` (a consumer of an earlier run, or of a dead instance) before any engine runs.
func entryHeld(by consumer: String, prefix: String, payload: String) throws {
    let stream = "\(prefix):stock"
    try TestServers.withRedis { r throws in
        try r.command("XGROUP", "CREATE", stream, "relais", "0", "MKSTREAM")
        try r.command("XADD", stream, "*", "job", payload)
        let read = StreamReplies.readGroup(try r.command("XREADGROUP", "GROUP", "relais", consumer, "COUNT", "10", "STREAMS", stream, ">"))
        #expect(read.count == 1, "the entry is held by \(consumer) before the engine starts")
    }
}

func field(_ letter: [String: [UInt8]], _ name: String) -> String { String(decoding: letter[name] ?? [], as: UTF8.self) }

@Suite("Queue engine against real Redis, with a handler written for the test")
struct QueueEngineTests {
    @Test func aRetriedJobIsHandedBackAfterItsDelayAndTakesEffectOnce() async throws {
        let family = ScriptedFamily()
        family.script("r-1", .retry("the shop's lock is taken"))
        let harness = try EngineHarness(family: family.family("engine"))
        try harness.xadd("r-1")
        let retried = try eventually(timeout: .seconds(10)) {
            try harness.redis { try $0.command("ZCARD", "\(harness.stream):retry").integer ?? 0 } > 0
        }
        #expect(retried, "the job waits in the retry set")
        family.script("r-1", .apply)
        #expect(eventually { family.applied("r-1") == 1 })
        #expect(try eventually { try harness.drained() })
        #expect(family.handlers(of: "r-1").count >= 2, "handed once, then again after the retry")
        #expect(try harness.deadLetters().isEmpty)
        await harness.stop()
        #expect(family.applied("r-1") == 1)
    }

    @Test func lastFailedAttemptGoesToTheDeadLettersWithTheReason() async throws {
        let family = ScriptedFamily()
        family.script("r-2", .retry("lock timeout 55P03"))
        let harness = try EngineHarness(family: family.family("engine")) {
            $0.retry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(50))
        }
        try harness.xadd("r-2")
        #expect(try eventually(timeout: .seconds(10)) { try !harness.deadLetters().isEmpty })
        let letter = try #require(try harness.deadLetters().first?.fields)
        #expect(field(letter, "code") == "attempts_exhausted")
        #expect(field(letter, "attempts") == "2")
        #expect(field(letter, "reason") == "gave up after 2 attempts: lock timeout 55P03")
        #expect(field(letter, "job_id") == "r-2")
        #expect(field(letter, "job") == "r-2", "the letter keeps the payload for a replay")
        #expect(family.handlers(of: "r-2").count == 2)
        #expect(family.applied("r-2") == 0)
        await harness.stop()
    }

    @Test func entriesHeldBeforeARestartAreReadAgainAtStart() async throws {
        let family = ScriptedFamily()
        let prefix = TestServers.makePrefix()
        // The previous run of the same consumer read the entry and died. The claim
        // timeout is the default minute: only reading its own history finds it sooner.
        try entryHeld(by: "test-stock-1", prefix: prefix, payload: "held")
        let harness = try EngineHarness(prefix: prefix, family: family.family("engine")) { $0.workersPerQueue = 1 }
        #expect(eventually(timeout: .seconds(10)) { family.applied("held") == 1 },
                "read from its own pending entries at start, without waiting for the claim timeout")
        #expect(try eventually { try harness.drained() })
        await harness.stop()
    }

    @Test func idleEntriesOfADeadConsumerAreClaimed() async throws {
        let family = ScriptedFamily()
        let prefix = TestServers.makePrefix()
        // Held by a consumer that no engine runs: only a claim can take it over.
        try entryHeld(by: "ghost", prefix: prefix, payload: "ghosted")
        let harness = try EngineHarness(prefix: prefix, family: family.family("engine")) { $0.claimIdle = .milliseconds(500) }
        #expect(eventually(timeout: .seconds(10)) { family.applied("ghosted") == 1 })
        #expect(try eventually { try harness.drained() })
        let pending = try harness.redis { try $0.command("XPENDING", harness.stream, "relais").elements.first?.integer }
        #expect(pending == 0)
        #expect(family.handlers(of: "ghosted") == ["engine"])
        await harness.stop()
    }

    @Test func aSlowBatchKeepsItsLeaseAndARivalNeverTakesIt() async throws {
        let family = ScriptedFamily()
        family.script("slow", .wait)
        let harness = try EngineHarness(family: family.family("first")) { $0.claimIdle = .milliseconds(1500) }
        try harness.xadd("slow")
        #expect(eventually(timeout: .seconds(10)) { family.isWaiting("slow") }, "the first engine holds the job")
        // Another instance on the same queue, eager to claim idle entries.
        var other = harness.settings
        other.instance = "other"
        other.workersPerQueue = 1
        let rival = try EngineHarness(prefix: harness.prefix, family: family.family("rival")) { $0 = other }
        #expect(try eventually(timeout: .seconds(10)) { try rival.running() && consumers(of: rival).contains("other-stock-1") },
                "the rival is in the group, reading and claiming")
        // The property is about time: the batch is held three idle times while the rival,
        // running all along, claims every half idle time.
        let heldUntil = ContinuousClock.now + harness.settings.claimIdle * 3
        #expect(eventually(timeout: .seconds(30)) { ContinuousClock.now >= heldUntil && rival.running() && family.isWaiting("slow") })
        family.release()
        #expect(try eventually { try harness.drained() })
        await rival.stop()
        await harness.stop()
        #expect(family.handlers(of: "slow") == ["first"], "the rival claimed an entry whose lease was being renewed")
        #expect(family.applied("slow") == 1)
    }

    @Test func jobDeliveredTooOftenIsHandedAsPoison() async throws {
        let family = ScriptedFamily()
        let prefix = TestServers.makePrefix()
        try entryHeld(by: "crasher", prefix: prefix, payload: "poison")
        // A consumer that keeps crashing on this entry: each start re-reads it.
        try TestServers.withRedis { r throws in
            for _ in 0..<3 {
                try r.command("XREADGROUP", "GROUP", "relais", "crasher", "COUNT", "10", "STREAMS", "\(prefix):stock", "0")
            }
        }
        let harness = try EngineHarness(prefix: prefix, family: family.family("engine")) {
            $0.claimIdle = .milliseconds(500)
            $0.maxDeliveries = 3
        }
        #expect(try eventually(timeout: .seconds(10)) { try !harness.deadLetters().isEmpty })
        let letter = try #require(try harness.deadLetters().first?.fields)
        #expect(field(letter, "code") == "poison")
        #expect(family.applied("poison") == 0, "a poison job takes no effect")
        await harness.stop()
    }

    @Test func aHandlerThatCannotReachItsStoreLeavesTheBatchPending() async throws {
        let failing = Mutex(true)
        let family = ScriptedFamily()
        let flaky = JobFamily(queue: "stock", types: ["test.job"]) {
            struct StoreDown: Error {}
            if failing.withLock({ $0 }) { throw StoreDown() }
            return try family.family("engine").makeHandler()
        }
        let harness = try EngineHarness(family: flaky)
        try harness.xadd("kept")
        #expect(eventually(timeout: .seconds(10)) {
            harness.engine.consumerSnapshots.contains { if case .waitingForStore = $0.state { true } else { false } }
        })
        #expect(try harness.redis { try $0.command("XLEN", harness.stream).integer } == 1, "the entry stays in the stream")
        failing.withLock { $0 = false }
        #expect(eventually(timeout: .seconds(15)) { family.applied("kept") == 1 })
        #expect(try eventually { try harness.drained() })
        await harness.stop()
    }
}

/// The names of the consumers in `engine`'s group, as Redis knows them.
func consumers(of engine: EngineHarness) throws -> [String] {
    try engine.redis { r throws in
        try r.command("XINFO", "CONSUMERS", engine.stream, "relais").elements.compactMap { consumer in
            let fields = consumer.elements
            guard let at = fields.firstIndex(where: { $0.string == "name" }), at + 1 < fields.count else { return nil }
            return fields[at + 1].string
        }
    }
}

/// The `stock` family through the engine, with its real processor and PostgreSQL.
@Suite("The stock family on the engine, against real Redis and PostgreSQL")
struct StockFamilyOnTheEngineTests {
    @Test func aLockedRowRetriesTheJobWhichThenTakesEffectOnce() async throws {
        let url = try TestServers.makeDatabase()
        let harness = try EngineHarness(family: FamilyAdapter.stock.family(FamilyEnvironment(databaseURL: url, lockTimeout: "100ms")))
        try TestServers.withDatabase(url) { holder throws in
            try holder.query("INSERT INTO relais.stock_items (shop_id, sku, on_hand) VALUES ('s', 'a', 10)", name: "seed")
            try holder.execute("BEGIN", name: "begin")
            try holder.query("SELECT * FROM relais.stock_items FOR UPDATE", name: "lock")
            try harness.xadd(adjustPayload("r-1", shop: "s", delta: 5))
            let retried = try eventually(timeout: .seconds(10)) {
                try harness.redis { try $0.command("ZCARD", "\(harness.stream):retry").integer ?? 0 } > 0
            }
            #expect(retried, "the locked job waits in the retry set")
            try holder.execute("ROLLBACK", name: "release")
        }
        #expect(try eventually { try onHand(url, shop: "s") == ["a": 15] })
        #expect(try eventually { try harness.drained() })
        #expect(try harness.deadLetters().isEmpty)
        await harness.stop()
    }

    @Test func anInvalidJobIsDeadLetteredWithTheFieldAndTheValidOnesApply() async throws {
        let url = try TestServers.makeDatabase()
        let harness = try EngineHarness(family: FamilyAdapter.stock.family(FamilyEnvironment(databaseURL: url)))
        try harness.xadd(adjustPayload("ok-1", shop: "s", delta: 3))
        try harness.xadd(adjustPayload("bad-1", shop: "s", delta: 0))
        #expect(try eventually { try harness.drained() })
        let letter = try #require(try harness.deadLetters().first?.fields)
        #expect(field(letter, "code") == "invalid_field")
        #expect(field(letter, "reason") == "data.delta: must not be zero")
        #expect(field(letter, "job_id") == "bad-1")
        #expect(field(letter, "job_type") == "stock.adjust")
        #expect(try onHand(url, shop: "s") == ["a": 3])
        await harness.stop()
    }
}

func adjustPayload(_ id: String, shop: String, sku: String = "a", delta: Int = 1) -> String {
    #"{"id":"\#(id)","type":"stock.adjust","data":{"shop_id":"\#(shop)","sku":"\#(sku)","delta":\#(delta),"at":"2026-11-28T10:00:00Z"}}"#
}

/// The settle script against a real Redis, on its own.
@Suite("The settle script")
struct SettleScriptTests {
    @Test func withoutItsGroupTheScriptWritesNothingAndSaysWhy() throws {
        let prefix = TestServers.makePrefix()
        let stream = "\(prefix):stock", dead = "\(prefix):dead", retry = "\(stream):retry"
        try TestServers.withRedis { r throws in
            let id = try #require(try r.command("XADD", stream, "*", "job", "x").string)
            // A dead letter and a retry for an entry of a stream whose group is gone.
            // A pipeline returns an error reply instead of throwing it.
            let reply = try r.pipeline([["EVAL", Consumer.settleScript, "3", stream, dead, retry, "relais", "1000",
                                         "D", id, "1", "code", "invalid_field", "R", id, "1", "1|\(id)|x"]])[0]
            guard case .error(let message) = reply else {
                Issue.record("the script ran without its group: \(reply)")
                return
            }
            #expect(message.contains("NOGROUP"), "\(message)")
            #expect(try r.command("EXISTS", dead).integer == 0, "no dead letter written")
            #expect(try r.command("EXISTS", retry).integer == 0, "no retry written")
            #expect(try r.command("XLEN", stream).integer == 1, "the entry is left as it was")
        }
    }

    @Test func withItsGroupTheLetterIsWrittenAndTheEntryAcknowledged() throws {
        let prefix = TestServers.makePrefix()
        let stream = "\(prefix):stock", dead = "\(prefix):dead", retry = "\(stream):retry"
        try TestServers.withRedis { r throws in
            try r.command("XGROUP", "CREATE", stream, "relais", "0", "MKSTREAM")
            try r.command("XADD", stream, "*", "job", "x")
            let id = try #require(StreamReplies.readGroup(
                try r.command("XREADGROUP", "GROUP", "relais", "c", "COUNT", "1", "STREAMS", stream, ">")).first?.id)
            let reply = try r.command("EVAL", Consumer.settleScript, "3", stream, dead, retry, "relais", "1000",
                                      "D", id, "1", "code", "invalid_field")
            #expect(reply.elements.isEmpty, "no entry left pending: \(reply)")
            #expect(try r.command("XLEN", dead).integer == 1)
            #expect(try r.command("XLEN", stream).integer == 0)
        }
    }
}

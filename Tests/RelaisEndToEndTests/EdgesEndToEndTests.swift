import Foundation
import RelaisTestSupport
import Testing

/// The promises at the edges: what a hostile producer writes in a stream entry, a Redis
/// write that fails while a batch settles, and servers that hang.
@Suite("relais serve at the edges: hostile entries, failed writes, hung servers", .serialized)
struct EdgesEndToEndTests {
    /// An `attempt` field is Relais's to write, but a producer can write one too: absurd
    /// values on jobs that get retried must neither trap nor make the daemon crash-loop.
    @Test func forgedAttemptCountsCannotCrashTheDaemon() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        let stream = "\(deployment.prefix):orders"
        // Events for orders not placed yet: each is retried, so the retry schedule runs on the attempt.
        let attempts = ["-9223372036854775808", "9223372036854775807", "-1", "0", "abc", "99999999999999999999999"]
        for (n, attempt) in attempts.enumerated() {
            try deployment.producer.run(["XADD", stream, "*", "job", event("ghost-\(n)", "confirmed"), "attempt", attempt])
        }
        try deployment.producer.xadd(queue: "orders", payload: placed("alive", items: [("pain", "Pain", 1, 120)]))
        #expect(eventually(timeout: .seconds(20)) { (try? deployment.query("SELECT 1 FROM relais.order_status WHERE order_id = 'alive'").count) == 1 },
                "the order after the forged entries was not applied:\n\(daemon.log)")
        let settled = eventually(timeout: .seconds(20)) {
            let retrying = Int((try? deployment.producer.run(["ZCARD", "\(stream):retry"])) ?? "") ?? 0
            let dead = (try? deployment.deadLetters().count) ?? 0
            return retrying + dead == attempts.count
        }
        #expect(settled, "every forged entry is either waiting for a retry or dead-lettered")
        #expect(daemon.process.isRunning, "the daemon died:\n\(daemon.log)")
        #expect(daemon.get("/readyz").status == 200)
        // A forged count at or past the limit can only make its own job give up early.
        let exhausted = try deployment.deadLetters().filter { $0["code"] == "attempts_exhausted" }
        #expect(exhausted.allSatisfy { Int($0["attempts"] ?? "") ?? 0 <= 8 }, "attempts are clamped: \(exhausted)")
    }

    /// A dead letter that cannot be written (the dead-letter key has the wrong type)
    /// leaves the entry pending instead of acknowledging it; once the key is fixed, the
    /// letter is written and the entry goes.
    @Test func aDeadLetterThatCannotBeWrittenLeavesTheEntryPending() throws {
        let deployment = try Deployment()
        let p = deployment.producer
        try p.run(["SET", "\(deployment.prefix):dead", "x"])
        let daemon = try deployment.start(["RELAIS_BLOCK_TIMEOUT": "200ms"])
        defer { daemon.stop() }
        try p.xadd(queue: "stock", payload: #"{"id":"bad-1","type":"stock.adjust","data":{"shop_id":"s"}}"#)
        #expect(eventually(timeout: .seconds(20)) { daemon.log.contains("could not record a dead letter") },
                "the failed write is reported:\n\(daemon.log)")
        #expect(try p.run(["XLEN", "\(deployment.prefix):stock"]) == "1", "the entry is still in the stream")
        #expect(try p.run(["XPENDING", "\(deployment.prefix):stock", "relais"]).split(separator: "\n").first == "1",
                "the entry is still pending")
        #expect(eventually(timeout: .seconds(10)) { daemon.get("/readyz").status == 503 }, "not ready while letters cannot be written")

        try p.run(["DEL", "\(deployment.prefix):dead"])
        #expect(eventually(timeout: .seconds(20)) { (try? deployment.deadLetters().count) == 1 }, "written once the key is fixed:\n\(daemon.log)")
        let letter = try #require(try deployment.deadLetters().first)
        #expect(letter["job_id"] == "bad-1" && letter["code"] == "missing_field", "\(letter)")
        #expect(try deployment.waitUntilDrained())
    }

    /// A queue's consumer group that cannot be made (its key holds another type, Redis
    /// is loading or out of memory) is waited for, not a crash; once the key is fixed,
    /// the queue runs.
    @Test func aQueueKeyOfTheWrongTypeIsWaitedForNotACrash() throws {
        let deployment = try Deployment()
        let p = deployment.producer
        try p.run(["SET", "\(deployment.prefix):stock", "x"])
        let daemon = try Daemon(environment: try deployment.environment())
        defer { daemon.stop() }
        #expect(eventually(timeout: .seconds(20)) { daemon.log.contains("WRONGTYPE") }, "the failure is reported:\n\(daemon.log)")
        #expect(daemon.process.isRunning, "the daemon died:\n\(daemon.log)")
        #expect(daemon.get("/readyz").status == 503)
        try p.run(["DEL", "\(deployment.prefix):stock"])
        #expect(daemon.waitUntilReady(), "ready once the key is fixed:\n\(daemon.log)")
        try p.xadd(queue: "stock", payload: adjust("after-fix", shop: "w", sku: "a", delta: 4))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "w") == ["a": 4])
    }

    /// An entry without a `job` field keeps its fields in its dead letter.
    @Test func anEntryWithoutAJobKeepsItsFieldsInTheDeadLetter() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        try deployment.producer.run(["XADD", "\(deployment.prefix):stock", "*", "jbo", #"{"id":"typo"}"#, "source", "till-7"])
        #expect(eventually(timeout: .seconds(20)) { (try? deployment.deadLetters().count) == 1 })
        let letter = try #require(try deployment.deadLetters().first)
        #expect(letter["code"] == "missing_job")
        #expect(letter["entry.jbo"] == #"{"id":"typo"}"# && letter["entry.source"] == "till-7", "\(letter)")
    }

    /// PostgreSQL hangs (connections stay open, nothing answers): `/readyz` says so within
    /// seconds, and Relais is ready again on its own once it answers.
    @Test func aHungPostgresIsReportedWithinSecondsAndRecoveredFrom() throws {
        let deployment = try Deployment()
        let pgProxy = try TcpProxy(targetPort: try postgresPort())
        defer { pgProxy.cut() }
        let daemon = try deployment.start(["RELAIS_DATABASE_URL": try deployment.databaseURL(port: pgProxy.listenPort)])
        defer { daemon.stop() }

        pgProxy.freeze()
        let frozenAt = ContinuousClock.now
        #expect(eventually(timeout: .seconds(10), every: .milliseconds(100)) {
            let readiness = daemon.get("/readyz")
            return readiness.status == 503 && readiness.body.contains("postgres")
        }, "not ready while PostgreSQL hangs")
        let detected = ContinuousClock.now - frozenAt
        #expect(detected < .seconds(8), "detected after \(detected)")
        try deployment.producer.xadd(queue: "stock", payload: adjust("during-freeze", shop: "h", sku: "a", delta: 2))

        pgProxy.thaw()
        #expect(daemon.waitUntilReady(timeout: .seconds(40)), "ready again after the hang:\n\(daemon.log)")
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "h") == ["a": 2])
    }

    /// SIGTERM while PostgreSQL hangs with a batch in hand: the daemon exits cleanly
    /// within the shutdown timeout plus a small margin, and the batch, left pending, is
    /// done by the next start.
    @Test func sigtermWhilePostgresHangsExitsCleanlyAndLosesNothing() throws {
        let deployment = try Deployment()
        let pgProxy = try TcpProxy(targetPort: try postgresPort())
        defer { pgProxy.cut() }
        let daemon = try deployment.start([
            "RELAIS_DATABASE_URL": try deployment.databaseURL(port: pgProxy.listenPort), "RELAIS_SHUTDOWN_TIMEOUT": "3s",
        ])
        pgProxy.freeze()
        try deployment.producer.xadd(queue: "stock", payload: adjust("in-hand", shop: "t", sku: "a", delta: 3))
        #expect(try eventually(timeout: .seconds(10)) {
            try deployment.producer.run(["XPENDING", "\(deployment.prefix):stock", "relais"]).split(separator: "\n").first == "1"
        }, "the job is in a consumer's hands")
        let signalled = ContinuousClock.now
        daemon.send(SIGTERM)
        let status = daemon.waitForExit(timeout: .seconds(15))
        let took = ContinuousClock.now - signalled
        #expect(status == 0, "exit status \(String(describing: status)):\n\(daemon.log)")
        #expect(took < .seconds(3 + 4), "stopped after \(took)")
        if status == nil { daemon.send(SIGKILL) }

        pgProxy.thaw()
        let next = try deployment.start()
        defer { next.stop() }
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "t") == ["a": 3])
    }

    /// SIGTERM while Redis hangs (connections open, nothing answers): a clean exit within
    /// the shutdown timeout plus a small margin.
    @Test func sigtermWhileRedisHangsExitsCleanly() throws {
        let deployment = try Deployment()
        let redisProxy = try TcpProxy(targetPort: try TestServers.redis.port)
        defer { redisProxy.cut() }
        let daemon = try deployment.start([
            "RELAIS_REDIS_URL": "redis://127.0.0.1:\(redisProxy.listenPort)/0", "RELAIS_SHUTDOWN_TIMEOUT": "2s",
        ])
        redisProxy.freeze()
        let signalled = ContinuousClock.now
        daemon.send(SIGTERM)
        let status = daemon.waitForExit(timeout: .seconds(20))
        let took = ContinuousClock.now - signalled
        if status == nil { daemon.send(SIGKILL) }
        #expect(status == 0, "exit status \(String(describing: status)):\n\(daemon.log)")
        #expect(took < .seconds(2 + 4), "stopped after \(took)")
    }

    /// `enqueued_at` is the producer's clock: a date in 1900 is not a 126-year wait.
    @Test func anAbsurdEnqueuedAtStaysOutOfTheWaitHistogram() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        let job = #"{"id":"old-clock","type":"stock.adjust","enqueued_at":"1900-01-01T00:00:00Z","data":{"shop_id":"c","sku":"a","delta":1,"at":"2026-11-28T12:30:00+01:00"}}"#
        try deployment.producer.xadd(queue: "stock", payload: job)
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "c") == ["a": 1])
        let metrics = daemon.get("/metrics").body
        let sum = metrics.split(separator: "\n").first { $0.hasPrefix("relais_job_wait_seconds_sum") && $0.contains("stock") }
        let seconds = sum.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
        #expect(seconds < 3600, "relais_job_wait_seconds_sum is \(seconds)")
    }
}

/// The test PostgreSQL's port.
func postgresPort() throws -> Int {
    try #require(URLComponents(string: try TestServers.adminDatabaseURL)?.port)
}

extension Deployment {
    /// This deployment's database URL through another port (a proxy's).
    func databaseURL(port: Int) throws -> String {
        var components = try #require(URLComponents(string: databaseURL))
        components.port = port
        return try #require(components.string)
    }
}

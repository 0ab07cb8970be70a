import Foundation
import PostgresClient
import RelaisTestSupport
import Testing

/// A daemon on its own database, prefix and port, and a producer that uses redis-cli.
struct Deployment {
    let databaseURL: String
    let prefix = TestServers.makePrefix()
    let port = freePort()
    let producer: RedisCliProducer

    init(migrated: Bool = true) throws {
        databaseURL = try TestServers.makeDatabase(migrated: migrated)
        producer = RedisCliProducer(url: try TestServers.redisURL, prefix: prefix)
    }

    func environment(_ extra: [String: String] = [:]) throws -> [String: String] {
        try Daemon.environment(databaseURL: databaseURL, prefix: prefix, httpPort: port, extra: extra)
    }

    func start(_ extra: [String: String] = [:]) throws -> Daemon {
        let daemon = try Daemon(environment: try environment(extra))
        guard daemon.waitUntilReady() else {
            daemon.stop()
            throw TestSetupError("relais did not become ready:\n\(daemon.log)")
        }
        return daemon
    }

    func query(_ sql: String) throws -> [[String?]] {
        try TestServers.withDatabase(databaseURL) { try $0.query(sql, name: "test").rows }
    }

    func onHand(shop: String) throws -> [String: Int] {
        Dictionary(uniqueKeysWithValues: try query("SELECT sku, on_hand FROM relais.stock_available WHERE shop_id = '\(shop)'")
            .map { ($0[0]!, Int($0[1]!)!) })
    }

    /// Waits until every queue under the prefix (whichever the daemon has) has its stream
    /// and retry set empty and nothing pending.
    func waitUntilDrained(timeout: Duration = .seconds(60)) throws -> Bool {
        try TestServers.withRedis { redis in
            try eventually(timeout: timeout, every: .milliseconds(100)) { try QueuesInRedis.drained(prefix: prefix, redis: redis) }
        }
    }

    /// How many entries of `queue` consumers hold now (read, not yet acknowledged).
    func pending(_ queue: String) throws -> Int {
        try TestServers.withRedis { redis in
            Int(try redis.command("XPENDING", "\(prefix):\(queue)", "relais").elements.first?.integer ?? 0)
        }
    }

    /// The dead letters as field dictionaries, oldest first.
    func deadLetters() throws -> [[String: String]] {
        try TestServers.withRedis { redis in
            try redis.command("XRANGE", "\(prefix):dead", "-", "+").elements.map { entry in
                let flat = entry.elements[1].elements.compactMap(\.string)
                return Dictionary(uniqueKeysWithValues: stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) })
            }
        }
    }
}

func levels(_ id: String, shop: String, at time: String, _ items: [(String, Int)], complete: Bool = false) -> String {
    let list = items.map { #"{"sku":"\#($0.0)","on_hand":\#($0.1)}"# }.joined(separator: ",")
    return #"{"id":"\#(id)","type":"stock.levels","data":{"shop_id":"\#(shop)","observed_at":"\#(time)","levels":[\#(list)],"complete":\#(complete)}}"#
}

/// An adjustment made at 12:30 Paris time, after the test's observations.
func adjust(_ id: String, shop: String, sku: String, delta: Int) -> String {
    #"{"id":"\#(id)","type":"stock.adjust","data":{"shop_id":"\#(shop)","sku":"\#(sku)","delta":\#(delta),"at":"2026-11-28T12:30:00+01:00"}}"#
}

@Suite("relais serve end to end: stock", .serialized)
struct StockEndToEndTests {
    @Test func stockSyncThroughTheBinaryAsAProducerWouldUseIt() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        let p = deployment.producer

        try p.xadd(queue: "stock", payload: levels("l-1", shop: "boulangerie", at: "2026-11-28T10:00:00Z", [("baguette", 40), ("croissant", 60), ("eclair", 7)]))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "boulangerie") == ["baguette": 40, "croissant": 60, "eclair": 7], "levels applied")

        try p.xadd(queue: "stock", payload: levels("l-0", shop: "boulangerie", at: "2026-11-28T09:00:00Z", [("baguette", 1)]))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "boulangerie")["baguette"] == 40, "an older observation is ignored")

        try p.xadd(queue: "stock", payload: levels("l-2", shop: "boulangerie", at: "2026-11-28T11:00:00Z", [("baguette", 30), ("croissant", 50)], complete: true))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "boulangerie") == ["baguette": 30, "croissant": 50, "eclair": 0], "a complete snapshot zeroes unlisted SKUs")

        try p.xadd(queue: "stock", payload: adjust("sale-1", shop: "boulangerie", sku: "baguette", delta: -3))
        try p.xadd(queue: "stock", payload: adjust("sale-1", shop: "boulangerie", sku: "baguette", delta: -3))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "boulangerie")["baguette"] == 27, "an adjustment enqueued twice applies once")
        let available = try deployment.query("SELECT on_hand, reserved, available FROM relais.stock_available WHERE shop_id = 'boulangerie' AND sku = 'baguette'")
        #expect(available == [["27", "0", "27"]])

        // Bad input: each lands in the dead letters with a reason naming the problem.
        try p.xadd(queue: "stock", payload: "{this is not json")
        try p.xadd(queue: "stock", payload: #"{"id":"u-1","type":"stock.teleport","data":{}}"#)
        try p.xadd(queue: "stock", payload: #"{"id":"m-1","type":"stock.adjust","data":{"shop_id":"s","delta":1,"at":"2026-11-28T10:00:00Z"}}"#)
        let oversized = FileManager.default.temporaryDirectory.appendingPathComponent("oversized-\(deployment.prefix).json")
        let padding = String(repeating: "x", count: 1 << 20)
        try Data(#"{"id":"big-1","type":"stock.adjust","data":{"shop_id":"s","sku":"a","delta":1,"at":"2026-11-28T10:00:00Z"},"pad":"\#(padding)"}"#.utf8).write(to: oversized)
        _ = try Command.run("sh", ["-c", "redis-cli -u \"$0\" -x XADD \"$1\" '*' job < \"$2\"", try TestServers.redisURL, "\(deployment.prefix):stock", oversized.path])
        #expect(try deployment.waitUntilDrained())

        let dead = try deployment.deadLetters()
        #expect(dead.map { $0["code"] } == ["malformed_json", "unknown_type", "missing_field", "too_large"])
        #expect(dead[1]["reason"]?.contains("stock.teleport") == true)
        #expect(dead[2]["reason"] == "data.sku: is required")
        #expect(dead[3]["reason"]?.contains("limit is 1048576") == true)
        #expect(dead[0]["job"] == "{this is not json", "the original job is kept for replay")
        #expect(dead.allSatisfy { $0["queue"] == "stock" && $0["failed_at"] != nil && $0["attempts"] == "1" })

        // Still serving.
        #expect(daemon.get("/readyz").status == 200)
        try p.xadd(queue: "stock", payload: adjust("after-bad", shop: "boulangerie", sku: "eclair", delta: 2))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "boulangerie")["eclair"] == 2)

        let metrics = daemon.get("/metrics").body
        #expect(metrics.contains(#"relais_jobs_total{queue="stock",type="stock.adjust",outcome="duplicate"} 1"#), "\(metrics)")
        #expect(metrics.contains(#"relais_dead_letters_total{queue="stock",reason="too_large"} 1"#))
        #expect(metrics.contains("relais_job_duration_seconds_bucket"))
        #expect(metrics.contains("relais_queue_lag_seconds"))
        #expect(daemon.log.contains("job.id=sale-1"), "one log line per job outcome")

        // A job that says when it was enqueued is logged with how long it waited to be
        // picked up and how long until its effect was committed.
        let enqueuedAt = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        try p.xadd(queue: "stock", payload: adjust("timed", shop: "boulangerie", sku: "eclair", delta: 1)
            .replacingOccurrences(of: #""type""#, with: #""enqueued_at":"\#(enqueuedAt)","type""#))
        #expect(try deployment.waitUntilDrained())
        let timed = daemon.log.split(separator: "\n").first { $0.contains("job.id=timed ") }.map(String.init) ?? ""
        func field(_ key: String) -> Double? {
            timed.split(separator: " ").first { $0.hasPrefix(key + "=") }.flatMap { Double($0.dropFirst(key.count + 1)) }
        }
        let wait = field("job.wait_ms"), latency = field("job.latency_ms")
        #expect(wait != nil && latency != nil, "\(timed)")
        if let wait, let latency { #expect(0 <= wait && wait <= latency && latency < 10_000, "\(timed)") }
        // …and counted in the wait histogram, the only job so far that said when it was enqueued.
        let waitMetrics = daemon.get("/metrics").body
        #expect(waitMetrics.contains(#"relais_job_wait_seconds_count{queue="stock"} 1"#), "\(waitMetrics)")
        #expect(daemon.stop() == 0)
    }

    @Test func killDashNineMidBurstLosesNothingAndDuplicatesNothing() throws {
        let deployment = try Deployment()
        var daemon = try deployment.start(["RELAIS_BATCH_SIZE": "50"])
        let total = 4000
        // Every 10th job is sent twice with the same id, as a producer retrying would.
        var payloads: [String] = []
        for i in 0..<total {
            payloads.append(adjust("burst-\(i)", shop: "crash", sku: "sku-\(i % 25)", delta: 1))
            if i % 10 == 0 { payloads.append(adjust("burst-\(i)", shop: "crash", sku: "sku-\(i % 25)", delta: 1)) }
        }
        // The producer keeps sending while the daemon works, so the kill lands mid-burst.
        let producer = deployment.producer
        let chunks = stride(from: 0, to: payloads.count, by: 220).map { Array(payloads[$0..<min($0 + 220, payloads.count)]) }
        let produced = DispatchSemaphore(value: 0)
        Thread {
            for chunk in chunks {
                try? producer.xaddMany(queue: "stock", payloads: chunk)
                Thread.sleep(forTimeInterval: 0.1)
            }
            produced.signal()
        }.start()
        let ledger = { try Int(deployment.query("SELECT count(*) FROM relais.processed_jobs")[0][0]!)! }
        #expect(try eventually(timeout: .seconds(30), every: .milliseconds(5)) { try ledger() >= 200 })
        daemon.send(SIGKILL)
        _ = daemon.waitForExit()
        let atKill = try ledger()
        #expect(atKill < total, "the daemon was killed in the middle of the burst (\(atKill) of \(total) done)")
        produced.wait()

        daemon = try deployment.start(["RELAIS_BATCH_SIZE": "50"])
        defer { daemon.stop() }
        #expect(try deployment.waitUntilDrained(timeout: .seconds(120)))
        #expect(try ledger() == total, "every job recorded once")
        let sum = try deployment.onHand(shop: "crash").values.reduce(0, +)
        #expect(sum == total, "every adjustment's effect present exactly once")
        #expect(try deployment.deadLetters().isEmpty)
    }

    @Test func sigtermStopsPromptlyAndLeavesNothingHalfDone() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        let payloads = (0..<2000).map { adjust("term-\($0)", shop: "term", sku: "a", delta: 1) }
        try deployment.producer.xaddMany(queue: "stock", payloads: payloads)
        daemon.send(SIGTERM)
        let status = daemon.waitForExit(timeout: .seconds(25))
        #expect(status == 0, "exit status \(String(describing: status)):\n\(daemon.log.suffix(2000))")
        #expect(daemon.log.contains("msg=stopped"))

        let again = try deployment.start()
        defer { again.stop() }
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "term") == ["a": 2000])
    }

    @Test func serveRefusesASchemaThatIsBehindAndSaysWhatToRun() throws {
        let deployment = try Deployment(migrated: false)
        let daemon = try Daemon(environment: try deployment.environment())
        let status = daemon.waitForExit(timeout: .seconds(20))
        #expect(status == 78)
        #expect(daemon.log.contains("relais migrate"), "\(daemon.log)")
    }

    @Test func badConfigurationIsRefusedNamingTheKey() throws {
        let deployment = try Deployment()
        let daemon = try Daemon(environment: try deployment.environment(["RELAIS_BATCH_SIZE": "lots"]))
        #expect(daemon.waitForExit(timeout: .seconds(20)) == 78)
        #expect(daemon.log.contains("RELAIS_BATCH_SIZE"), "\(daemon.log)")
    }

    @Test func postgresAndRedisOutagesMakeItNotReadyThenItCarriesOn() throws {
        let deployment = try Deployment()
        let pgPort = Int(URLComponents(string: try TestServers.adminDatabaseURL)!.port!)
        let redisPort = try TestServers.redis.port
        let pgProxy = try TcpProxy(targetPort: pgPort)
        let redisProxy = try TcpProxy(targetPort: redisPort)
        defer {
            pgProxy.cut()
            redisProxy.cut()
        }
        var components = URLComponents(string: deployment.databaseURL)!
        components.port = pgProxy.listenPort
        let daemon = try Daemon(environment: try deployment.environment([
            "RELAIS_DATABASE_URL": components.string!,
            "RELAIS_REDIS_URL": "redis://127.0.0.1:\(redisProxy.listenPort)/0",
        ]))
        defer { daemon.stop() }
        #expect(daemon.waitUntilReady())

        pgProxy.cut()
        #expect(eventually(timeout: .seconds(15)) { daemon.get("/readyz").body.contains("\"postgres\"") && daemon.get("/readyz").status == 503 })
        try deployment.producer.xadd(queue: "stock", payload: adjust("during-pg-outage", shop: "out", sku: "a", delta: 1))
        // The outage lasts until a consumer has read the job and failed to commit it.
        #expect(try eventually(timeout: .seconds(15)) { try deployment.pending("stock") == 1 && daemon.log.contains("store unavailable") },
                "\(daemon.log)")
        try pgProxy.start()
        #expect(daemon.waitUntilReady())
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "out") == ["a": 1])

        let redisFailures = { daemon.log.split(separator: "\n").filter { $0.contains("Redis failed, reconnecting") }.count }
        let failuresBefore = redisFailures()
        redisProxy.cut()
        #expect(eventually(timeout: .seconds(15)) { daemon.get("/readyz").status == 503 })
        #expect(daemon.get("/readyz").body.contains("redis"))
        try deployment.producer.xadd(queue: "stock", payload: adjust("during-redis-outage", shop: "out", sku: "a", delta: 1))
        // The outage lasts until the consumers have lost their connections.
        #expect(eventually(timeout: .seconds(15)) { redisFailures() > failuresBefore }, "\(daemon.log)")
        try redisProxy.start()
        #expect(daemon.waitUntilReady())
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "out") == ["a": 2])

        // Waiting with backoff, not spinning: a handful of warnings per queue's consumers, not thousands.
        let warnings = daemon.log.split(separator: "\n").filter { $0.contains("level=warning") }.count
        let families = try Daemon.command(["validate", "--families"], environment: ProcessInfo.processInfo.environment)
        let queues = families.output.split(separator: "\n").filter { $0.hasPrefix("{") }.count
        #expect(queues > 0 && warnings < 20 * queues, "\(warnings) warnings during two short outages, \(queues) queues")
        #expect(daemon.process.isRunning)
    }
}

import Foundation
import RelaisTestSupport
import Testing

/// The names of the live instances in a daemon's `/status`, sorted; nil when it does not answer.
private func liveInstances(_ daemon: Daemon) -> [String]? {
    let reply = daemon.get("/status")
    guard reply.status == 200, let body = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any],
          let instances = body["instances"] as? [[String: Any]] else { return nil }
    return instances.compactMap { $0["name"] as? String }.sorted()
}

/// The outbox id in a stable message id: `relais-42` or `<relais-42@relais.test>`.
private func outboxId(_ stableId: String?) -> Int64? {
    guard let stableId, let range = stableId.range(of: "relais-") else { return nil }
    return Int64(stableId[range.upperBound...].prefix { $0.isNumber })
}

/// A `pickup.booked` of `order` for a slot `start` seconds from now, ten minutes long.
private func booked(_ order: String, start: Double) -> String {
    #"{"id":"book-\#(order)","type":"pickup.booked","data":{"order_id":"\#(order)","slot_start":"\#(now(plus: start))","slot_end":"\#(now(plus: start + 600))"}}"#
}

/// The established TCP connections process `pid` has to `port` on loopback, from `ss`
/// (which names the process owning each socket).
private func connections(of pid: Int32, toPort port: Int) throws -> Int {
    let lines = try Command.run("ss", ["-H", "-t", "-n", "-p", "state", "established", "dst", "127.0.0.1:\(port)"])
    return lines.split(separator: "\n").filter { $0.contains("pid=\(pid),") }.count
}

/// How many queues the binary runs: one JSON line per queue from `relais validate --families`.
/// Several instances as production runs them (docs/operations.md, "Several instances"):
/// what they share, what a lost instance leaves, and the connections each holds.
@Suite("Three instances on one Redis and one PostgreSQL", .serialized)
struct InstancesEndToEndTests {
    /// Three instances share the queues, the reminder scheduler and the outbox while
    /// orders, stock and pickups flow. One is killed with -9 while it holds entries and
    /// e-mails it is sending (its SMTP server hangs), one stopped with SIGTERM; the
    /// survivor takes over what they held and finishes everything: every job's effect
    /// once in the read model, every message at its sink, none sent twice except one the
    /// killed instance had in hand (sent, its outcome not yet recorded), which goes again
    /// after its lease with the same id; `/status` lists only the survivor at the end and
    /// the others' consumers leave the groups.
    @Test func aKilledAndAStoppedInstanceLeaveTheSurvivorToFinishEverythingOnce() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let settings = channels.settings.merging([
            "RELAIS_WORKERS": "2", "RELAIS_BATCH_SIZE": "10", "RELAIS_CLAIM_IDLE": "2s", "RELAIS_RETRY_BASE": "200ms",
            "RELAIS_RETRY_MAX": "1s", "RELAIS_MAX_ATTEMPTS": "20",
            "RELAIS_REMINDER_DELAY": "3s", "RELAIS_REMINDER_BEFORE_SLOT": "35s", "RELAIS_QUIET_HOURS": "00:00-00:00",
        ]) { $1 }
        let alpha = try deployment.start(settings.merging(["RELAIS_INSTANCE": "alpha"]) { $1 })
        defer { alpha.stop() }
        // beta's SMTP server hangs (a proxy stopped with SIGSTOP): the e-mails it claims stay
        // in its hands, in flight, until it is killed, and come back after their lease.
        let hung = try TcpProxy(targetPort: channels.smtp.port)
        defer { hung.cut() }
        hung.freeze()
        let others = try ["beta", "gamma"].map { name in
            var extra = ["RELAIS_INSTANCE": name, "RELAIS_HTTP_ADDRESS": "127.0.0.1:\(freePort())"]
            if name == "beta" { extra["RELAIS_SMTP_URL"] = "smtp://relais:s3cret@127.0.0.1:\(hung.listenPort)" }
            return try Daemon(environment: try deployment.environment(settings.merging(extra) { $1 }))
        }
        let (beta, gamma) = (others[0], others[1])
        defer { for daemon in others { daemon.stop() } }
        for daemon in others { try #require(daemon.waitUntilReady(), "\(daemon.log)") }
        #expect(eventually(timeout: .seconds(10)) { liveInstances(alpha) == ["alpha", "beta", "gamma"] },
                "\(alpha.get("/status").body)")

        let shops = ["s0", "s1", "s2"]
        for shop in shops {
            try deployment.producer.xadd(queue: "stock", payload: levels("shelf-\(shop)", shop: shop, at: "2026-01-01T07:00:00Z",
                                                                        [("pain", 100_000)]))
        }
        #expect(try deployment.waitUntilDrained())

        // 300 orders in 15 rounds: each round places 20 orders, makes the previous round's
        // ready (a reminder 3 s later), books a slot for every fourth of them (a reminder
        // 5 s later) and adjusts stock 100 times, every tenth adjustment sent twice.
        let orderCount = 300, perRound = 20, adjustmentCount = 1500
        let order = { (i: Int) in "o-\(i)" }
        let shop = { (i: Int) in shops[i % shops.count] }
        let quantity = { (i: Int) in 1 + i % 3 }
        var rounds: [(queue: String, payloads: [String])] = []
        let roundCount = orderCount / perRound + 1
        for r in 0..<roundCount {
            var orders: [String] = [], pickups: [String] = []
            if r < roundCount - 1 {
                orders += (r * perRound..<(r + 1) * perRound).map { i in
                    placed(order(i), shop: shop(i), items: [("pain", "Pain", quantity(i), 100)], webhook: channels.http.url("/webhook"))
                }
            }
            if r > 0 {
                let previous = (r - 1) * perRound..<r * perRound
                orders += previous.map { event(order($0), "ready") }
                pickups += previous.filter { $0 % 4 == 0 }.map { booked(order($0), start: 40) }
            }
            var stock: [String] = []
            for k in (r * adjustmentCount / roundCount)..<((r + 1) * adjustmentCount / roundCount) {
                let payload = adjust("adj-\(k)", shop: shop(k), sku: "farine", delta: 1)
                stock.append(payload)
                if k % 10 == 0 { stock.append(payload) }
            }
            rounds.append(("orders", orders))
            rounds.append(("pickups", pickups))
            rounds.append(("stock", stock))
        }
        let jobCount = shops.count + 2 * orderCount + orderCount / 4 + adjustmentCount
        let producer = deployment.producer
        let produced = DispatchSemaphore(value: 0)
        let allRounds = rounds
        Thread {
            for (n, round) in allRounds.enumerated() where !round.payloads.isEmpty {
                try? producer.xaddMany(queue: round.queue, payloads: round.payloads)
                if n % 3 == 2 { Thread.sleep(forTimeInterval: 0.4) }
            }
            produced.signal()
        }.start()

        // beta is killed with a quarter of the jobs done and entries in hand, gamma stopped
        // at a half, both while the producer is still sending.
        let ledger = { try Int(deployment.query("SELECT count(*) FROM relais.processed_jobs")[0][0]!)! }
        let heldBy = { (instance: String) throws -> Int in
            try TestServers.withRedis { redis in
                try ["orders", "stock", "pickups"].reduce(0) { sum, queue in
                    sum + (try redis.command("XINFO", "CONSUMERS", "\(deployment.prefix):\(queue)", "relais").elements
                        .filter { $0.elements.count > 3 && $0.elements[1].string?.hasPrefix("\(instance)-") == true }
                        .reduce(0) { $0 + Int($1.elements[3].integer ?? 0) })
                }
            }
        }
        #expect(try eventually(timeout: .seconds(60), every: .milliseconds(5)) { try ledger() >= jobCount / 4 })
        // An e-mail claimed over a second ago and neither sent nor given back is beta's.
        #expect(try eventually(timeout: .seconds(20), every: .milliseconds(20)) {
            try deployment.query("""
                SELECT count(*) FROM relais.outbox WHERE channel = 'email' AND status = 'pending' AND attempts > 0
                  AND next_attempt_at BETWEEN now() AND now() + interval '29 seconds'
                """)[0][0] != "0"
        }, "beta holds e-mails it cannot send")
        var heldByBeta = 0
        #expect(try eventually(timeout: .seconds(30), every: .milliseconds(2)) {
            heldByBeta = try heldBy("beta")
            return heldByBeta > 0
        }, "beta took entries")
        beta.send(SIGKILL)
        _ = beta.waitForExit()
        hung.cut()
        let atKill = try ledger()
        #expect(try eventually(timeout: .seconds(60), every: .milliseconds(5)) { try ledger() >= jobCount / 2 })
        gamma.send(SIGTERM)
        let gammaStatus = gamma.waitForExit(timeout: .seconds(30))
        let atStop = try ledger()
        #expect(gammaStatus == 0, "gamma stopped with status \(String(describing: gammaStatus)):\n\(gamma.log.suffix(2000))")
        produced.wait()
        #expect(atKill < jobCount && atStop < jobCount,
                "the instances left while jobs flowed: \(atKill) and \(atStop) of \(jobCount) done (beta held \(heldByBeta) entries)")

        // The survivor finishes: the streams, the schedule and the outbox run dry. What
        // beta held comes back after claim_idle (Redis) and after the lease (the outbox).
        #expect(try deployment.waitUntilDrained(timeout: .seconds(120)), "\(alpha.log.suffix(3000))")
        #expect(try eventually(timeout: .seconds(90), every: .milliseconds(250)) {
            try deployment.query("""
                SELECT (SELECT count(*) FROM relais.reminders WHERE status = 'pending')
                     + (SELECT count(*) FROM relais.outbox WHERE status = 'pending')
                """)[0][0] == "0"
        }, "\((try? deployment.query("SELECT channel, status, count(*) FROM relais.outbox GROUP BY 1, 2")) ?? [])")

        // Every job's effect once.
        #expect(try ledger() == jobCount, "every job recorded once")
        #expect(try deployment.deadLetters().isEmpty, "\((try? deployment.deadLetters()) ?? [])")
        #expect(try deployment.query("SELECT status, count(*) FROM relais.order_status GROUP BY 1").map { $0.compactMap { $0 } }
                == [["ready", String(orderCount)]])
        let history = String(2 * orderCount + orderCount / 4)
        #expect(try deployment.query("SELECT count(*), count(DISTINCT (order_id, job_id)) FROM relais.order_events")[0]
                == [history, history], "each order placed and made ready, a quarter booked, once")
        for (s, name) in shops.enumerated() {
            let reserved = (0..<orderCount).filter { $0 % shops.count == s }.reduce(0) { $0 + quantity($1) }
            let adjusted = (0..<adjustmentCount).filter { $0 % shops.count == s }.count
            #expect(try deployment.stock(shop: name) == ["pain": [100_000, reserved, 100_000 - reserved],
                                                        "farine": [adjusted, 0, adjusted]], "shop \(name)")
        }
        #expect(try deployment.query("SELECT count(*) FROM relais.order_status WHERE slot_start IS NOT NULL")[0][0]
                == String(orderCount / 4), "every booking applied")

        // Every message once in the outbox: the plan's messages of each order, and the two
        // of each reminder that fired; none left for a reminder skipped or cancelled.
        let templates = Dictionary(uniqueKeysWithValues: try deployment.query("""
            SELECT template || ':' || channel, count(*) FROM relais.outbox GROUP BY 1
            """).map { ($0[0]!, Int($0[1]!)!) })
        let fired = Dictionary(uniqueKeysWithValues: try deployment.query("""
            SELECT kind, count(*) FROM relais.reminders WHERE status = 'sent' GROUP BY 1
            """).map { ($0[0]!, Int($0[1]!)!) })
        #expect((fired["uncollected"] ?? 0) > 0 && (fired["soon"] ?? 0) > 0, "the schedule fired reminders: \(fired)")
        var expected = [
            "order-placed-shop:email": orderCount, "order-placed-shop:webhook": orderCount, "order-placed-customer:email": orderCount,
            "order-ready-customer:email": orderCount, "order-ready-customer:sms": orderCount,
        ]
        for (kind, template) in [("uncollected", "pickup-reminder-customer"), ("soon", "pickup-soon-customer"),
                                 ("evening", "pickup-evening-customer")] where (fired[kind] ?? 0) > 0 {
            expected["\(template):email"] = fired[kind]
            expected["\(template):sms"] = fired[kind]
        }
        #expect(templates == expected)
        #expect(try deployment.query("""
            SELECT count(*) FROM (SELECT 1 FROM relais.outbox GROUP BY order_id, template, channel HAVING count(*) > 1) twice
            """)[0][0] == "0", "no message planned twice")
        #expect(try deployment.query("SELECT status, count(*) FROM relais.outbox GROUP BY 1").map { $0.compactMap { $0 } }
                == [["sent", String(expected.values.reduce(0, +))]], "every message sent")

        // Every message reached its sink, and only a message whose lease ran out (claimed
        // twice, hence attempts ≥ 2) may have reached it twice: no two live instances
        // ever sent the same message.
        let rows = try deployment.query("SELECT id, channel, attempts FROM relais.outbox")
        let attempts = Dictionary(uniqueKeysWithValues: rows.map { (Int64($0[0]!)!, Int($0[2]!)!) })
        let wanted = Dictionary(rows.map { ($0[1]!, 1) }, uniquingKeysWith: +)
        func received() -> [String: [Int64: Int]] {
            var out: [String: [Int64: Int]] = [:]
            for mail in channels.smtp.messages() { out["email", default: [:]][outboxId(mail.headers["Message-ID"]) ?? -1, default: 0] += 1 }
            for sms in channels.http.requests(path: "/sms") { out["sms", default: [:]][outboxId(sms.headers["idempotency-key"]) ?? -1, default: 0] += 1 }
            for hook in channels.http.requests(path: "/webhook") { out["webhook", default: [:]][outboxId(hook.headers["webhook-id"]) ?? -1, default: 0] += 1 }
            return out
        }
        #expect(eventually(timeout: .seconds(10)) { received().mapValues(\.count) == wanted }, "\(received().mapValues(\.count)) \(wanted)")
        var twice: [Int64] = []
        for (channel, counts) in received() {
            for (id, count) in counts {
                guard let claims = attempts[id] else {
                    Issue.record("\(channel) received a message that is not in the outbox: \(id)")
                    continue
                }
                #expect(count <= claims, "\(channel) message \(id) received \(count) times but claimed \(claims) times")
                if count > 1 { twice.append(id) }
            }
        }
        let reclaimed = attempts.values.filter { $0 > 1 }.count
        #expect(reclaimed > 0 && reclaimed <= 200,
                "what beta had claimed went again after its lease, and only that: \(reclaimed) messages claimed more than once")
        #expect(channels.http.requests(path: "/webhook").allSatisfy { $0.verified == true })

        // Only the survivor is listed, and the others' consumers leave the groups.
        #expect(eventually(timeout: .seconds(30)) { liveInstances(alpha) == ["alpha"] }, "\(alpha.get("/status").body)")
        let consumers = { () throws -> [String] in
            try TestServers.withRedis { redis in
                try familyQueues().flatMap { queue in
                    try redis.command("XINFO", "CONSUMERS", "\(deployment.prefix):\(queue)", "relais").elements
                        .compactMap { $0.elements.count > 1 ? $0.elements[1].string : nil }
                }
            }
        }
        #expect(try eventually(timeout: .seconds(60), every: .seconds(1)) { try consumers().allSatisfy { $0.hasPrefix("alpha-") } },
                "\((try? consumers()) ?? [])")
        #expect(alpha.process.isRunning)
        print("three instances: \(jobCount) jobs; beta killed at \(atKill) holding \(heldByBeta) entries, gamma stopped at \(atStop);"
              + " \(expected.values.reduce(0, +)) messages, \(reclaimed) claimed again after a lease, \(twice.count) received twice \(twice.sorted())")
    }

    /// The connections one instance holds, counted from the outside while it runs, equal
    /// the formula in docs/operations.md ("Several instances"): PostgreSQL `Q × W` for the
    /// consumers, 1 per delivery channel plus 1 more (its recorder) for e-mail and SMS,
    /// 2 for the scheduler, 1 for the health check, 1 for maintenance (opened a minute
    /// after the start; the recorders with their first outcome); Redis `Q × W` plus the
    /// housekeeper and the health check. It stays there while jobs flow.
    @Test func theConnectionsOfAnInstanceAreTheDocumentedFormula() throws {
        let queues = try familyQueues().count
        try #require(queues > 0)
        let channels = try Channels()
        defer { channels.stop() }
        let pgPort = Int(URLComponents(string: try TestServers.adminDatabaseURL)!.port!)
        let redisPort = try TestServers.redis.port
        // One instance with every channel and one worker per queue, one with only the log
        // channel and four.
        let cases: [(workers: Int, settings: [String: String], channelConnections: Int)] = [
            (1, channels.settings, 1 + 2 + 2 + 1),
            (4, [:], 1),
        ]
        var running: [(Daemon, Deployment, Int, Int)] = []
        defer { for (daemon, _, _, _) in running { daemon.stop() } }
        for (workers, settings, channelConnections) in cases {
            let deployment = try Deployment()
            let daemon = try deployment.start(settings.merging(["RELAIS_WORKERS": String(workers)]) { $1 })
            running.append((daemon, deployment, queues * workers + channelConnections + 2 + 1 + 1, queues * workers + 2))
        }
        // The e-mail and SMS recorders connect when their first outcome comes: one order
        // placed and made ready sends on every channel.
        let (_, everyChannel, _, _) = running[0]
        try everyChannel.producer.xadd(queue: "orders", payload: placed("c-1", items: [("a", "A", 1, 100)],
                                                                         webhook: channels.http.url("/webhook")))
        try everyChannel.producer.xadd(queue: "orders", payload: event("c-1", "ready"))
        #expect(try eventually(timeout: .seconds(30)) {
            try everyChannel.messages("c-1").sorted() == ["order-placed-customer:email:sent", "order-placed-shop:email:sent",
                                                          "order-placed-shop:webhook:sent", "order-ready-customer:email:sent",
                                                          "order-ready-customer:sms:sent"]
        }, "\((try? everyChannel.messages("c-1")) ?? [])")
        let databaseName = { (deployment: Deployment) in String(deployment.databaseURL.split(separator: "/").last!) }
        let fromPostgres = { (deployment: Deployment) throws -> Int in
            try TestServers.withDatabase(try TestServers.adminDatabaseURL) { admin in
                Int(try admin.query("SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'relais'",
                                    [databaseName(deployment)], name: "test").scalar ?? "0") ?? 0
            }
        }
        func measured() throws -> [[Int]] {
            try running.map { daemon, deployment, _, _ in
                [try fromPostgres(deployment), try connections(of: daemon.process.processIdentifier, toPort: pgPort),
                 try connections(of: daemon.process.processIdentifier, toPort: redisPort)]
            }
        }
        let formula = running.map { _, _, postgres, redis in [postgres, postgres, redis] }
        // The maintenance connection opens with the first pass, a minute after the start.
        let held = try eventually(timeout: .seconds(90), every: .seconds(1)) { try measured() == formula }
        #expect(held, "measured [pg_stat_activity, sockets to PostgreSQL, sockets to Redis] \((try? measured()) ?? []), documented \(formula)")
        // And it stays there while jobs flow: nothing opens a connection per job or per batch.
        let (_, busy, _, _) = running[1]
        try busy.producer.xaddMany(queue: "stock", payloads: (0..<2000).map { adjust("c-\($0)", shop: "s", sku: "a", delta: 1) })
        // (Progress is read from Redis: a query of the test's own would count in pg_stat_activity.)
        var most = [[Int]](repeating: [0, 0, 0], count: running.count)
        _ = try TestServers.withRedis { redis in
            try eventually(timeout: .seconds(30), every: .milliseconds(50)) {
                let now = try measured()
                most = zip(most, now).map { zip($0, $1).map(max) }
                return try QueuesInRedis.drained(prefix: busy.prefix, redis: redis)
            }
        }
        #expect(try busy.onHand(shop: "s")["a"] == 2000)
        #expect(most == formula, "the most measured while 2,000 jobs went through: \(most), documented \(formula)")
        print("connections per instance [pg_stat_activity, sockets to PostgreSQL, sockets to Redis]: \((try? measured()) ?? []) for workers \(cases.map(\.workers))")
    }
}

import Foundation
import PostgresClient
import RelaisTestSupport
import Synchronization
import Testing

extension Deployment {
    /// A deployment whose daemon and queries use `databaseURL`, already migrated.
    init(databaseURL: String) throws {
        self.databaseURL = databaseURL
        producer = RedisCliProducer(url: try TestServers.redisURL, prefix: prefix)
    }

    /// `relais_jobs_total` of `queue`, `type` and `outcome` on the daemon's `/metrics`, 0 when absent.
    func jobs(_ daemon: Daemon, queue: String, type: String, outcome: String) -> Int {
        let prefix = #"relais_jobs_total{queue="\#(queue)",type="\#(type)",outcome="\#(outcome)"} "#
        let line = daemon.get("/metrics").body.split(separator: "\n").first { $0.hasPrefix(prefix) }
        return line.flatMap { Int(Double($0.dropFirst(prefix.count)) ?? 0) } ?? 0
    }
}

/// An adjustment of +1 to one of `skus` SKUs of shop `shop`, job `id`.
private func plusOne(_ id: Int, shop: String, skus: Int) -> String {
    adjust("adj-\(id)", shop: shop, sku: "sku-\(id % skus)", delta: 1)
}

@Suite("PostgreSQL topology end to end: failover to a promoted standby, PgBouncer in transaction mode", .serialized)
struct PostgresTopologyEndToEndTests {
    /// A primary and its streaming standby; Relais on the multi-host URL with
    /// `target_session_attrs=read-write`. While stock jobs flow, the primary is fenced
    /// (`default_transaction_read_only`: writes fail with 25006), the standby promoted
    /// once it has replayed everything, and the old primary stopped. Relais moves to the
    /// new primary and every job takes effect there once (stock adjustments, orders with
    /// their reservations and messages): none retried, none dead.
    @Test func relaisFollowsAPromotedStandbyAndEveryJobTakesEffectOnce() throws {
        let primary = try PostgresNode.primary()
        defer { primary.remove() }
        let standby = try primary.standby()
        defer { standby.remove() }

        let url = "postgresql://relais@\(primary.address),\(standby.address)/relais?target_session_attrs=read-write&connect_timeout=2"
        #expect(PgConnectionString.problem(url) == nil, "the multi-host URL is accepted")
        let deployment = try Deployment(databaseURL: url)
        let migrate = try Daemon.command(["migrate"], environment: try deployment.environment(), timeout: .seconds(60))
        try #require(migrate.status == 0, "relais migrate on the multi-host URL: \(migrate.output)\(migrate.errors)")
        let daemon = try deployment.start(["RELAIS_WORKERS": "2"])
        defer { daemon.stop() }

        let total = 1200, skus = 20
        let produced = Mutex(0)
        let producing = DispatchGroup()
        let producer = deployment.producer
        DispatchQueue.global().async(group: producing) {
            // Paced so that jobs go on arriving through the whole failover.
            for start in stride(from: 0, to: total, by: 40) {
                try? producer.xaddMany(queue: "stock", payloads: (start..<start + 40).map { plusOne($0, shop: "halles", skus: skus) })
                // An order with each chunk: its state, reservation and messages go through the failover too.
                _ = try? producer.xadd(queue: "orders", payload: placed("f-\(start / 40)", shop: "primeurs", items: [("pain", "Pain", 1, 200)],
                                                                     deadline: deadlineAhead()))
                produced.withLock { $0 = start + 40 }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let ledger = "SELECT count(*) FROM relais.processed_jobs"
        #expect(try eventually(timeout: .seconds(30)) { Int(try primary.scalar(ledger, database: "relais") ?? "0")! >= 200 },
                "jobs flow before the failover")

        // Fenced: sessions see default_transaction_read_only at their next statement and
        // every write fails with 25006; libpq then finds no read-write host until the promotion.
        try primary.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        try primary.execute("SELECT pg_reload_conf()")
        #expect(eventually(timeout: .seconds(20)) { daemon.get("/readyz").body.contains("takes no writes") },
                "the health monitor does not call a read-only server healthy")
        #expect(try eventually(timeout: .seconds(30)) { try standby.hasReplayed(everythingOn: primary) })
        try standby.promote()
        primary.stop()

        producing.wait()
        #expect(produced.withLock { $0 } == total)
        #expect(try deployment.waitUntilDrained(timeout: .seconds(90)), "every job processed after the failover")
        let onHand = try deployment.onHand(shop: "halles")
        #expect(onHand.count == skus && onHand.values.allSatisfy { $0 == total / skus }, "each adjustment once: \(onHand)")
        #expect(try deployment.query("SELECT count(*) FROM relais.stock_adjustments")[0][0] == String(total))
        let orders = total / 40
        #expect(try deployment.query("SELECT count(*) FROM relais.order_status WHERE status = 'placed'")[0][0] == String(orders))
        #expect(try deployment.stock(shop: "primeurs")["pain"] == [0, orders, -orders], "each order reserved once")
        #expect(try deployment.waitUntilDelivered(timeout: .seconds(60)))
        for order in 0..<orders {
            #expect(try deployment.messages("f-\(order)") == ["order-placed-shop:log:sent", "order-placed-customer:log:sent"],
                    "order f-\(order): each message once")
        }
        #expect(try deployment.deadLetters().isEmpty, "no job dead-lettered for the failover")
        #expect(deployment.jobs(daemon, queue: "stock", type: "stock.adjust", outcome: "retry") == 0, "no retry burnt")
        #expect(deployment.jobs(daemon, queue: "stock", type: "stock.adjust", outcome: "done") == total)
        let log = daemon.log
        #expect(log.contains("25006"), "the fenced primary's read-only error was met and handled as a lost connection")
        #expect(!log.contains("@127.0.0.1:"), "no part of the connection string in the log")
        #expect(eventually(timeout: .seconds(20)) { daemon.get("/readyz").status == 200 }, "ready on the new primary")
    }

    /// Relais through PgBouncer 1.18 in transaction pooling with two server connections
    /// for all of Relais's: `relais migrate` (twice: the migration lock is the
    /// transaction's), the full order flow with every message sent, stock under
    /// concurrent adjustments, exact results; no session setting left behind on the
    /// shared server connections.
    @Test func relaisWorksThroughPgBouncerInTransactionMode() throws {
        let deployment = try Deployment(migrated: false)
        let admin = try #require(URLComponents(string: try TestServers.adminDatabaseURL))
        let bouncer = try PgBouncer(serverPort: try #require(admin.port), poolMode: "transaction", poolSize: 2)
        defer { bouncer.stop() }
        let database = String(deployment.databaseURL.split(separator: "/").last!)
        let pooled = ["RELAIS_DATABASE_URL": bouncer.url(database)]

        #expect(try TestServers.withDatabase(bouncer.url(database)) { $0.isPooled }, "the pooler is recognised")
        #expect(try TestServers.withDatabase(deployment.databaseURL) { !$0.isPooled }, "a direct connection is not taken for a pooled one")

        for _ in 0..<2 {
            let migrate = try Daemon.command(["migrate"], environment: try deployment.environment(pooled), timeout: .seconds(60))
            #expect(migrate.status == 0, "\(migrate.output)\(migrate.errors)")
        }
        let advisoryLocks = "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
            + " WHERE l.locktype = 'advisory' AND d.datname = current_database()"
        #expect(try deployment.query(advisoryLocks)[0][0] == "0",
                "the migration lock did not outlive its transaction")

        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings.merging(pooled) { $1 })
        defer { daemon.stop() }
        #expect(daemon.log.contains("connection pooler"), "the daemon says it goes through a pooler")

        try deployment.producer.xadd(queue: "stock", payload: levels("count", shop: "boul", at: "2026-11-28T07:00:00Z",
                                                                      [("baguette", 10), ("croissant", 1)]))
        #expect(try deployment.waitUntilDrained())
        // Adjustments to another shop from every consumer at once, while the orders go through.
        try deployment.producer.xaddMany(queue: "stock", payloads: (0..<400).map { plusOne($0, shop: "marche", skus: 8) })
        try deployment.producer.xadd(queue: "orders", payload: placed(
            "cmd-1", items: [("baguette", "Baguette tradition", 2, 120), ("croissant", "Croissant", 3, 110)],
            webhook: channels.http.url("/webhook")))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.status("cmd-1") == "placed")
        #expect(try deployment.stock(shop: "boul") == ["baguette": [10, 2, 8], "croissant": [1, 3, -2]])
        try deployment.producer.xadd(queue: "orders", payload: event("cmd-1", "confirmed"))
        try deployment.producer.xadd(queue: "orders", payload: event("cmd-1", "ready", extra: #","pickup_deadline":"\#(deadlineAhead())""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.status("cmd-1") == "ready")
        try deployment.producer.xadd(queue: "orders", payload: event("cmd-1", "collected"))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.status("cmd-1") == "collected")
        #expect(try deployment.stock(shop: "boul") == ["baguette": [8, 0, 8], "croissant": [-2, 0, -2]])
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.messages("cmd-1") == [
            "order-placed-shop:email:sent", "order-placed-shop:webhook:sent", "order-placed-customer:email:sent",
            "order-confirmed-customer:email:sent", "order-ready-customer:email:sent", "order-ready-customer:sms:sent",
        ])
        #expect(channels.smtp.waitForMessages(4).count == 4, "placed (shop, customer), confirmed, ready")
        #expect(channels.http.requests(path: "/sms").count == 1)
        #expect(channels.http.requests(path: "/webhook").count == 1)
        #expect(try deployment.onHand(shop: "marche") == Dictionary(uniqueKeysWithValues: (0..<8).map { ("sku-\($0)", 50) }))
        #expect(try deployment.deadLetters().isEmpty)

        // The server connections Relais shared carry no setting of Relais's sessions: each
        // query may land on either of them.
        for _ in 0..<6 {
            let settings = try TestServers.withDatabase(bouncer.url(database)) {
                try $0.query("SELECT current_setting('synchronous_commit'), current_setting('lock_timeout'), current_setting('plan_cache_mode')",
                             name: "settings").rows[0]
            }
            #expect(settings == ["on", "0", "auto"], "no session setting leaked onto a shared server connection")
        }
        #expect(eventually(timeout: .seconds(10)) { daemon.get("/readyz").status == 200 })
        #expect(!bouncer.log.contains("prepared statement"), "\(bouncer.log)")
    }
}

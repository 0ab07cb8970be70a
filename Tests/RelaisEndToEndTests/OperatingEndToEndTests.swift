import Foundation
import RelaisTestSupport
import Testing

@Suite("Operating relais: systemd notifications, commands, configuration", .serialized)
struct OperatingEndToEndTests {
    @Test func readyOnlyOnceDependenciesAreUpAndStoppingOnSigterm() throws {
        let deployment = try Deployment()
        let notify = try NotifySocket()
        let redisProxy = try TcpProxy(targetPort: try TestServers.redis.port)
        defer { redisProxy.cut() }
        redisProxy.cut()  // Redis is down when relais starts
        let daemon = try Daemon(environment: try deployment.environment([
            "NOTIFY_SOCKET": notify.path,
            "RELAIS_REDIS_URL": "redis://127.0.0.1:\(redisProxy.listenPort)/0",
        ]))
        defer { daemon.stop() }
        // The health monitor says why it is not ready once a round has ended, after the
        // round's READY decision: a READY sent regardless would be here before it.
        #expect(eventually(timeout: .seconds(20)) {
            notify.messages.contains { $0.lines.contains { $0.hasPrefix("STATUS=not ready") && $0.contains("redis") } }
        }, "a status naming Redis:\n\(notify.messages.map(\.lines))\n\(daemon.log)")
        #expect(!notify.saw("READY=1"), "READY before Redis is reachable")
        #expect(daemon.get("/readyz").status == 503)

        try redisProxy.start()
        #expect(eventually(timeout: .seconds(20)) { notify.saw("READY=1") }, "READY once Redis is up:\n\(daemon.log)")
        #expect(daemon.get("/readyz").status == 200)
        #expect(notify.messages.contains { $0.lines.contains { $0.hasPrefix("STATUS=") } })

        daemon.send(SIGTERM)
        #expect(daemon.waitForExit() == 0)
        #expect(notify.saw("STOPPING=1"))
    }

    /// When the cores are busy, delivering messages gives way to committing jobs: the
    /// delivery threads run 10 nice levels below the rest of the daemon.
    @Test func deliveryThreadsGiveWayToTheConsumers() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        let tasks = "/proc/\(daemon.process.processIdentifier)/task"
        /// A thread's name and nice value (field 19 of its `stat`, the 17th after the name).
        func thread(_ id: String) -> (name: String, nice: Int)? {
            guard let stat = try? String(contentsOfFile: "\(tasks)/\(id)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 16, let nice = Int(fields[16]) else { return nil }
            return (String(stat[stat.index(after: open)..<close]), nice)
        }
        let threads = try FileManager.default.contentsOfDirectory(atPath: tasks).compactMap(thread)
        let main = try #require(thread(String(daemon.process.processIdentifier)))
        let delivery = threads.filter { $0.name.hasPrefix("delivery-") }
        #expect(!delivery.isEmpty, "no delivery thread among \(threads.map(\.name))")
        #expect(delivery.allSatisfy { $0.nice == main.nice + 10 }, "\(delivery), main thread \(main.nice)")
        let others = threads.filter { $0.name.hasPrefix("scheduler-") || $0.name.hasPrefix("stock-") }
        #expect(others.count >= 2 && others.allSatisfy { $0.nice == main.nice }, "the scheduler and the consumers keep theirs: \(others)")
    }

    @Test func watchdogIsFedWhileConsumersGoRoundAndNotWhenOneIsStuck() throws {
        let deployment = try Deployment()
        let notify = try NotifySocket()
        let pgProxy = try TcpProxy(targetPort: try postgresPort())
        defer { pgProxy.cut() }
        let daemon = try Daemon(environment: try deployment.environment([
            "NOTIFY_SOCKET": notify.path,
            "WATCHDOG_USEC": "4000000",
            "RELAIS_BLOCK_TIMEOUT": "200ms",
            "RELAIS_DATABASE_URL": try deployment.databaseURL(port: pgProxy.listenPort),
        ]))
        defer { daemon.stop() }
        #expect(eventually(timeout: .seconds(20)) { notify.times(of: "WATCHDOG=1").count >= 3 }, "fed while running:\n\(daemon.log)")

        // PostgreSQL hangs (the proxy is stopped, connections stay open) while a job is in hand.
        pgProxy.freeze()
        try deployment.producer.xadd(queue: "stock", payload: adjust("stuck-1", shop: "w", sku: "a", delta: 1))
        #expect(try eventually(timeout: .seconds(10), every: .milliseconds(20)) { try deployment.pending("stock") == 1 },
                "a consumer holds the job")
        // Its loop last went round before it read the job, and the monitor feeds the
        // watchdog only while every loop went round within half the interval (2 s): from
        // 3 s on, nothing may feed it. The monitor's status lines show it going round; one
        // sent a whole interval (4 s) later means systemd would have restarted the daemon.
        let noFeedAfter = ContinuousClock.now + .seconds(3)
        #expect(eventually(timeout: .seconds(25), every: .milliseconds(50)) {
            notify.times(ofLineStartingWith: "STATUS=").contains { $0 > noFeedAfter + .seconds(4) }
        }, "the health monitor goes on reporting:\n\(daemon.log)")
        let during = notify.times(of: "WATCHDOG=1").filter { $0 > noFeedAfter }
        #expect(during.isEmpty, "the watchdog was fed \(during.count) times while a consumer was stuck")

        pgProxy.thaw()
        let thawedAt = ContinuousClock.now
        #expect(eventually(timeout: .seconds(20)) { notify.times(of: "WATCHDOG=1").contains { $0 > thawedAt } }, "fed again once unstuck")
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "w") == ["a": 1])
    }

    @Test func deadLetterIsListedShownFixedAndReplayed() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        let env = try deployment.environment()
        try deployment.producer.xadd(queue: "stock", payload: #"{"id":"fix-me","type":"stock.adjust","data":{"shop_id":"d","sku":"a","delta":"four","at":"2026-11-28T12:00:00Z"}}"#)
        #expect(try deployment.waitUntilDrained())

        let list = try Daemon.command(["dead", "list", "--json"], environment: env)
        #expect(list.status == 0)
        let letters = try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [[String: Any]] ?? []
        #expect(letters.count == 1)
        let id = try #require(letters.first?["entry_id"] as? String)
        #expect(letters.first?["code"] as? String == "invalid_field")
        #expect(letters.first?["job_id"] as? String == "fix-me")

        let human = try Daemon.command(["dead", "list"], environment: env)
        #expect(human.output.contains("data.delta: must be an integer"), "\(human.output)")
        let show = try Daemon.command(["dead", "show", id], environment: env)
        #expect(show.status == 0)
        #expect(show.output.contains(#""delta":"four""#), "show prints the original job:\n\(show.output)")

        let fixed = #"{"id":"fix-me","type":"stock.adjust","data":{"shop_id":"d","sku":"a","delta":4,"at":"2026-11-28T12:00:00Z"}}"#
        let replay = try Daemon.command(["dead", "replay", id, "--job", fixed], environment: env)
        #expect(replay.status == 0, "\(replay.errors)")
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "d") == ["a": 4], "the fixed job took effect")
        #expect(try deployment.deadLetters().isEmpty, "the replayed dead letter is gone")

        try deployment.producer.xadd(queue: "stock", payload: "junk")
        #expect(try deployment.waitUntilDrained())
        #expect(try Daemon.command(["dead", "purge"], environment: env).status == 64, "purge without ids or --all is a usage error")
        #expect(try Daemon.command(["dead", "purge", "--all"], environment: env).status == 0)
        #expect(try deployment.deadLetters().isEmpty)
    }

    @Test func checkFailsClearlyWhenPostgresIsDown() throws {
        let deployment = try Deployment()
        let good = try Daemon.command(["check"], environment: try deployment.environment())
        #expect(good.status == 0, "\(good.output)\(good.errors)")
        let down = try Daemon.command(["check"], environment: try deployment.environment([
            "RELAIS_DATABASE_URL": "postgresql://relais@127.0.0.1:\(freePort())/relais",
        ]))
        #expect(down.status == 69, "EX_UNAVAILABLE")
        #expect(down.output.contains("postgres       unreachable"), "\(down.output)")
        let json = try Daemon.command(["check", "--json"], environment: try deployment.environment([
            "RELAIS_DATABASE_URL": "postgresql://relais@127.0.0.1:\(freePort())/relais",
        ]))
        #expect(json.output.contains(#""ok" : false"#), "\(json.output)")
    }

    /// A Redis that may evict or lose streams is a warning, named, not a failure.
    @Test func checkWarnsAboutRedisSettingsThatCanLoseJobs() throws {
        let deployment = try Deployment()
        let env = try deployment.environment()
        let clean = try Daemon.command(["check"], environment: env)
        #expect(clean.status == 0 && !clean.output.contains("warning"), "the test Redis is durable: \(clean.output)")
        _ = try TestServers.withRedis { try $0.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru") }
        defer { _ = try? TestServers.withRedis { try $0.command("CONFIG", "SET", "maxmemory-policy", "noeviction") } }
        let warned = try Daemon.command(["check"], environment: env)
        #expect(warned.status == 0, "a warning does not fail the check")
        #expect(warned.output.contains("warning      maxmemory-policy is allkeys-lru"), "\(warned.output)")
        let json = try Daemon.command(["check", "--json"], environment: env)
        #expect(json.output.contains(#""redis_warnings" : ["#) && json.output.contains("allkeys-lru"), "\(json.output)")
    }

    @Test func queuesAndStatusGiveTheSamePicture() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        try deployment.producer.xadd(queue: "stock", payload: "not json")
        #expect(try deployment.waitUntilDrained())
        let queues = try Daemon.command(["queues", "--json"], environment: try deployment.environment())
        #expect(queues.status == 0)
        let cli = try JSONSerialization.jsonObject(with: Data(queues.output.utf8)) as? [String: Any]
        #expect(cli?["dead_letters"] as? Int == 1)
        #expect(eventually(timeout: .seconds(5)) { daemon.get("/status").body.contains(#""dead_letters" : 1"#) })
        let status = try JSONSerialization.jsonObject(with: Data(daemon.get("/status").body.utf8)) as? [String: Any]
        let stock = (status?["queues"] as? [String: Any])?["stock"] as? [String: Any]
        let cliStock = (cli?["queues"] as? [[String: Any]])?.first
        #expect(stock?["length"] as? Int == cliStock?["length"] as? Int)
        #expect(stock?["retrying"] as? Int == cliStock?["retrying"] as? Int)
    }

    @Test func enqueueRefusesAnInvalidJobNamingTheField() throws {
        let deployment = try Deployment()
        let env = try deployment.environment()
        let bad = try Daemon.command(["enqueue", "--queue", "stock", "--type", "stock.adjust",
                                      "--data", #"{"shop_id":"e","sku":"a","delta":0,"at":"2026-11-28T12:00:00Z"}"#], environment: env)
        #expect(bad.status == 65)
        #expect(bad.errors.contains("data.delta: must not be zero"), "\(bad.errors)")
        let good = try Daemon.command(["enqueue", "--queue", "stock", "--type", "stock.adjust", "--id", "cli-1",
                                       "--data", #"{"shop_id":"e","sku":"a","delta":2,"at":"2026-11-28T12:00:00Z"}"#], environment: env)
        #expect(good.status == 0, "\(good.errors)")
        #expect(try deployment.producer.run(["XLEN", "\(deployment.prefix):stock"]) == "1")
    }

    @Test func configurationFileIsReadAndABadValueInItIsRefusedNamingTheKey() throws {
        let deployment = try Deployment()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relais-config-\(TestServers.randomSuffix())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("relais.yaml")
        var env = try deployment.environment()
        env["RELAIS_PREFIX"] = nil
        env["RELAIS_CONFIG"] = file.path

        try "prefix: from-file-\(deployment.prefix)\nworkers: 1\nbatch_size: 50\nlog_level: warning\n".write(to: file, atomically: true, encoding: .utf8)
        let queues = try Daemon.command(["queues", "--json"], environment: env)
        #expect(queues.status == 0, "\(queues.errors)")
        #expect(queues.output.contains("from-file-\(deployment.prefix):stock"), "the prefix came from the file:\n\(queues.output)")

        try "batch_size: lots\n".write(to: file, atomically: true, encoding: .utf8)
        let bad = try Daemon.command(["check"], environment: env)
        #expect(bad.status == 78)
        #expect(bad.errors.contains("RELAIS_BATCH_SIZE (batch_size in the configuration file)"), "\(bad.errors)")

        try "prefix: [unclosed\n".write(to: file, atomically: true, encoding: .utf8)
        let broken = try Daemon.command(["check"], environment: env)
        #expect(broken.status == 78)
        #expect(broken.errors.contains("RELAIS_CONFIG"), "\(broken.errors)")

        env["RELAIS_CONFIG"] = directory.appendingPathComponent("missing.yaml").path
        #expect(try Daemon.command(["check"], environment: env).status == 78)
    }

    @Test func sighupAppliesLogLevelAndBatchSizeAndSaysWhatNeedsARestart() throws {
        let deployment = try Deployment()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("relais-\(TestServers.randomSuffix()).yaml")
        // One consumer per queue: it logs its jobs in their order, and what it holds is one batch.
        try "log_level: info\nbatch_size: 200\nworkers: 1\n".write(to: file, atomically: true, encoding: .utf8)
        // Empty in the environment: the file decides (the environment would win over it).
        let notify = try NotifySocket()
        let daemon = try deployment.start(["RELAIS_CONFIG": file.path, "RELAIS_LOG_LEVEL": "", "NOTIFY_SOCKET": notify.path])
        defer { daemon.stop() }
        #expect(eventually(timeout: .seconds(20)) { notify.saw("READY=1") }, "ready before the reload")
        try deployment.producer.xadd(queue: "stock", payload: adjust("before-reload", shop: "h", sku: "a", delta: 1))
        #expect(eventually(timeout: .seconds(20)) { daemon.log.contains("job.id=before-reload ") }, "info lines are on before")

        try "log_level: warning\nbatch_size: 7\nworkers: 3\n".write(to: file, atomically: true, encoding: .utf8)
        daemon.send(SIGHUP)
        #expect(eventually(timeout: .seconds(10)) { daemon.log.contains("configuration reloaded") }, "\(daemon.log)")
        let line = daemon.log.split(separator: "\n").first { $0.contains("configuration reloaded") } ?? ""
        #expect(line.contains("log_level=warning") && line.contains("batch_size=7"), "\(line)")
        #expect(line.contains("needs_restart=\"queue settings\""), "\(line)")
        // systemd heard the reload begin, then end: RELOADING=1 with the monotonic time, then READY=1 again.
        #expect(eventually(timeout: .seconds(10)) { notify.times(of: "READY=1").count >= 2 }, "\(notify.messages.map(\.lines))")
        let reloading = try #require(notify.messages.first { $0.lines.contains("RELOADING=1") }, "\(notify.messages.map(\.lines))")
        #expect(reloading.lines.contains { $0.hasPrefix("MONOTONIC_USEC=") && UInt64($0.dropFirst("MONOTONIC_USEC=".count)) != nil })
        #expect(notify.times(of: "READY=1").last! > notify.times(of: "RELOADING=1").first!, "READY=1 after RELOADING=1")
        // A configuration that cannot work is refused, and systemd still hears the reload end.
        try "log_level: shouting\n".write(to: file, atomically: true, encoding: .utf8)
        daemon.send(SIGHUP)
        #expect(eventually(timeout: .seconds(10)) { daemon.log.contains("configuration reload refused") && notify.times(of: "READY=1").count >= 3 },
                "a refused reload ends with READY=1: \(notify.messages.map(\.lines))")
        try "log_level: warning\nbatch_size: 7\nworkers: 3\n".write(to: file, atomically: true, encoding: .utf8)

        // The log level took effect: a job done (info), then one dead-lettered (warning),
        // by the one consumer; once the second's line is there, the first's would be.
        try deployment.producer.xadd(queue: "stock", payload: adjust("after-reload", shop: "h", sku: "a", delta: 1))
        try deployment.producer.xadd(queue: "stock", payload:
            #"{"id":"bad-after-reload","type":"stock.adjust","data":{"shop_id":"h","sku":"a","delta":"one","at":"2026-11-28T12:00:00Z"}}"#)
        #expect(eventually(timeout: .seconds(20)) { daemon.log.contains("job.id=bad-after-reload ") }, "warning lines are on:\n\(daemon.log)")
        #expect(!daemon.log.contains("job.id=after-reload "), "info lines are off after the reload")

        // The batch size took effect: with the SKU's row locked, the consumer holds the one
        // batch it read of 20 entries that arrived at once, 7 of them.
        try TestServers.withDatabase(deployment.databaseURL) { db in
            _ = try db.execute("BEGIN", name: "hold")
            _ = try db.query("SELECT on_hand FROM relais.stock_items WHERE shop_id = 'h' AND sku = 'a' FOR UPDATE", name: "lock")
            try TestServers.withRedis { redis in
                let adds = (0..<20).map { ["XADD", "\(deployment.prefix):stock", "*", "job", adjust("batch-\($0)", shop: "h", sku: "a", delta: 1)] }
                _ = try redis.pipeline([["MULTI"]] + adds + [["EXEC"]])
            }
            #expect(try eventually(timeout: .seconds(10), every: .milliseconds(20)) { try deployment.pending("stock") == 7 },
                    "the consumer holds a batch of 7, not \((try? deployment.pending("stock")) ?? -1)")
            _ = try db.execute("ROLLBACK", name: "release")
        }
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.onHand(shop: "h") == ["a": 22], "every job took effect once")

        try "batch_size: nonsense\n".write(to: file, atomically: true, encoding: .utf8)
        daemon.send(SIGHUP)
        #expect(eventually(timeout: .seconds(10)) { daemon.log.contains("configuration reload refused") })
        #expect(daemon.process.isRunning, "a bad reload keeps the running configuration")
        #expect(daemon.get("/readyz").status == 200)
    }

    @Test func credentialsDirectorySuppliesSecretsAndEmptyFilesFallThrough() throws {
        let deployment = try Deployment()
        let credentials = FileManager.default.temporaryDirectory.appendingPathComponent("relais-creds-\(TestServers.randomSuffix())")
        try FileManager.default.createDirectory(at: credentials, withIntermediateDirectories: true)
        try deployment.databaseURL.write(to: credentials.appendingPathComponent("database_url"), atomically: true, encoding: .utf8)
        try "".write(to: credentials.appendingPathComponent("redis_url"), atomically: true, encoding: .utf8)
        var env = try deployment.environment()
        env["RELAIS_DATABASE_URL"] = nil
        env["CREDENTIALS_DIRECTORY"] = credentials.path
        let check = try Daemon.command(["check"], environment: env)
        #expect(check.status == 0, "database from the credential, Redis from the environment:\n\(check.output)\(check.errors)")
        #expect(!check.output.contains(deployment.databaseURL), "the connection string is not printed")
    }

    @Test func systemdUnitPassesVerification() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let unit = try String(contentsOf: root.appendingPathComponent("systemd/relais.service"), encoding: .utf8)
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("relais-\(TestServers.randomSuffix()).service")
        try unit.replacingOccurrences(of: "/usr/local/bin/relais", with: Daemon.binary).write(to: copy, atomically: true, encoding: .utf8)
        let output = try Command.run("sh", ["-c", "systemd-analyze verify \"$0\" 2>&1; echo \"status=$?\"", copy.path])
        #expect(output.hasSuffix("status=0"), "\(output)")
        #expect(!output.contains(copy.lastPathComponent), "no warnings about the unit: \(output)")
        for directive in ["Type=notify", "WatchdogSec=", "Restart=on-failure", "RestartPreventExitStatus=78", "DynamicUser=yes",
                          "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "RestrictAddressFamilies="] {
            #expect(unit.contains(directive), "the unit sets \(directive)")
        }
        #expect(!unit.contains("RELAIS_DATABASE_URL="), "no secret in the unit")
    }
}

import Foundation
import RedisClient
import RelaisTestSupport
import Testing

/// Writes stock adjustments (+1 each, one SKU) to the master the sentinels name, as a
/// producer that follows failovers would, on a thread of its own; each `XADD` goes with
/// an `SADD` of its job id to an audit set in one `MULTI`, so that the audit set on the
/// master that survives says exactly which jobs reached it.
private final class FollowingProducer: @unchecked Sendable {
    // @unchecked: the counters are behind `lock`; the thread owns its connection.
    private let lock = NSLock()
    private var _acknowledged: [String] = []
    private var _confirmed: Set<String> = []
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    let endpoint: RedisEndpoint
    let stream: String
    let audit: String
    let shop: String

    init(endpoint: RedisEndpoint, prefix: String, shop: String) {
        self.endpoint = endpoint
        stream = "\(prefix):stock"
        audit = "\(prefix):test-audit"
        self.shop = shop
    }

    /// Job ids whose `XADD` a master acknowledged.
    var acknowledged: [String] { lock.withLock { _acknowledged } }
    /// Of those, the ones `WAIT 1` said a replica had too.
    var confirmed: Set<String> { lock.withLock { _confirmed } }

    func start() {
        Thread { self.run() }.start()
    }

    func stop() {
        lock.withLock { stopping = true }
        finished.wait()
    }

    private func run() {
        var redis: RedisConnection?
        var next = 0
        defer {
            redis?.close()
            finished.signal()
        }
        while !lock.withLock({ stopping }) {
            let id = "fo-\(next)"
            let job = adjust(id, shop: shop, sku: "k", delta: 1)
            do {
                if redis == nil { redis = try RedisConnection(endpoint, connectTimeout: .seconds(1), timeout: .seconds(2)) }
                let replies = try redis!.pipeline([["MULTI"], ["XADD", stream, "*", "job", job], ["SADD", audit, id], ["EXEC"]])
                guard case .array = replies[3] else { throw TestSetupError("EXEC: \(replies[3])") }
                lock.withLock { _acknowledged.append(id) }
                next += 1
                // What a producer that cannot afford the loss does: wait for one replica.
                if let copies = try? redis!.command("WAIT", "1", "100").integer, copies >= 1 {
                    lock.withLock { _ = _confirmed.insert(id) }
                }
                // A steady flow of a few hundred jobs a second, not a flood.
                Thread.sleep(forTimeInterval: 0.003)
            } catch {
                redis?.close()
                redis = nil
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }
}

/// Relais against the Redis topologies of production: Sentinel with a failover and a
/// crash, an ACL user, and Redis over TLS through the shipped stunnel recipe.
@Suite("Redis topologies end to end", .serialized)
struct RedisTopologyEndToEndTests {
    /// The daemon's environment on `databaseURL` with `redis` settings.
    func environment(databaseURL: String, prefix: String, port: Int, redis: [String: String]) throws -> [String: String] {
        var env = try Daemon.environment(databaseURL: databaseURL, prefix: prefix, httpPort: port, extra: redis)
        env["RELAIS_CLAIM_IDLE"] = "5s"
        return env
    }

    func query(_ url: String, _ sql: String) throws -> [[String?]] {
        try TestServers.withDatabase(url) { try $0.query(sql, name: "test").rows }
    }

    func processedCount(_ url: String) throws -> Int {
        Int(try query(url, "SELECT count(*) FROM relais.processed_jobs WHERE queue = 'stock'")[0][0] ?? "0") ?? 0
    }

    /// Master, replica and three sentinels; jobs flow from a producer that follows the
    /// master; a `SENTINEL FAILOVER`, then a kill -9 of the new master. Relais follows
    /// both, and every job that reached the surviving master took effect exactly once.
    @Test func relaisFollowsASentinelFailoverAndAMasterKilledWhileJobsFlow() throws {
        let topology = try RedisTopology()
        defer { topology.stop() }
        let databaseURL = try TestServers.makeDatabase()
        let prefix = TestServers.makePrefix()
        var redisEnv = topology.relaisEnvironment
        // A sentinel that is down, listed first: the others are asked in turn.
        redisEnv["RELAIS_REDIS_SENTINELS"] = "127.0.0.1:\(freePort())," + redisEnv["RELAIS_REDIS_SENTINELS"]!
        let daemon = try Daemon(environment: try environment(databaseURL: databaseURL, prefix: prefix, port: freePort(), redis: redisEnv))
        defer { daemon.stop() }
        #expect(daemon.waitUntilReady(), "ready through the sentinels:\n\(daemon.log)")

        let producer = FollowingProducer(endpoint: try topology.endpoint, prefix: prefix, shop: "failover")
        producer.start()
        var producerStopped = false
        defer { if !producerStopped { producer.stop() } }
        #expect(eventually(timeout: .seconds(30)) { (try? processedCount(databaseURL)) ?? 0 >= 300 }, "jobs flow before the failover:\n\(daemon.log)")

        // 1. A failover ordered while the master is up.
        let first = try #require(try topology.masterPort())
        _ = try topology.sentinel(1, "SENTINEL", "FAILOVER", topology.masterName)
        #expect(eventually(timeout: .seconds(20)) { (try? topology.masterPort()) != first }, "the sentinels promoted the replica")
        let second = try #require(try topology.masterPort())
        let atSwitch = try processedCount(databaseURL)
        #expect(eventually(timeout: .seconds(30)) { (try? processedCount(databaseURL)) ?? 0 >= atSwitch + 300 },
                "jobs flow after the failover:\n\(daemon.log)")
        // The old master is made a replica of the new one; then a crash can be survived.
        #expect(eventually(timeout: .seconds(40)) { (try? topology.isReadyForFailover()) == true }, "the old master rejoined as a replica")

        // 2. The new master killed -9.
        topology.server(on: second)?.kill9()
        #expect(eventually(timeout: .seconds(30)) { (try? topology.masterPort()).flatMap { $0 } == first },
                "the sentinels promoted the old master again")
        let atCrash = try processedCount(databaseURL)
        // Slower now: with no replica left, each WAIT 1 of the producer waits its 100 ms.
        #expect(eventually(timeout: .seconds(30)) { (try? processedCount(databaseURL)) ?? 0 >= atCrash + 100 },
                "jobs flow after the crash:\n\(daemon.log)")
        producer.stop()
        producerStopped = true

        let survivor = try topology.admin(first)
        defer { survivor.close() }
        #expect(try eventually(timeout: .seconds(60)) { try QueuesInRedis.drained(prefix: prefix, redis: survivor) }, "drained:\n\(daemon.log)")
        #expect(daemon.get("/readyz").status == 200)

        let reached = Set(try survivor.command("SMEMBERS", "\(prefix):test-audit").elements.compactMap(\.string))
        let processed = Set(try query(databaseURL, "SELECT job_id FROM relais.processed_jobs WHERE queue = 'stock'").compactMap { $0[0] })
        let onHand = Int(try query(databaseURL, "SELECT on_hand FROM relais.stock_available WHERE shop_id = 'failover' AND sku = 'k'").first?[0] ?? "0") ?? 0
        let acknowledged = producer.acknowledged
        let confirmed = producer.confirmed
        #expect(reached.subtracting(processed).isEmpty, "every job that reached the surviving master was processed: \(reached.subtracting(processed).sorted().prefix(10))")
        #expect(onHand == processed.count, "each job's effect once: on hand \(onHand), jobs in the ledger \(processed.count)")
        #expect(processed.isSubset(of: Set(acknowledged)), "nothing processed that was not written")
        #expect(confirmed.subtracting(reached).isEmpty, "a write a replica confirmed (WAIT 1) survives both failovers: \(confirmed.subtracting(reached).sorted())")
        let lostFromRedis = Set(acknowledged).subtracting(reached)
        let lostForGood = lostFromRedis.subtracting(processed)
        print("""
            sentinel failover + kill -9: \(acknowledged.count) XADD acknowledged, \(confirmed.count) confirmed by WAIT 1, \
            \(reached.count) on the surviving master, \(lostFromRedis.count) acknowledged but not on it \
            (\(lostForGood.count) of them never processed), \(processed.count) processed, on hand \(onHand)
            """)
        for secret in [topology.password, topology.adminPassword, topology.sentinelPassword] {
            #expect(!daemon.log.contains(secret), "a password was logged")
        }
    }

    /// What a crash of the master can lose: writes it acknowledged that had not reached
    /// the replica. Pipelines of `XADD`, each followed by `WAIT 1 100` but the last, after
    /// which the master is killed -9 at once; with a healthy replica, and with one that
    /// lags (stopped with SIGSTOP during the writes, as a slow network would). Every
    /// write `WAIT` confirmed must survive; the others are what a failover can lose.
    @Test(arguments: [false, true])
    func whatAKilledMasterLosesIsMeasuredAndWaitPreventsIt(laggingReplica: Bool) throws {
        let topology = try RedisTopology()
        defer { topology.stop() }
        let first = try #require(try topology.masterPort())
        let replica = try #require(topology.servers.first { $0.port != first })
        // A replica's READONLY, also from inside a script, is a connection error that closes
        // the connection: its user makes a new one, through the sentinels.
        for command in [["XADD", "loss", "*", "job", "x"], ["EVAL", "return redis.call('XADD', KEYS[1], '*', 'job', 'x')", "1", "loss"]] {
            let direct = try topology.admin(replica.port)
            let error = #expect(throws: RedisError.self) { try direct.command(arguments: command) }
            #expect(error?.kind == .connection && error?.message.contains("READONLY") == true, "\(String(describing: error))")
            #expect(!direct.isOpen)
            direct.close()
        }
        let producer = try RedisConnection(try topology.endpoint, connectTimeout: .seconds(1), timeout: .seconds(5))
        var acknowledged = 0, confirmed = 0
        let batch = 500, batches = 20
        if laggingReplica { replica.send(SIGSTOP) }
        for number in 1...batches {
            let replies = try producer.pipeline(Array(repeating: ["XADD", "loss", "*", "job", String(repeating: "x", count: 200)], count: batch))
            let written = replies.filter { $0.string != nil }.count
            acknowledged += written
            if number < batches, (try producer.command("WAIT", "1", "100").integer ?? 0) >= 1 { confirmed += written }
        }
        topology.server(on: first)?.kill9()
        producer.close()
        if laggingReplica { replica.send(SIGCONT) }
        #expect(eventually(timeout: .seconds(30)) { ((try? topology.masterPort()) ?? nil) == replica.port && topology.role(replica.port) == "master" },
                "failed over")
        let survivor = try topology.admin(replica.port)
        defer { survivor.close() }
        let kept = Int(try survivor.command("XLEN", "loss").integer ?? 0)
        print("""
            kill -9 of the master right after its last acknowledged XADD, \(laggingReplica ? "replica lagging" : "healthy replica"): \
            \(acknowledged) acknowledged, \(confirmed) confirmed by WAIT 1, \(kept) on the new master, \(acknowledged - kept) lost
            """)
        #expect(kept >= confirmed, "every write the replica confirmed survived")
        #expect(kept <= acknowledged)
    }

    /// An ACL user: `redis://user:password@…` authenticates with both; a wrong password
    /// is refused by name, never printed.
    @Test func anACLUserProcessesJobsAndAWrongPasswordIsRefusedWithoutPrintingIt() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relais-acl-\(TestServers.randomSuffix())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let port = freePort()
        let password = "Acl-pw-\(TestServers.randomSuffix())"
        let prefix = TestServers.makePrefix()
        let server = try RedisProcess(port: port, directory: directory, config: """
            port \(port)
            bind 127.0.0.1
            dir \(directory.path)
            save ""
            appendonly yes
            maxmemory-policy noeviction
            user default off
            user relaisuser on >\(password) ~\(prefix):* +@all -@admin -@dangerous

            """)
        defer { server.kill9() }
        let endpoint = RedisEndpoint(host: "127.0.0.1", port: port, username: "relaisuser", password: password)
        #expect(eventually(timeout: .seconds(10)) { (try? RedisConnection(endpoint).close()) != nil }, "the ACL user can connect")
        let databaseURL = try TestServers.makeDatabase()
        let url = "redis://relaisuser:\(password)@127.0.0.1:\(port)/0"

        // Without the user name, the password is the default user's, who is disabled.
        for wrong in ["redis://relaisuser:Wrong-\(password)@127.0.0.1:\(port)/0", "redis://:\(password)@127.0.0.1:\(port)/0"] {
            let env = try environment(databaseURL: databaseURL, prefix: prefix, port: freePort(), redis: ["RELAIS_REDIS_URL": wrong])
            let check = try Daemon.command(["check"], environment: env, timeout: .seconds(30))
            #expect(check.status == 69, "check: \(check.status) \(check.output)\(check.errors)")
            #expect((check.output + check.errors).contains("WRONGPASS"), "refused clearly: \(check.output)\(check.errors)")
            #expect(!(check.output + check.errors).contains(password), "the password was printed")
        }

        let daemon = try Daemon(environment: try environment(databaseURL: databaseURL, prefix: prefix, port: freePort(), redis: ["RELAIS_REDIS_URL": url]))
        defer { daemon.stop() }
        #expect(daemon.waitUntilReady(), "ready with the ACL user:\n\(daemon.log)")
        let producer = try RedisConnection(endpoint)
        defer { producer.close() }
        _ = try producer.pipeline((0..<200).map { ["XADD", "\(prefix):stock", "*", "job", adjust("acl-\($0)", shop: "acl", sku: "k", delta: 1)] })
        #expect(try eventually(timeout: .seconds(30)) { try QueuesInRedis.drained(prefix: prefix, redis: producer) })
        #expect(try query(databaseURL, "SELECT on_hand FROM relais.stock_available WHERE shop_id = 'acl' AND sku = 'k'") == [["200"]])
        #expect(try processedCount(databaseURL) == 200)
        #expect(!daemon.log.contains(password), "the password was logged")
    }

    /// Redis that speaks only TLS, reached through stunnel run from the shipped sample
    /// configuration (its `accept`, `connect`, `CAfile` and `checkHost` pointed at the
    /// test's): Relais processes jobs through it. `rediss://` is refused with status 78,
    /// pointing to that recipe.
    @Test func relaisProcessesJobsThroughTheShippedStunnelRecipe() throws {
        let certificate = try TestCertificate.make()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relais-tls-\(TestServers.randomSuffix())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let tlsPort = freePort()
        let password = "Tls-pw-\(TestServers.randomSuffix())"
        let server = try RedisProcess(port: tlsPort, directory: directory.appendingPathComponent("redis"), config: """
            port 0
            tls-port \(tlsPort)
            bind 127.0.0.1
            dir \(directory.path)/redis
            tls-cert-file \(certificate.certificatePath)
            tls-key-file \(certificate.keyPath)
            tls-ca-cert-file \(certificate.certificatePath)
            tls-auth-clients no
            save ""
            appendonly yes
            maxmemory-policy noeviction
            user default off
            user relaisuser on >\(password) ~* &* +@all -@admin

            """)
        defer { server.kill9() }

        // The shipped sample, with the test's addresses and CA; every other line as shipped.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sample = try String(contentsOf: root.appendingPathComponent("config/relais-redis-tls.conf"), encoding: .utf8)
        let localPort = freePort()
        var replaced: Set<String> = []
        let config = sample.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let key = line.split(separator: "=").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            let value: String? = switch key {
            case "accept": "127.0.0.1:\(localPort)"
            case "connect": "127.0.0.1:\(tlsPort)"
            case "CAfile": certificate.certificatePath
            case "checkHost": "localhost"
            default: nil
            }
            guard let value, !line.hasPrefix(";") else { return String(line) }
            replaced.insert(key)
            return "\(key) = \(value)"
        }.joined(separator: "\n")
        #expect(replaced == ["accept", "connect", "CAfile", "checkHost"], "the sample has the lines the recipe tells operators to set")
        let tunnel = try StunnelProcess(config: config, directory: directory.appendingPathComponent("stunnel"))
        defer { tunnel.stop() }

        let endpoint = RedisEndpoint(host: "127.0.0.1", port: localPort, username: "relaisuser", password: password)
        #expect(eventually(timeout: .seconds(10)) { (try? RedisConnection(endpoint).close()) != nil }, "Redis through the tunnel:\n\(tunnel.log)")
        let databaseURL = try TestServers.makeDatabase()
        let prefix = TestServers.makePrefix()
        let daemon = try Daemon(environment: try environment(databaseURL: databaseURL, prefix: prefix, port: freePort(),
                                                             redis: ["RELAIS_REDIS_URL": "redis://relaisuser:\(password)@127.0.0.1:\(localPort)/0"]))
        defer { daemon.stop() }
        #expect(daemon.waitUntilReady(), "ready through stunnel:\n\(daemon.log)")
        let producer = try RedisConnection(endpoint)
        defer { producer.close() }
        _ = try producer.pipeline((0..<200).map { ["XADD", "\(prefix):stock", "*", "job", adjust("tls-\($0)", shop: "tls", sku: "k", delta: 1)] })
        #expect(try eventually(timeout: .seconds(30)) { try QueuesInRedis.drained(prefix: prefix, redis: producer) })
        #expect(try query(databaseURL, "SELECT on_hand FROM relais.stock_available WHERE shop_id = 'tls' AND sku = 'k'") == [["200"]])
        // The only way in is TLS: the server has no plain port, and plain Redis to its TLS port fails.
        #expect(throws: RedisError.self) {
            try RedisConnection(RedisEndpoint(host: "127.0.0.1", port: tlsPort, username: "relaisuser", password: password),
                                connectTimeout: .seconds(1), timeout: .seconds(2)).close()
        }
        #expect(!daemon.log.contains(password))

        // rediss:// is refused at once, naming the key and the recipe, without the password.
        let env = try environment(databaseURL: databaseURL, prefix: prefix, port: freePort(),
                                  redis: ["RELAIS_REDIS_URL": "rediss://relaisuser:\(password)@127.0.0.1:\(tlsPort)/0"])
        let check = try Daemon.command(["check"], environment: env, timeout: .seconds(30))
        #expect(check.status == 78, "\(check.status): \(check.output)\(check.errors)")
        #expect(check.errors.contains("RELAIS_REDIS_URL") && check.errors.contains("relais-redis-tls.service"), "\(check.errors)")
        #expect(!(check.output + check.errors).contains(password))
        let refused = try Daemon(environment: env)
        let status = refused.waitForExit(timeout: .seconds(15))
        if status == nil { refused.stop() }
        #expect(status == 78, "serve with rediss:// exited \(String(describing: status)):\n\(refused.log)")
        #expect(refused.log.contains("docs/operations.md") && !refused.log.contains(password), "\(refused.log)")

        // The shipped unit is one systemd accepts.
        if (try? Command.run("sh", ["-c", "command -v systemd-analyze"])) != nil {
            let unit = root.appendingPathComponent("systemd/relais-redis-tls.service").path
            #expect(throws: Never.self, "systemd-analyze verify \(unit)") { try Command.run("systemd-analyze", ["verify", unit]) }
        } else {
            print("systemd-analyze is not installed: the unit file was not verified")
        }
    }
}

/// stunnel4 started on a configuration, in the foreground, as the unit runs it.
private final class StunnelProcess: @unchecked Sendable {
    // @unchecked: started and stopped from the test's thread only.
    private let process = Process()
    private let logPath: String

    init(config: String, directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("redis-tls.conf")
        try config.write(to: file, atomically: true, encoding: .utf8)
        logPath = directory.appendingPathComponent("log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["stunnel4", file.path]
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// SIGKILL: children of the test process inherit its blocked SIGTERM, which stunnel
    /// would then never see.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Sentinel settings that cannot work stop `relais` at once with status 78, naming the
/// key, and never print the sentinels' password.
@Suite("Sentinel settings, through the binary", .serialized)
struct SentinelConfigurationEndToEndTests {
    @Test(arguments: [
        (["RELAIS_REDIS_SENTINELS": "127.0.0.1:26379"], "RELAIS_REDIS_SENTINEL_MASTER"),
        (["RELAIS_REDIS_SENTINEL_MASTER": "relais"], "RELAIS_REDIS_SENTINELS"),
        (["RELAIS_REDIS_SENTINEL_PASSWORD": "Sentinel-S3cret"], "RELAIS_REDIS_SENTINELS"),
        (["RELAIS_REDIS_SENTINELS": "127.0.0.1:26379,10.0.0.2:notaport", "RELAIS_REDIS_SENTINEL_MASTER": "relais",
          "RELAIS_REDIS_SENTINEL_PASSWORD": "Sentinel-S3cret"], "RELAIS_REDIS_SENTINELS"),
        (["RELAIS_REDIS_SENTINELS": "127.0.0.1:26379", "RELAIS_REDIS_SENTINEL_MASTER": "my master"], "RELAIS_REDIS_SENTINEL_MASTER"),
    ])
    func aSentinelSettingThatCannotWorkIsRefusedByName(settings: [String: String], key: String) throws {
        let env = try Daemon.environment(databaseURL: try TestServers.makeDatabase(migrated: false), prefix: TestServers.makePrefix(),
                                         httpPort: freePort(), extra: settings)
        let check = try Daemon.command(["check"], environment: env, timeout: .seconds(30))
        #expect(check.status == 78, "\(check.status): \(check.output)\(check.errors)")
        #expect(check.errors.contains(key), "names \(key): \(check.errors)")
        #expect(!(check.output + check.errors).contains("S3cret"))
        let daemon = try Daemon(environment: env)
        let status = daemon.waitForExit(timeout: .seconds(15))
        if status == nil { daemon.stop() }
        #expect(status == 78, "serve: \(String(describing: status))\n\(daemon.log)")
        #expect(daemon.log.contains(key) && !daemon.log.contains("S3cret"))
    }

    /// No sentinel answers: `relais check` says so for each, exit 69, no password.
    @Test func unreachableSentinelsAreEachNamedWithoutThePassword() throws {
        let (a, b) = (freePort(), freePort())
        let env = try Daemon.environment(databaseURL: try TestServers.makeDatabase(), prefix: TestServers.makePrefix(), httpPort: freePort(),
                                         extra: ["RELAIS_REDIS_SENTINELS": "127.0.0.1:\(a),127.0.0.1:\(b)", "RELAIS_REDIS_SENTINEL_MASTER": "relais",
                                                 "RELAIS_REDIS_SENTINEL_PASSWORD": "Sentinel-S3cret",
                                                 "RELAIS_REDIS_URL": "redis://relais:Master-S3cret@relais/0"])
        let check = try Daemon.command(["check"], environment: env, timeout: .seconds(30))
        #expect(check.status == 69, "\(check.status): \(check.output)\(check.errors)")
        let text = check.output + check.errors
        #expect(text.contains("127.0.0.1:\(a)") && text.contains("127.0.0.1:\(b)") && text.contains("relais"), "\(text)")
        #expect(!text.contains("S3cret"), "\(text)")
    }
}

/// The sentinel list's syntax and which replies mean a failover, without servers.
@Suite("Redis Sentinel settings and failover replies")
struct SentinelParsingTests {
    @Test func sentinelListsAreParsed() throws {
        let sentinels = try RedisSentinels(list: " 10.0.0.1:26379, sentinel-b ,[fd00::1]:26380", masterName: "relais", password: "")
        #expect(sentinels.addresses == [.init(host: "10.0.0.1", port: 26379), .init(host: "sentinel-b", port: 26379), .init(host: "fd00::1", port: 26380)])
        #expect(sentinels.password == nil, "an empty password is none")
        #expect(sentinels.list == "10.0.0.1:26379,sentinel-b:26379,[fd00::1]:26380")
        for bad in ["", "10.0.0.1:0", "10.0.0.1:99999", "10.0.0.1:x", "[fd00::1", "a b:1", ",,"] {
            #expect(throws: RedisURLError.self, "\(bad)") { try RedisSentinels(list: bad, masterName: "relais") }
        }
        #expect(throws: RedisURLError.self) { try RedisSentinels(list: "h:1", masterName: "") }
    }

    @Test func redissIsRefusedPointingToTheTunnel() {
        let error = #expect(throws: RedisURLError.self) { try RedisEndpoint(url: "rediss://u:S3cret@host:6380/0") }
        #expect(error?.reason.contains("relais-redis-tls.service") == true)
        #expect(error?.description.contains("S3cret") == false)
    }

    @Test func anEndpointThroughSentinelsIsDescribedWithoutPasswords() throws {
        var endpoint = try RedisEndpoint(url: "redis://user:Master-S3cret@relais/2")
        endpoint.sentinels = try RedisSentinels(list: "10.0.0.1:26379", masterName: "relais", password: "Sentinel-S3cret")
        #expect(endpoint.username == "user" && endpoint.password == "Master-S3cret" && endpoint.database == 2)
        #expect(!endpoint.description.contains("S3cret") && endpoint.description.contains("10.0.0.1:26379"))
    }
}

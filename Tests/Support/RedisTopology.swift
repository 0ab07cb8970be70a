import Foundation
import RedisClient

/// A `redis-server` (or `redis-sentinel`) process a test started on loopback, with its
/// configuration and data in a temporary directory.
public final class RedisProcess: @unchecked Sendable {
    // @unchecked: the Process is started and signalled from the test's thread only.
    /// The TCP port it listens on.
    public let port: Int
    /// Its directory: configuration, data, log.
    public let directory: URL
    private let process = Process()

    /// Writes `config` to `<directory>/redis.conf` and starts `program` with it.
    public init(program: String = "redis-server", port: Int, directory: URL, config: String) throws {
        self.port = port
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("redis.conf")
        try config.write(to: file, atomically: true, encoding: .utf8)
        let log = directory.appendingPathComponent("log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program, file.path]
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// Whether the process is still running.
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` (SIGSTOP freezes it, as a stalled network or host would; SIGCONT thaws it).
    public func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Kills it with SIGKILL (no AOF sync, no goodbye to clients) and waits for it.
    public func kill9() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Its log so far.
    public var log: String { (try? String(contentsOf: directory.appendingPathComponent("log"), encoding: .utf8)) ?? "" }

    deinit { kill9() }
}

/// A Redis master, one replica and three sentinels on loopback, all started by the test,
/// with passwords everywhere: the servers' default user (used by replication and the
/// sentinels) has `adminPassword`, the ACL user `user` has `password` and may not run
/// `@admin` commands (so not `ROLE`), and the sentinels have `sentinelPassword`.
public final class RedisTopology: @unchecked Sendable {
    // @unchecked: used from the test's thread only; `servers` is only appended to there.
    /// The name the sentinels monitor the master under.
    public let masterName = "relais"
    /// The ACL user Relais connects as, and its password.
    public let user = "relaisuser", password = "Us3r-pw-\(TestServers.randomSuffix())"
    /// The default user's password (replication and the sentinels use it).
    public let adminPassword = "Adm1n-pw-\(TestServers.randomSuffix())"
    /// The sentinels' own password.
    public let sentinelPassword = "S3nt-pw-\(TestServers.randomSuffix())"
    /// The Redis servers, the first started as the master.
    public private(set) var servers: [RedisProcess] = []
    /// The three sentinels.
    public private(set) var sentinels: [RedisProcess] = []
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent("relais-topology-\(TestServers.randomSuffix())")

    /// Starts the master, the replica and the sentinels, and waits until the sentinels
    /// know the replica and each other (what a failover needs).
    public init() throws {
        let masterPort = freePort()
        servers.append(try server(port: masterPort, replicaOf: nil))
        servers.append(try server(port: freePort(), replicaOf: masterPort))
        for i in 0..<3 {
            let port = freePort()
            let config = """
                port \(port)
                bind 127.0.0.1
                protected-mode no
                dir \(directory.path)/sentinel-\(i)
                sentinel monitor \(masterName) 127.0.0.1 \(masterPort) 2
                sentinel down-after-milliseconds \(masterName) 1000
                sentinel failover-timeout \(masterName) 3000
                sentinel parallel-syncs \(masterName) 1
                sentinel auth-pass \(masterName) \(adminPassword)
                requirepass \(sentinelPassword)
                sentinel sentinel-pass \(sentinelPassword)

                """
            sentinels.append(try RedisProcess(program: "redis-sentinel", port: port, directory: directory.appendingPathComponent("sentinel-\(i)"), config: config))
        }
        guard eventually(timeout: .seconds(30), every: .milliseconds(100), { (try? self.isReadyForFailover()) == true }) else {
            let logs = (servers + sentinels).map { "port \($0.port):\n\($0.log.suffix(2000))" }.joined(separator: "\n")
            stop()
            throw TestSetupError("the Redis topology did not settle:\n\(logs)")
        }
    }

    private func server(port: Int, replicaOf master: Int?) throws -> RedisProcess {
        var config = """
            port \(port)
            bind 127.0.0.1
            protected-mode no
            dir \(directory.path)/redis-\(port)
            appendonly yes
            appendfsync everysec
            save ""
            maxmemory-policy noeviction
            requirepass \(adminPassword)
            masterauth \(adminPassword)
            user \(user) on >\(password) ~* &* +@all -@admin
            repl-diskless-sync yes
            repl-diskless-sync-delay 0

            """
        if let master { config += "replicaof 127.0.0.1 \(master)\n" }
        return try RedisProcess(port: port, directory: directory.appendingPathComponent("redis-\(port)"), config: config)
    }

    /// `RELAIS_REDIS_*` for a daemon that finds the master through the sentinels.
    public var relaisEnvironment: [String: String] {
        ["RELAIS_REDIS_URL": "redis://\(user):\(password)@\(masterName)/0",
         "RELAIS_REDIS_SENTINELS": sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ","),
         "RELAIS_REDIS_SENTINEL_MASTER": masterName,
         "RELAIS_REDIS_SENTINEL_PASSWORD": sentinelPassword]
    }

    /// The same, as an endpoint for the test's own connections.
    public var endpoint: RedisEndpoint {
        get throws {
            var endpoint = RedisEndpoint(host: "127.0.0.1", port: 1, username: user, password: password)
            endpoint.sentinels = try RedisSentinels(list: sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ","),
                                                    masterName: masterName, password: sentinelPassword)
            return endpoint
        }
    }

    /// A connection as the default user to the server on `port`, whatever its role.
    public func admin(_ port: Int) throws -> RedisConnection {
        try RedisConnection(RedisEndpoint(host: "127.0.0.1", port: port, password: adminPassword), connectTimeout: .seconds(1), timeout: .seconds(5))
    }

    /// Runs one command on the sentinel `index`.
    public func sentinel(_ index: Int, _ arguments: String...) throws -> RedisReply {
        let connection = try RedisConnection(RedisEndpoint(host: "127.0.0.1", port: sentinels[index].port, password: sentinelPassword),
                                             connectTimeout: .seconds(1), timeout: .seconds(5))
        defer { connection.close() }
        return try connection.command(arguments: arguments)
    }

    /// The master's port as the sentinel `index` names it.
    public func masterPort(asSeenBy index: Int = 0) throws -> Int? {
        (try sentinel(index, "SENTINEL", "get-master-addr-by-name", masterName)).elements.dropFirst().first?.string.flatMap { Int($0) }
    }

    /// The server process on `port`.
    public func server(on port: Int) -> RedisProcess? { servers.first { $0.port == port } }

    /// The role (`master`, `slave`) the server on `port` reports, nil if unreachable.
    public func role(_ port: Int) -> String? {
        guard let connection = try? admin(port) else { return nil }
        defer { connection.close() }
        return (try? connection.command("ROLE"))?.elements.first?.string
    }

    /// Whether every sentinel agrees on a master that says it is one, and knows a replica
    /// that is linked to it and the two other sentinels: a failover can then happen.
    public func isReadyForFailover() throws -> Bool {
        let seen = try (0..<sentinels.count).map { try masterPort(asSeenBy: $0) }
        guard let master = seen.first ?? nil, seen.allSatisfy({ $0 == master }), role(master) == "master" else { return false }
        for index in sentinels.indices {
            guard try sentinel(index, "SENTINEL", "sentinels", masterName).elements.count == sentinels.count - 1 else { return false }
            let replicas = try sentinel(index, "SENTINEL", "replicas", masterName).elements.map { fields(of: $0) }
            guard replicas.contains(where: { $0["flags"] == "slave" && $0["master-link-status"] == "ok" && $0["master-port"] == String(master) })
            else { return false }
        }
        return true
    }

    private func fields(of reply: RedisReply) -> [String: String] {
        let flat = reply.elements.compactMap(\.string)
        return Dictionary(stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) }, uniquingKeysWith: { a, _ in a })
    }

    /// Stops every process and deletes the directory.
    public func stop() {
        for process in servers + sentinels { process.kill9() }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }
}

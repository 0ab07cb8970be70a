import Foundation
import PostgresClient

/// A PostgreSQL server of a test's own, on a free loopback port with its data in a
/// temporary directory: a primary, or a streaming standby made from one with
/// `pg_basebackup -R`. For the topology tests (failover), beside the suite's shared server.
///
/// `initdb`, `pg_ctl` and `pg_basebackup` refuse to run as root: they then run as the
/// `postgres` user, which owns the directory.
public final class PostgresNode: @unchecked Sendable {
    // @unchecked: used from the test's own thread; the fields are constants.
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    /// The directory holding its data (`data/`), log and socket.
    public let directory: String
    private var data: String { directory + "/data" }

    /// The server binaries: $RELAIS_PG_BIN (scripts/servers prints it), or the newest
    /// `/usr/lib/postgresql/*/bin`.
    public static var binaries: String {
        get throws {
            if let bin = ProcessInfo.processInfo.environment["RELAIS_PG_BIN"], !bin.isEmpty { return bin }
            let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
            guard let newest = versions.compactMap(Int.init).max() else {
                throw TestSetupError("no PostgreSQL server binaries under /usr/lib/postgresql: run scripts/servers install")
            }
            return "/usr/lib/postgresql/\(newest)/bin"
        }
    }

    private init(port: Int) throws {
        self.port = port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relais-pg-\(TestServers.randomSuffix())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if getuid() == 0 { try Command.run("chown", ["postgres:postgres", directory]) }
    }

    /// A new primary with user `relais` (trust on loopback, replication allowed) and a
    /// database `relais`, started.
    public static func primary() throws -> PostgresNode {
        let node = try PostgresNode(port: freePort())
        try node.tool("initdb", ["-D", node.data, "-U", "relais", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        try node.start()
        try node.tool("createdb", ["-h", "127.0.0.1", "-p", String(node.port), "-U", "relais", "relais"])
        return node
    }

    /// A streaming standby of this server, copied with `pg_basebackup -R -X stream`, started;
    /// returns once the primary reports it streaming.
    public func standby() throws -> PostgresNode {
        let node = try PostgresNode(port: freePort())
        try node.tool("pg_basebackup", ["-h", "127.0.0.1", "-p", String(port), "-U", "relais", "-D", node.data, "-R", "-X", "stream",
                                        "-c", "fast"])
        try node.start()
        let streaming = try eventually(timeout: .seconds(30)) {
            try scalar("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'") == "1"
        }
        guard streaming else { throw TestSetupError("the standby on port \(node.port) does not stream") }
        return node
    }

    /// Starts the server (waits until it accepts connections).
    public func start() throws {
        try tool("pg_ctl", ["-D", data, "-l", directory + "/server.log", "-w", "-t", "60", "start", "-o",
                            "-p \(port) -c listen_addresses=127.0.0.1 -k \(directory) -c max_connections=100 -c fsync=off"])
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended, a standby receives
    /// everything written before the stop); nothing if it is not running.
    public func stop() {
        guard FileManager.default.fileExists(atPath: data + "/postmaster.pid") else { return }
        _ = try? tool("pg_ctl", ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Promotes a standby to primary and waits until it takes writes.
    public func promote() throws {
        try tool("pg_ctl", ["-D", data, "-w", "-t", "60", "promote"])
    }

    /// Stops the server and deletes its directory.
    public func remove() {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `host:port` for a libpq URL.
    public var address: String { "127.0.0.1:\(port)" }

    /// The URL of database `database` on this server alone.
    public func url(_ database: String = "relais") -> String { "postgresql://relais@\(address)/\(database)" }

    /// The first column of the first row of `sql`, run on `database` here.
    public func scalar(_ sql: String, database: String = "postgres") throws -> String? {
        try TestServers.withDatabase(url(database)) { try $0.query(sql, name: "topology").scalar }
    }

    /// Runs one statement that cannot run in a transaction (`ALTER SYSTEM`) on database `postgres`.
    public func execute(_ sql: String) throws {
        try TestServers.withDatabase(url("postgres")) { _ = try $0.execute(sql, name: "topology") }
    }

    /// Whether a standby has replayed everything `primary` has written so far.
    public func hasReplayed(everythingOn primary: PostgresNode) throws -> Bool {
        guard let written = try primary.scalar("SELECT pg_current_wal_lsn()") else { return false }
        return try scalar("SELECT pg_last_wal_replay_lsn() >= '\(written)'::pg_lsn") == "t"
    }

    private func tool(_ name: String, _ arguments: [String]) throws {
        let path = try Self.binaries + "/" + name
        try detached(getuid() == 0 ? ["runuser", "-u", "postgres", "--", path] + arguments : [path] + arguments)
    }
}

/// Runs `command` to completion with every descriptor above 2 closed.
///
/// Foundation's `Process` learns that a child ended when a socket the child inherited
/// closes; a server the command leaves running (`pg_ctl start`, `pgbouncer -d`) would
/// inherit it too, and `waitUntilExit` would wait for the server.
func detached(_ command: [String]) throws {
    let script = #"( for f in /proc/$BASHPID/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2>/dev/null; exec "$@" )"#
    try Command.run("bash", ["-c", script, "detached"] + command)
}

/// PgBouncer (Debian's `pgbouncer`) in front of a PostgreSQL server, on a free loopback
/// port, with its configuration and log in a temporary directory: every database of the
/// server, trust authentication for user `relais`, the pooling mode and pool size given.
///
/// PgBouncer refuses to run as root: it then runs as the `postgres` user.
public final class PgBouncer: @unchecked Sendable {
    // @unchecked: used from the test's own thread; the fields are constants.
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    /// Its configuration, log and pid file.
    public let directory: String

    /// Starts PgBouncer in front of the server at 127.0.0.1:`serverPort`.
    ///
    /// - Parameters:
    ///   - poolMode: `transaction`, `session` or `statement`.
    ///   - poolSize: server connections per database and user (`default_pool_size`): small,
    ///     so that clients really share them.
    public init(serverPort: Int, poolMode: String = "transaction", poolSize: Int = 2) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/pgbouncer") else {
            throw TestSetupError("pgbouncer is not installed: run scripts/servers install")
        }
        port = freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("relais-pgbouncer-\(TestServers.randomSuffix())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try #""relais" """#.write(toFile: directory + "/userlist.txt", atomically: true, encoding: .utf8)
        try """
            [databases]
            * = host=127.0.0.1 port=\(serverPort)

            [pgbouncer]
            listen_addr = 127.0.0.1
            listen_port = \(port)
            unix_socket_dir =
            auth_type = trust
            auth_file = \(directory)/userlist.txt
            pool_mode = \(poolMode)
            default_pool_size = \(poolSize)
            min_pool_size = 0
            reserve_pool_size = 0
            max_client_conn = 500
            logfile = \(directory)/pgbouncer.log
            pidfile = \(directory)/pgbouncer.pid

            """.write(toFile: directory + "/pgbouncer.ini", atomically: true, encoding: .utf8)
        if getuid() == 0 {
            try Command.run("chown", ["-R", "postgres:postgres", directory])
            try detached(["runuser", "-u", "postgres", "--", "/usr/sbin/pgbouncer", "-d", directory + "/pgbouncer.ini"])
        } else {
            try detached(["/usr/sbin/pgbouncer", "-d", directory + "/pgbouncer.ini"])
        }
        let up = eventually(timeout: .seconds(10)) {
            (try? TestServers.withDatabase("postgresql://relais@127.0.0.1:\(port)/postgres") { _ in true }) ?? false
        }
        guard up else { throw TestSetupError("pgbouncer did not start:\n\(log)") }
    }

    /// The URL of database `database` through PgBouncer.
    public func url(_ database: String) -> String { "postgresql://relais@127.0.0.1:\(port)/\(database)" }

    /// What PgBouncer has logged.
    public var log: String { (try? String(contentsOfFile: directory + "/pgbouncer.log", encoding: .utf8)) ?? "" }

    /// Stops PgBouncer and deletes its directory.
    ///
    /// With SIGKILL: PgBouncer keeps the signal mask it was started with, and a process
    /// started from the test process has SIGTERM and SIGINT blocked. It holds nothing to save.
    public func stop() {
        if let text = try? String(contentsOfFile: directory + "/pgbouncer.pid", encoding: .utf8),
           let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGKILL)
            // Daemonized, it may be left a zombie where nothing reaps orphans: gone or dead is enough.
            _ = eventually(timeout: .seconds(10)) {
                kill(pid, 0) != 0 || isZombie(pid)
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Whether process `pid` has exited and waits to be reaped (state `Z` in `/proc/<pid>/stat`,
/// read with `read(2)`: Foundation takes the file's size, 0 in procfs, for its length).
private func isZombie(_ pid: Int32) -> Bool {
    let fd = open("/proc/\(pid)/stat", O_RDONLY)
    guard fd >= 0 else { return true }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 512)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return true }
    return String(decoding: buffer[..<count], as: UTF8.self).contains(") Z ")
}

import CHiredis
import Foundation

/// A reply from Redis, copied out of hiredis's reply object at once.
public enum RedisReply: Sendable, Equatable {
    case bulk([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)

    /// The reply as text, for bulk strings and status replies.
    public var string: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        default: nil
        }
    }

    /// The reply's elements, or an empty array for anything but an array.
    public var elements: [RedisReply] {
        if case .array(let items) = self { return items }
        return []
    }

    /// The integer value, if this is an integer reply.
    public var integer: Int64? {
        if case .integer(let value) = self { return value }
        return nil
    }

    init(copying reply: UnsafeMutablePointer<redisReply>) {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            self = .bulk(Array(UnsafeRawBufferPointer(start: r.str, count: r.len)))
        case REDIS_REPLY_STATUS:
            self = .status(String(cString: r.str))
        case REDIS_REPLY_ERROR:
            self = .error(String(cString: r.str))
        case REDIS_REPLY_INTEGER:
            self = .integer(r.integer)
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(r.elements)
            for i in 0..<r.elements {
                if let element = r.element[i] { items.append(RedisReply(copying: element)) } else { items.append(.null) }
            }
            self = .array(items)
        default:
            self = .null
        }
    }
}

/// An error from Redis or from the connection to it, with the command it happened in.
public struct RedisError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this was.
    public enum Kind: Sendable, Equatable {
        /// The connection could not be made or was lost: reconnect.
        case connection
        /// The server answered with an error reply.
        case server
        /// The reply had an unexpected shape.
        case protocolViolation
    }

    /// What kind of failure this was.
    public let kind: Kind
    /// The command's name (never its arguments, which may carry payloads).
    public let command: String
    /// The server's or hiredis's error text.
    public let message: String

    /// Creates an error; `command` must be a command name, not its arguments.
    public init(_ kind: Kind, command: String, message: String) {
        self.kind = kind
        self.command = command
        self.message = message
    }

    public var description: String { "Redis \(command): \(message)" }
}

/// Where a Redis server is: parsed from `redis://[[user]:password@]host:port[/db]`,
/// optionally found through Redis Sentinel (`sentinels`).
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// The server's host; not used when `sentinels` is set.
    public var host: String
    /// The server's port; not used when `sentinels` is set.
    public var port: Int
    /// The password given to `AUTH`, if any.
    public var password: String?
    /// The ACL user given to `AUTH user password`; nil for the default user.
    public var username: String?
    /// The database selected after connecting.
    public var database: Int
    /// When set, every connection asks these sentinels where the master is, instead of
    /// using `host` and `port`.
    public var sentinels: RedisSentinels?

    /// An endpoint from its parts, for a server whose address is already known.
    public init(host: String, port: Int, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Where to read why `rediss://` is refused and what to run instead.
    public static let tlsRecipe = "Debian 12's hiredis 0.14 cannot speak TLS: run the TLS tunnel (systemd/relais-redis-tls.service with config/relais-redis-tls.conf, stunnel) and point this at its local end, such as redis://user:password@127.0.0.1:6380/0 (see \"Redis over TLS\" in docs/operations.md)"

    /// Parses a `redis://` URL; the error names what is wrong with it.
    public init(url: String) throws(RedisURLError) {
        if url.lowercased().hasPrefix("rediss:") {
            throw RedisURLError(reason: "rediss:// (TLS) is not supported: \(Self.tlsRecipe)")
        }
        guard let components = URLComponents(string: url), components.scheme == "redis" else {
            throw RedisURLError(reason: "expected redis://[[user]:password@]host:port[/db]")
        }
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        port = components.port ?? 6379
        // A user or password that does not decode is refused: using it otherwise would
        // connect without the password (or with another) and fail later for a reason
        // nobody would guess. URLComponents repairs a bad escape (`%zz` becomes `%25zz`),
        // so a part it repaired is no longer found in the URL as written.
        if let encoded = components.percentEncodedPassword, !url.contains(":\(encoded)@") {
            throw RedisURLError(reason: "the password has an invalid % escape (% must be followed by two hex digits; write %25 for a % sign)")
        }
        if let encoded = components.percentEncodedUser, !url.contains("//\(encoded)") {
            throw RedisURLError(reason: "the user name has an invalid % escape (% must be followed by two hex digits; write %25 for a % sign)")
        }
        password = components.password
        let user = components.user
        username = (user?.isEmpty ?? true) ? nil : user
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if path.isEmpty {
            database = 0
        } else if let db = Int(path), db >= 0 {
            database = db
        } else {
            throw RedisURLError(reason: "the database (after the last /) must be a number from 0")
        }
    }

    /// The endpoint without its password, for logs.
    public var description: String {
        if let sentinels { return "Redis master \(sentinels.masterName.debugDescription) via sentinels \(sentinels.list), database \(database)" }
        return "redis://\(host):\(port)/\(database)"
    }
}

/// A `redis://` URL that could not be understood.
public struct RedisURLError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public var description: String { "invalid Redis URL: \(reason)" }
}

/// One connection to Redis, used by one thread at a time.
///
/// Deliberately not `Sendable`: the hiredis context has no locking, so Swift must
/// refuse to let a connection cross threads.
///
/// A connection to a master found through Sentinel asks the sentinels each time one is
/// made, and checks that the server it reached is the master. A failover shows up to
/// its user as a connection error (the old master closes its clients, or answers
/// `READONLY`, which this class turns into a connection error and closes): callers that
/// drop a connection on `.connection` errors and make a new one follow the failover.
public final class RedisConnection {
    private var context: UnsafeMutablePointer<redisContext>?
    /// The endpoint this connection talks to.
    public let endpoint: RedisEndpoint
    /// The `host:port` actually connected to: the master the sentinels named, or the endpoint's.
    public let address: String
    /// Where the sentinels say the master is now, for a connection made through them;
    /// set once the connection is known to reach the master.
    private var watch: MasterWatch?

    /// Connects (asking the sentinels for the master first, if the endpoint has any),
    /// authenticates, selects the database and, through Sentinel, checks the server is
    /// the master.
    ///
    /// - Parameter timeout: a client-side safety net for every command; after it
    ///   fires the connection is dead. Keep it above any `BLOCK` used.
    public init(_ endpoint: RedisEndpoint, connectTimeout: Duration = .seconds(2), timeout: Duration = .seconds(10)) throws(RedisError) {
        self.endpoint = endpoint
        var host = endpoint.host
        var port = endpoint.port
        if let sentinels = endpoint.sentinels {
            (host, port) = try sentinels.master(connectTimeout: min(connectTimeout, RedisSentinels.connectTimeout))
        }
        address = RedisSentinels.Address(host: host, port: port).description
        guard let ctx = redisConnectWithTimeout(host, Int32(port), timeval(connectTimeout)) else {
            throw RedisError(.connection, command: "CONNECT", message: "cannot allocate a hiredis context")
        }
        if ctx.pointee.err != 0 {
            let message = String(cString: relais_redis_errstr(ctx))
            redisFree(ctx)
            throw RedisError(.connection, command: "CONNECT", message: "\(address): \(message)")
        }
        context = ctx
        redisSetTimeout(ctx, timeval(timeout))
        redisEnableKeepAlive(ctx)
        do {
            if let password = endpoint.password, !password.isEmpty {
                var args = ["AUTH"]
                if let user = endpoint.username { args.append(user) }
                args.append(password)
                try expectOK(try send(args, name: "AUTH"), name: "AUTH")
            }
            if endpoint.database != 0 {
                try expectOK(try command("SELECT", String(endpoint.database)), name: "SELECT")
            }
            if let sentinels = endpoint.sentinels {
                try expectMaster()
                watch = MasterWatch.watching(sentinels)
                watch?.connected(to: address)
            }
        } catch {
            close()
            throw error
        }
    }

    /// Refuses a server that is not (or no longer) the master: the sentinels' answer can
    /// be a moment old during a failover.
    ///
    /// `ROLE` is in the `@admin` category, which an ACL user for Relais seldom has; then
    /// `HELLO 2` (any user may call it, Redis 6 and later) says the role too.
    private func expectMaster() throws(RedisError) {
        var role: String?
        do throws(RedisError) {
            role = try command("ROLE").elements.first?.string
        } catch where error.kind == .server && error.message.hasPrefix("NOPERM") {
            let fields = try command("HELLO", "2").elements
            for i in stride(from: 0, to: fields.count - 1, by: 2) where fields[i].string == "role" {
                role = fields[i + 1].string
            }
        }
        guard role == "master" else {
            throw RedisError(.connection, command: "ROLE",
                             message: "\(address) is \(role.map { "a \($0)" } ?? "of unknown role"), not the master: a failover is under way, asking the sentinels again")
        }
    }

    deinit {
        assert(context == nil, "RedisConnection to \(endpoint) was not closed")
        if let context { redisFree(context) }
    }

    /// Closes the connection; using it afterwards throws.
    public func close() {
        if let context { redisFree(context) }
        context = nil
    }

    /// Whether the connection is still usable.
    public var isOpen: Bool { context != nil }

    /// The socket's file descriptor, for `shutdown(2)` from another thread to wake a blocked read.
    public var fileDescriptor: Int32? { context.map { $0.pointee.fd } }

    /// Sends one command and waits for its reply; an error reply is thrown.
    @discardableResult
    public func command(_ args: String...) throws(RedisError) -> RedisReply {
        try send(args, name: args.first ?? "")
    }

    /// Sends one command given as an array of arguments; an error reply is thrown.
    @discardableResult
    public func command(arguments args: [String]) throws(RedisError) -> RedisReply {
        try send(args, name: args.first ?? "")
    }

    /// Sends several commands in one round trip; see `pipeline(binary:)`.
    public func pipeline(_ commands: [[String]]) throws(RedisError) -> [RedisReply] {
        try pipeline(binary: commands.map { $0.map { Array($0.utf8) } })
    }

    /// Sends several commands in one round trip and returns their replies in order.
    ///
    /// Error replies are returned as `.error`, not thrown: one failing command does
    /// not hide the others' results.
    public func pipeline(binary commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        guard let ctx = context else { throw RedisError(.connection, command: "PIPELINE", message: "connection is closed") }
        try expectSameMaster(commands.first.map(commandName) ?? "PIPELINE")
        for args in commands {
            let status = withArgv(args) { argc, argv, lens in redisAppendCommandArgv(ctx, argc, argv, lens) }
            if status != REDIS_OK { throw fail(ctx, name: commandName(args)) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for args in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(ctx, &raw) != REDIS_OK || raw == nil { throw fail(ctx, name: commandName(args)) }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            replies.append(RedisReply(copying: reply))
            freeReplyObject(raw)
        }
        for case .error(let message) in replies where Self.isFailover(message) {
            close()
            throw RedisError(.connection, command: "PIPELINE", message: message)
        }
        return replies
    }

    private func send(_ args: [String], name: String) throws(RedisError) -> RedisReply {
        guard let ctx = context else { throw RedisError(.connection, command: name, message: "connection is closed") }
        try expectSameMaster(name)
        let raw = withArgv(args.map { Array($0.utf8) }) { argc, argv, lens in redisCommandArgv(ctx, argc, argv, lens) }
        guard let raw else { throw fail(ctx, name: name) }
        let reply = RedisReply(copying: raw.assumingMemoryBound(to: redisReply.self))
        freeReplyObject(raw)
        if case .error(let message) = reply {
            if Self.isFailover(message) {
                close()
                throw RedisError(.connection, command: name, message: message)
            }
            throw RedisError(.server, command: name, message: message)
        }
        return reply
    }

    /// Closes the connection and throws when the sentinels have named another master
    /// since it was made: what is written to the old one from now on would be lost.
    private func expectSameMaster(_ name: String) throws(RedisError) {
        guard let watch, watch.hasMoved(from: address) else { return }
        close()
        throw RedisError(.connection, command: name, message: "the sentinels named another master than \(address): reconnecting")
    }

    /// Whether an error reply means this server is no longer the master (a replica
    /// refusing a write, also from inside a script; a replica cut from its master):
    /// the connection is then closed and the error is a connection error, so that its
    /// user makes a new connection, which asks the sentinels again.
    static func isFailover(_ message: String) -> Bool {
        message.hasPrefix("READONLY") || message.hasPrefix("MASTERDOWN") || message.contains("-READONLY ")
            || message.contains("READONLY You can't write")
    }

    /// Marks the context dead after an I/O or protocol failure: hiredis cannot go on with it.
    private func fail(_ ctx: UnsafeMutablePointer<redisContext>, name: String) -> RedisError {
        let message = String(cString: relais_redis_errstr(ctx))
        close()
        return RedisError(.connection, command: name, message: message.isEmpty ? "connection lost" : message)
    }

    private func expectOK(_ reply: RedisReply, name: String) throws(RedisError) {
        guard case .status = reply else { throw RedisError(.protocolViolation, command: name, message: "expected a status reply") }
    }
}

/// Lays out arguments as the `argv`/`argvlen` pair hiredis expects: one contiguous
/// buffer holds every argument's bytes, so no pointer outlives this scope.
private func commandName(_ args: [[UInt8]]) -> String {
    args.first.map { String(decoding: $0, as: UTF8.self) } ?? "PIPELINE"
}

private func withArgv<R>(_ args: [[UInt8]], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
    var bytes: [UInt8] = []
    var offsets: [Int] = []
    var lengths: [Int] = []
    offsets.reserveCapacity(args.count)
    lengths.reserveCapacity(args.count)
    for arg in args {
        offsets.append(bytes.count)
        bytes.append(contentsOf: arg)
        lengths.append(bytes.count - offsets.last!)
    }
    bytes.append(0)  // so that an empty last argument still has a valid address
    return bytes.withUnsafeBytes { raw in
        let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
        var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
        return argv.withUnsafeMutableBufferPointer { argvBuffer in
            lengths.withUnsafeBufferPointer { lens in
                body(Int32(argvBuffer.count), argvBuffer.baseAddress!, lens.baseAddress!)
            }
        }
    }
}

private func timeval(_ duration: Duration) -> Glibc.timeval {
    let (seconds, attoseconds) = duration.components
    return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
}

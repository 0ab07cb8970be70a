import Foundation
import Synchronization

/// The sentinels that know where a Redis master is, and the name they know it by.
///
/// Each connection asks them in turn (`SENTINEL get-master-addr-by-name`), starting
/// with the one that answered last, with short timeouts: a sentinel that is down or
/// unreachable costs at most `connectTimeout` before the next is asked.
public struct RedisSentinels: Sendable, Equatable {
    /// A `host:port` pair; an IPv6 host is written in brackets.
    public struct Address: Sendable, Equatable, CustomStringConvertible {
        /// The host name or IP address.
        public var host: String
        /// The TCP port.
        public var port: Int

        /// An address from its parts.
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `host:port`, `[v6]:port` for an IPv6 address.
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The sentinels, in the order given.
    public var addresses: [Address]
    /// The name the sentinels monitor the master under (`sentinel monitor <name> …`).
    public var masterName: String
    /// The sentinels' own password (their `requirepass`), if any; never printed.
    public var password: String?

    /// The longest a sentinel may take to accept a connection or answer.
    public static let connectTimeout: Duration = .seconds(1)

    /// Sentinels from a comma-separated list of `host:port` (port 26379 when left out);
    /// the error says what is wrong.
    public init(list: String, masterName: String, password: String? = nil) throws(RedisURLError) {
        var addresses: [Address] = []
        for item in list.split(separator: ",") {
            let text = item.trimmingCharacters(in: .whitespaces)
            guard let address = Self.parse(text) else {
                throw RedisURLError(reason: "\(text.debugDescription) is not host:port (such as 10.0.0.1:26379 or [fd00::1]:26379)")
            }
            addresses.append(address)
        }
        guard !addresses.isEmpty else { throw RedisURLError(reason: "must list at least one sentinel as host:port") }
        guard !masterName.isEmpty, masterName.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw RedisURLError(reason: "the master name must be printable ASCII without spaces")
        }
        self.addresses = addresses
        self.masterName = masterName
        self.password = (password?.isEmpty ?? true) ? nil : password
    }

    /// The list as given, without the password, for logs.
    public var list: String { addresses.map(\.description).joined(separator: ",") }

    private static func parse(_ text: String) -> Address? {
        var host = Substring(text)
        var port = 26379
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let p = Int(rest.dropFirst()) else { return nil }
                port = p
            }
        } else if let colon = text.lastIndex(of: ":") {
            guard let p = Int(text[text.index(after: colon)...]) else { return nil }
            host = text[..<colon]
            port = p
        }
        guard !host.isEmpty, (1...65535).contains(port),
              host.allSatisfy({ $0.isLetter || $0.isNumber || "-._:%".contains($0) }) else { return nil }
        return Address(host: String(host), port: port)
    }

    /// Asks each sentinel in turn, starting with the last that answered, where the master
    /// is; throws a connection error listing each sentinel's failure when none knows.
    public func master(connectTimeout: Duration) throws(RedisError) -> (host: String, port: Int) {
        let first = lastAnswered.withLock { $0 } % addresses.count
        var failures: [String] = []
        for step in 0..<addresses.count {
            let index = (first + step) % addresses.count
            let sentinel = addresses[index]
            do throws(RedisError) {
                let connection = try RedisConnection(
                    RedisEndpoint(host: sentinel.host, port: sentinel.port, password: password),
                    connectTimeout: connectTimeout, timeout: Self.connectTimeout)
                defer { connection.close() }
                let reply = try connection.command("SENTINEL", "get-master-addr-by-name", masterName)
                guard let host = reply.elements.first?.string, let port = reply.elements.dropFirst().first?.string.flatMap({ Int($0) }),
                      (1...65535).contains(port) else {
                    failures.append("\(sentinel): does not know master \(masterName.debugDescription)")
                    continue
                }
                lastAnswered.withLock { $0 = index }
                return (host, port)
            } catch {
                failures.append("\(sentinel): \(error.message)")
            }
        }
        throw RedisError(.connection, command: "SENTINEL",
                         message: "no sentinel gave the address of master \(masterName.debugDescription): \(failures.joined(separator: "; "))")
    }
}

/// The index of the sentinel that answered last, so that a dead first sentinel is not
/// waited for on every connection. One per process: a process has one configuration.
private let lastAnswered = Mutex<Int>(0)

extension RedisSentinels: Hashable {
    /// Hashes what identifies a master: its sentinels and name (the password does not).
    public func hash(into hasher: inout Hasher) {
        hasher.combine(list)
        hasher.combine(masterName)
    }
}

extension RedisSentinels.Address: Hashable {}

/// Follows, for every connection of this process to one master, where the sentinels
/// say it is, so that a connection to a master that was replaced stops being used.
///
/// A failover started while the old master is still up (`SENTINEL FAILOVER`, or one
/// after a network partition) leaves the old master accepting writes until the
/// sentinels turn it into a replica, which can take ten seconds; writes made there
/// meanwhile are lost. A thread asks the sentinels twice a second while connections use
/// the watch; a connection whose master is no longer the one named fails its next
/// command with a connection error and is made again. The thread ends after a minute
/// without use.
final class MasterWatch: Sendable {
    private struct State {
        var master: String?
        var lastUse = ContinuousClock.now
        var running = true
    }

    private let sentinels: RedisSentinels
    private let state = Mutex(State())
    /// How often the sentinels are asked.
    static let interval: Duration = .milliseconds(500)
    /// How long the thread goes on without a connection using it.
    static let idleLimit: Duration = .seconds(60)

    private init(_ sentinels: RedisSentinels) { self.sentinels = sentinels }

    /// The running watch for `sentinels`, started if needed.
    static func watching(_ sentinels: RedisSentinels) -> MasterWatch {
        watches.withLock { watches in
            if let watch = watches[sentinels] { return watch }
            let watch = MasterWatch(sentinels)
            watches[sentinels] = watch
            let thread = Thread { watch.run() }
            thread.name = "relais-sentinel-watch"
            thread.start()
            return watch
        }
    }

    /// Records the master a new connection was given: the freshest answer there is.
    func connected(to address: String) {
        state.withLock {
            $0.master = address
            $0.lastUse = .now
        }
    }

    /// Whether the sentinels now name another master than `address`.
    func hasMoved(from address: String) -> Bool {
        state.withLock {
            $0.lastUse = .now
            return $0.master.map { $0 != address } ?? false
        }
    }

    private func run() {
        while true {
            Thread.sleep(forTimeInterval: Double(Self.interval.components.attoseconds) / 1e18 + Double(Self.interval.components.seconds))
            let idle = watches.withLock { watches -> Bool in
                let idle = state.withLock { ContinuousClock.now - $0.lastUse > Self.idleLimit }
                if idle { watches[sentinels] = nil }
                return idle
            }
            if idle { return }
            // A failed round changes nothing: connections fail on their own if the master is gone.
            if let (host, port) = try? sentinels.master(connectTimeout: RedisSentinels.connectTimeout) {
                let address = RedisSentinels.Address(host: host, port: port).description
                state.withLock { $0.master = address }
            }
        }
    }
}

/// The watches of this process, one per master.
private let watches = Mutex<[RedisSentinels: MasterWatch]>([:])

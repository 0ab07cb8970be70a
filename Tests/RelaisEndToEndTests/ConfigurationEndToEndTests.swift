import Foundation
import RelaisTestSupport
import Testing

/// Operators' mistakes: a configuration that cannot work stops `relais` at once with
/// status 78 naming the key, and nothing of a connection string is ever printed.
@Suite("Configuration mistakes, through the binary", .serialized)
struct ConfigurationEndToEndTests {
    /// Runs `relais check` and `relais serve` with `extra`; both must exit 78 naming `key`
    /// and print nothing of `hidden`.
    func refused(_ extra: [String: String], key: String, hidden: [String], file: [String: String] = [:]) throws {
        let deployment = try Deployment()
        var env = try deployment.environment(extra)
        for (k, v) in file { env[k] = v }
        let check = try Daemon.command(["check"], environment: env)
        #expect(check.status == 78, "check exited \(check.status): \(check.output)\(check.errors)")
        #expect(check.errors.contains(key), "the error names \(key): \(check.errors)")
        let json = try Daemon.command(["check", "--json"], environment: env)
        #expect(json.status == 78)

        let daemon = try Daemon(environment: env)
        let status = daemon.waitForExit(timeout: .seconds(15))
        if status == nil { daemon.stop() }
        #expect(status == 78, "serve exited \(String(describing: status)) instead of 78 at once:\n\(daemon.log)")
        #expect(daemon.log.contains(key), "serve names \(key):\n\(daemon.log)")
        for text in [check.output, check.errors, json.output, json.errors, daemon.log] {
            for part in hidden {
                #expect(!text.contains(part), "\(part) was printed:\n\(text)")
            }
        }
    }

    @Test(arguments: [
        "postgresql//relais:S3cretPW@127.0.0.1/relais",
        "postgresql://relais:S3c%zzretPW@127.0.0.1/relais",
        "postgresql://relais:S3cretPW@127.0.0.1/relais?sslmode",
        "postgresql://relais:S3cretPW@127.0.0.1/relais?sslmode=S3cretPW",  // libpq would take it and fail to connect
    ])
    func aMistypedDatabaseURLStopsRelaisAtOnceAndIsNeverPrinted(url: String) throws {
        try refused(["RELAIS_DATABASE_URL": url], key: "RELAIS_DATABASE_URL", hidden: ["S3c", "zzret", "relais:S", "127.0.0.1/relais"])
    }

    @Test func aRedisURLWhosePasswordDoesNotDecodeIsRefusedNotDropped() throws {
        try refused(["RELAIS_REDIS_URL": "redis://:S3c%zzretPW@127.0.0.1:6379/0"], key: "RELAIS_REDIS_URL", hidden: ["S3c", "zzret"])
    }

    @Test func anSMSGatewayWithoutItsTokenIsRefused() throws {
        try refused(["RELAIS_SMS_URL": "http://127.0.0.1:9/sms", "RELAIS_SMS_TOKEN": ""], key: "RELAIS_SMS_TOKEN", hidden: [])
    }

    /// The sender must be an address plain SMTP can carry, alone or after a name: one with
    /// accents or a comma, unclosed angle brackets, or without a dot in its domain, is
    /// refused at start naming the key.
    @Test(arguments: ["commandes@crèmerie.fr", "commandes,x@example.fr", "Relais <commandes@example.fr", "commandes@localhost",
                      "Mes commerçants <commandes@crèmerie.fr>"])
    func aSenderSMTPCannotCarryIsRefusedNamingTheSenderKey(from: String) throws {
        try refused(["RELAIS_SMTP_URL": "smtp://127.0.0.1:9", "RELAIS_SMTP_FROM": from], key: "RELAIS_SMTP_FROM", hidden: ["commandes"])
    }

    @Test(arguments: [("RELAIS_SMS_RATE", "fast"), ("RELAIS_SMS_RATE", "0/s"), ("RELAIS_EMAIL_RATE", "-3/s"),
                      ("RELAIS_EMAIL_SHOP_RATE", "10/day"), ("RELAIS_SMS_SHOP_RATE", "1e9"), ("RELAIS_EMAIL_CONNECTIONS", "0"),
                      ("RELAIS_SMS_CONNECTIONS", "1000")])
    func aRateOrConnectionCountThatCannotWorkIsRefusedNamingIt(key: String, value: String) throws {
        try refused([key: value], key: key, hidden: [])
    }

    @Test(arguments: ["99999999999999999999s", "1e300h", "9223372036854775807ms"])
    func aHugeDurationIsRefusedInsteadOfTrapping(value: String) throws {
        try refused(["RELAIS_SHUTDOWN_TIMEOUT": value], key: "RELAIS_SHUTDOWN_TIMEOUT", hidden: [])
    }

    @Test func anUnknownKeyInTheConfigurationFileIsRefusedNamingIt() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("relais-\(TestServers.randomSuffix()).yaml")
        try "batch_size: 50\nshutdown_timout: 5s\n".write(to: file, atomically: true, encoding: .utf8)
        try refused([:], key: "shutdown_timout", hidden: [], file: ["RELAIS_CONFIG": file.path])
        try "batch_size: 50\nshutdown_timeout: 5s\n".write(to: file, atomically: true, encoding: .utf8)
        let deployment = try Deployment()
        let good = try Daemon.command(["check"], environment: try deployment.environment(["RELAIS_CONFIG": file.path]))
        #expect(good.status == 0, "\(good.output)\(good.errors)")
    }
}

/// SMTP credentials never cross the network in clear unless the operator says so.
@Suite("SMTP credentials and TLS, through the binary", .serialized)
struct SMTPCredentialsEndToEndTests {
    @Test func credentialsWaitForSTARTTLSUnlessPlaintextAuthIsAllowed() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        var settings = channels.settings
        settings["RELAIS_SMTP_ALLOW_PLAINTEXT_AUTH"] = ""  // the default, false
        settings["RELAIS_DELIVERY_MAX_ATTEMPTS"] = "100"
        let guarded = try deployment.start(settings)
        try deployment.producer.xadd(queue: "orders", payload: placed("tls-1", items: [("baguette", "Baguette", 1, 120)]))
        #expect(try deployment.waitUntilDrained())
        let tried = try eventually(timeout: .seconds(20)) {
            let rows = try deployment.query("SELECT status, attempts, coalesce(last_error, '') FROM relais.outbox WHERE channel = 'email'")
            return !rows.isEmpty && rows.allSatisfy { $0[0] == "pending" && Int($0[1] ?? "0")! >= 1 && $0[2]!.contains("STARTTLS") }
        }
        let rows = try deployment.query("SELECT status, attempts, last_error FROM relais.outbox WHERE channel = 'email'")
        #expect(tried, "the e-mails wait in the outbox, saying why: \(rows)")
        #expect(!rows.contains { ($0[2] ?? "").contains("s3cret") }, "\(rows)")
        #expect(channels.smtp.messages().isEmpty, "an e-mail went out with the credentials in clear")
        #expect(guarded.stop() == 0)

        settings["RELAIS_SMTP_ALLOW_PLAINTEXT_AUTH"] = "true"
        let allowed = try deployment.start(settings)
        defer { allowed.stop() }
        #expect(try deployment.waitUntilDelivered(timeout: .seconds(30)))
        let mails = channels.smtp.waitForMessages(rows.count)
        #expect(mails.count == rows.count && mails.allSatisfy(\.authenticated), "\(mails.map(\.recipients))")
    }
}

/// The HTTP endpoint: methods, idle connections and the connection cap.
@Suite("HTTP endpoint limits, through the binary", .serialized)
struct HTTPEndpointEndToEndTests {
    /// `curl` against the daemon: the status line's code, the headers and the body.
    func request(_ daemon: Daemon, _ method: String, _ path: String) throws -> (status: Int, headers: String, body: String) {
        let headersFile = FileManager.default.temporaryDirectory.appendingPathComponent("headers-\(TestServers.randomSuffix())").path
        defer { try? FileManager.default.removeItem(atPath: headersFile) }
        let out = try Command.run("curl", ["-s", "-m", "5", "-D", headersFile, "-o", "-", "-w", "\n%{http_code}", "-X", method,
                                           "http://127.0.0.1:\(daemon.httpPort)\(path)"])
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        let headers = (try? String(contentsOfFile: headersFile, encoding: .utf8)) ?? ""
        return (Int(lines.last ?? "0") ?? 0, headers, lines.dropLast().joined(separator: "\n"))
    }

    @Test func headAnswersLikeGetWithoutABodyAndOtherMethodsAre405() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        for path in ["/livez", "/readyz", "/metrics", "/status"] {
            let head = try RawConnection(port: daemon.httpPort)
            try head.send("HEAD \(path) HTTP/1.1\r\nHost: relais\r\nConnection: close\r\n\r\n")
            let answer = head.readUntilClosed(timeout: .seconds(5))
            head.close()
            #expect(answer.hasPrefix("HTTP/1.1 200"), "HEAD \(path): \(answer)")
            let body = answer.components(separatedBy: "\r\n\r\n").dropFirst().joined()
            #expect(body.isEmpty, "HEAD \(path) sent a body: \(body)")
        }
        for (method, path) in [("POST", "/readyz"), ("DELETE", "/metrics"), ("PUT", "/livez"), ("PATCH", "/status")] {
            let answer = try request(daemon, method, path)
            #expect(answer.status == 405, "\(method) \(path) gave \(answer.status)")
            #expect(answer.headers.lowercased().contains("allow: get, head"), "\(method) \(path): \(answer.headers)")
        }
        #expect(try request(daemon, "GET", "/nothing-here").status == 404)
        #expect(try request(daemon, "GET", "/livez").status == 200)
    }

    @Test func idleConnectionsAreClosedAndTheCapKeepsFileDescriptorsBounded() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start(["RELAIS_HTTP_IDLE_TIMEOUT": "500ms", "RELAIS_HTTP_MAX_CONNECTIONS": "2"])
        defer { daemon.stop() }
        let pid = daemon.process.processIdentifier
        func openFiles() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0 }
        let baseline = openFiles()

        // Thirty connections that never send anything, then one with a request behind them.
        let idle = try (0..<30).map { _ in try RawConnection(port: daemon.httpPort) }
        defer { idle.forEach { $0.close() } }
        let started = ContinuousClock.now
        let late = try RawConnection(port: daemon.httpPort)
        defer { late.close() }
        try late.send("GET /livez HTTP/1.1\r\nHost: relais\r\n\r\n")

        var most = baseline
        var answer = ""
        var firstClosedAfter: Duration?
        let answered = eventually(timeout: .seconds(30), every: .milliseconds(20)) {
            most = max(most, openFiles())
            if firstClosedAfter == nil, idle[0].isClosedByPeer(timeout: .zero) { firstClosedAfter = ContinuousClock.now - started }
            answer += late.readAvailable()
            return answer.contains("\"live\"")
        }
        #expect(answered, "the request behind the idle connections was never answered: \(answer)")
        // Without a cap, the daemon would hold all 31 connections at once; a few more
        // descriptors may be the daemon's own (a reconnect), not the endpoint's.
        #expect(most <= baseline + 2 + 8, "the daemon held \(most - baseline) more descriptors with a cap of 2")
        let closedAfter = try #require(firstClosedAfter, "the first idle connection was not closed by the server")
        #expect(closedAfter >= .milliseconds(400), "an idle connection was closed after \(closedAfter), before the idle timeout")
        #expect(idle.allSatisfy { $0.isClosedByPeer(timeout: .seconds(10)) }, "every idle connection is closed in the end")
        #expect(daemon.get("/livez").status == 200, "the endpoint still answers")
    }
}

/// A plain TCP connection to the daemon's endpoint, for what curl cannot do: keep a
/// connection open and idle, or read what arrives without waiting for the end.
final class RawConnection {
    private var fd: Int32

    /// Connects to 127.0.0.1:`port`; sends nothing.
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw TestSetupError("cannot connect to 127.0.0.1:\(port): errno \(errno)")
        }
    }

    deinit { close() }

    /// Sends `text` at once.
    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else { throw TestSetupError("send failed") }
    }

    /// What has arrived so far, without waiting.
    func readAvailable() -> String {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            guard n > 0 else { break }
            out += buffer[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Waits up to `timeout` for the peer to close the connection (reading and dropping
    /// what comes before); returns whether it did.
    func isClosedByPeer(timeout: Duration) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        return eventually(timeout: timeout, every: .milliseconds(20)) {
            while true {
                let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if n == 0 { return true }
                if n < 0 { return errno == ECONNRESET }
            }
        }
    }

    /// Everything the peer sends until it closes the connection or `timeout` passes.
    func readUntilClosed(timeout: Duration) -> String {
        var out = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = eventually(timeout: timeout, every: .milliseconds(20)) {
            while true {
                let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                if n > 0 { out += String(decoding: buffer[0..<n], as: UTF8.self); continue }
                return n == 0 || errno == ECONNRESET
            }
        }
        return out
    }

    /// Closes the connection from this side.
    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}

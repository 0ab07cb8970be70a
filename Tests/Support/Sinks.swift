import Foundation

/// The repository's root, found from this file's place in it.
private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A sink script (`scripts/sinks/…`) run as a child process on a port of its own.
///
/// The script prints "ready" once listening; its output goes to a file that is
/// polled for that line, so no pipe can fill up and block it.
final class SinkProcess {
    let name: String
    let arguments: [String]
    private var process: Process?
    private var outputPath = ""

    init(name: String, arguments: [String]) {
        self.name = name
        self.arguments = arguments
    }

    deinit { stop() }

    /// Starts the script and waits for its "ready"; throws with its output if it never comes.
    func start(timeout: Duration = .seconds(20)) throws {
        let script = repositoryRoot.appendingPathComponent("scripts/sinks/\(name)").path
        outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(TestServers.randomSuffix()).log").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        try process.run()
        self.process = process
        let ready = eventually(timeout: timeout, every: .milliseconds(50)) {
            !process.isRunning || self.output.split(separator: "\n").contains("ready")
        }
        guard ready, process.isRunning else {
            stop()
            throw TestSetupError("\(name) did not start (\(ready ? "it exited" : "no \"ready\" in time")): \(self.output)")
        }
    }

    /// What the script printed so far.
    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// Stops the script with SIGTERM (SIGKILL after 5 s) and waits for it to exit.
    func stop() {
        guard let process else { return }
        self.process = nil
        guard process.isRunning else { return }
        process.terminate()
        if !eventually(timeout: .seconds(5), every: .milliseconds(20), { !process.isRunning }) {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Reads a JSON-lines file the sinks write, one value per line.
private func readLines<T: Decodable>(_ path: String, as type: T.Type) -> [T] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    let decoder = JSONDecoder()
    return text.split(separator: "\n").compactMap { try? decoder.decode(T.self, from: Data($0.utf8)) }
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, made with `openssl req`.
public struct TestCertificate: Sendable {
    /// The certificate (PEM); it is its own CA, so it also serves as the client's CA file.
    public let certificatePath: String
    /// The private key (PEM).
    public let keyPath: String

    /// Makes a fresh certificate and key in the temporary directory.
    public static func make() throws -> TestCertificate {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cert-\(TestServers.randomSuffix())").path
        let certificate = TestCertificate(certificatePath: base + ".crt", keyPath: base + ".key")
        try Command.run("openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", certificate.keyPath, "-out", certificate.certificatePath, "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ])
        return certificate
    }
}

/// One message the SMTP sink accepted.
public struct ReceivedMail: Decodable, Sendable {
    /// The envelope sender (MAIL FROM).
    public let mailFrom: String
    /// The envelope recipients (RCPT TO).
    public let recipients: [String]
    /// The client's `address:port`: two messages with the same peer came over one connection.
    public let peer: String
    /// Whether the connection used TLS (STARTTLS or implicit).
    public let tls: Bool
    /// Whether the client authenticated.
    public let authenticated: Bool
    /// The message as received, after SMTP's dot-unstuffing.
    public let raw: String
    /// Each header's decoded value (RFC 2047 words decoded by Python's `email` package).
    public let headers: [String: String]
    /// The decoded subject.
    public let subject: String?
    /// The message's type: `multipart/alternative`.
    public let contentType: String
    /// The type, charset and transfer encoding of each part (empty for a one-part message).
    public let parts: [Part]
    /// The text part's declared charset.
    public let charset: String?
    /// The text part, transfer encoding and charset decoded, line endings as `\n`.
    public let body: String?
    /// The HTML part, decoded likewise.
    public let html: String?

    /// One part of a multipart message, as Python's `email` package read it.
    public struct Part: Decodable, Sendable, Equatable {
        public let type: String
        public let charset: String?
        public let encoding: String?
    }

    enum CodingKeys: String, CodingKey {
        case mailFrom = "mail_from", recipients = "rcpt_tos", peer, tls, authenticated, raw, headers, subject, charset, body, html
        case contentType = "content_type", parts
    }
}

/// The most of `times` (seconds, as `ReceivedRequest.at`) in any one-second window
/// starting at one of them: what a rate limit allows is checked against it.
public func busiestSecond(_ times: [Double]) -> Int {
    let sorted = times.sorted()
    var most = 0
    var end = 0
    for start in sorted.indices {
        while end < sorted.count && sorted[end] < sorted[start] + 1.0 { end += 1 }
        most = max(most, end - start)
    }
    return most
}

/// A real SMTP server (`scripts/sinks/smtp-sink`, aiosmtpd) on a free loopback port.
public final class SmtpSink {
    /// The port it listens on, kept across restarts.
    public let port: Int
    private let sink: SinkProcess
    private let outPath: String

    /// Starts the sink.
    ///
    /// - Parameters:
    ///   - auth: `user:pass` to make AUTH mandatory.
    ///   - certificate: offer STARTTLS with it (or implicit TLS with `implicitTLS`).
    ///   - rejectRecipients: answer 550 to RCPT TO addresses containing this text.
    ///   - deferRecipients: answer 451 to RCPT TO addresses containing this text.
    public init(auth: String? = nil, certificate: TestCertificate? = nil, implicitTLS: Bool = false,
                rejectRecipients: String? = nil, deferRecipients: String? = nil) throws {
        port = freePort()
        outPath = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-sink-\(TestServers.randomSuffix()).jsonl").path
        var arguments = ["--port", String(port), "--out", outPath]
        if let auth { arguments += ["--auth", auth] }
        if let certificate { arguments += ["--tls-cert", certificate.certificatePath, "--tls-key", certificate.keyPath] }
        if implicitTLS { arguments.append("--implicit-tls") }
        if let rejectRecipients { arguments += ["--reject-rcpt", rejectRecipients] }
        if let deferRecipients { arguments += ["--defer-rcpt", deferRecipients] }
        sink = SinkProcess(name: "smtp-sink", arguments: arguments)
        try sink.start()
    }

    /// `smtp://host:port` with optional `user:pass@` (or `smtps://` with `scheme`).
    public func url(credentials: String? = nil, scheme: String = "smtp") -> String {
        "\(scheme)://\(credentials.map { $0 + "@" } ?? "")127.0.0.1:\(port)"
    }

    /// The JSON-lines file the sink records each message in (for `scripts/sinks/mail-facts`).
    public var recordsPath: String { outPath }

    /// Every message accepted so far, oldest first (kept across restarts).
    public func messages() -> [ReceivedMail] { readLines(outPath, as: ReceivedMail.self) }

    /// Waits until at least `count` messages arrived; returns them (fewer at the timeout).
    public func waitForMessages(_ count: Int, timeout: Duration = .seconds(10)) -> [ReceivedMail] {
        _ = eventually(timeout: timeout, every: .milliseconds(50)) { messages().count >= count }
        return messages()
    }

    /// Stops the server; `start()` brings it back on the same port.
    public func stop() { sink.stop() }

    /// Starts the server again on the same port, with the same options.
    public func start() throws { try sink.start() }
}

/// One request the HTTP sink recorded.
public struct ReceivedRequest: Decodable, Sendable {
    /// The request path, e.g. `/webhook`.
    public let path: String
    /// The headers, names in lower case.
    public let headers: [String: String]
    /// The body as UTF-8 text.
    public let body: String
    /// The client's `address:port`: two requests with the same peer came over one connection.
    public let peer: String
    /// For `/webhook`: whether the `standardwebhooks` package verified the signature.
    public let verified: Bool?
    /// For `/webhook`: why verification failed.
    public let error: String?
    /// When the request arrived, in seconds since 1970 (the sink's clock).
    public let at: Double
}

/// An HTTP server (`scripts/sinks/http-sink`) recording webhooks (verified with the
/// `standardwebhooks` package) and SMS gateway requests, on a free loopback port.
public final class HttpSink {
    /// The port it listens on.
    public let port: Int
    private let sink: SinkProcess
    private let outPath: String

    /// Starts the sink; webhooks posted to `/webhook` are verified with `webhookSecret`.
    public init(webhookSecret: String? = nil) throws {
        port = freePort()
        outPath = FileManager.default.temporaryDirectory.appendingPathComponent("http-sink-\(TestServers.randomSuffix()).jsonl").path
        var arguments = ["--port", String(port), "--out", outPath]
        if let webhookSecret { arguments += ["--webhook-secret", webhookSecret] }
        sink = SinkProcess(name: "http-sink", arguments: arguments)
        try sink.start()
    }

    /// `http://127.0.0.1:<port><path>`.
    public func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// The requests recorded for `path`, oldest first.
    public func requests(path: String) -> [ReceivedRequest] {
        readLines(outPath, as: ReceivedRequest.self).filter { $0.path == path }
    }

    /// Makes `path` answer `status` from now on (200 to go back to normal), with a body
    /// of `bodySize` bytes when given.
    public func setStatus(path: String, status: Int, bodySize: Int? = nil) throws {
        var order: [String: Any] = ["path": path, "status": status]
        if let bodySize { order["body_size"] = bodySize }
        let json = try JSONSerialization.data(withJSONObject: order)
        try Command.run("curl", ["-sS", "-f", "-m", "5", "-X", "POST", "--data-binary", String(decoding: json, as: UTF8.self),
                                 url("/_control/status")])
    }

    /// Stops the server.
    public func stop() { sink.stop() }
}

import Foundation

/// A `relais` binary started as operators start it, with its own prefix, database and port.
public final class Daemon: @unchecked Sendable {
    // @unchecked: the Process is only touched from the test's own thread; the log file
    // is written by the child process and only read here.
    public let process = Process()
    public let environment: [String: String]
    public let logPath: String
    public let httpPort: Int

    /// The built binary: $RELAIS_BIN, or .build/debug/relais next to this package.
    public static var binary: String {
        if let path = ProcessInfo.processInfo.environment["RELAIS_BIN"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/relais").path
    }

    /// The environment for a daemon on `databaseURL` and `prefix`, plus `extra`.
    public static func environment(databaseURL: String, prefix: String, httpPort: Int, extra: [String: String] = [:]) throws -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["RELAIS_REDIS_URL"] = try TestServers.redisURL
        env["RELAIS_DATABASE_URL"] = databaseURL
        env["RELAIS_PREFIX"] = prefix
        env["RELAIS_HTTP_ADDRESS"] = "127.0.0.1:\(httpPort)"
        env["RELAIS_INSTANCE"] = "test"
        env["RELAIS_LOG_LEVEL"] = "info"
        for (k, v) in extra { env[k] = v }
        return env
    }

    /// Starts `relais <arguments>` (default `serve`) with `environment`.
    public init(environment: [String: String], arguments: [String] = ["serve"]) throws {
        self.environment = environment
        httpPort = Int(environment["RELAIS_HTTP_ADDRESS"]?.split(separator: ":").last ?? "0") ?? 0
        logPath = FileManager.default.temporaryDirectory.appendingPathComponent("relais-\(TestServers.randomSuffix()).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: Daemon.binary)
        process.arguments = arguments
        process.environment = environment
        process.standardError = log
        process.standardOutput = log
        try process.run()
    }

    deinit {
        if process.isRunning { process.interrupt() }
    }

    /// Everything the daemon has logged so far.
    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// GETs `path` on the daemon's HTTP endpoint; returns the status (0 if unreachable) and body.
    public func get(_ path: String) -> (status: Int, body: String) {
        let out = (try? Command.run("curl", ["-s", "-m", "2", "-w", "\n%{http_code}", "http://127.0.0.1:\(httpPort)\(path)"])) ?? "\n0"
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        let status = Int(lines.last ?? "0") ?? 0
        return (status, lines.dropLast().joined(separator: "\n"))
    }

    /// Waits until `/readyz` answers 200; returns whether it did in time.
    public func waitUntilReady(timeout: Duration = .seconds(30)) -> Bool {
        eventually(timeout: timeout, every: .milliseconds(200)) { get("/readyz").status == 200 }
    }

    /// Sends `signal` to the daemon.
    public func send(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Waits for the daemon to exit; returns its status, or nil if it is still running at the timeout.
    public func waitForExit(timeout: Duration = .seconds(30)) -> Int32? {
        guard eventually(timeout: timeout, every: .milliseconds(50), { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    /// Stops the daemon with SIGTERM and waits for it.
    @discardableResult
    public func stop() -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        send(SIGTERM)
        if let status = waitForExit() { return status }
        send(SIGKILL)
        return waitForExit(timeout: .seconds(5))
    }
}

/// A TCP port nothing listens on right now.
public func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// What a one-shot `relais` command did.
public struct CommandResult: Sendable {
    public let status: Int32
    public let output: String
    public let errors: String
}

extension Daemon {
    /// Runs `relais <arguments>` to completion with `environment`; with a `timeout`, a
    /// command still running then is killed (SIGKILL, status 9), so a test of a command
    /// that might not end fails instead of hanging.
    public static func command(_ arguments: [String], environment: [String: String], timeout: Duration? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let pid = process.processIdentifier
        let killer = DispatchWorkItem { kill(pid, SIGKILL) }
        if let timeout {
            let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: killer)
        }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        killer.cancel()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self),
                             errors: String(decoding: err, as: UTF8.self))
    }
}

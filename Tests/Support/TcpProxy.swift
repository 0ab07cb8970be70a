import Foundation

/// scripts/tcp-proxy between a client and a server, to cut and restore the connection.
public final class TcpProxy: @unchecked Sendable {
    // @unchecked: only the test's own thread starts and stops the process.
    public let listenPort: Int
    public let targetPort: Int
    private var process: Process?

    public init(targetPort: Int) throws {
        listenPort = freePort()
        self.targetPort = targetPort
        try start()
    }

    deinit { cut() }

    /// Starts forwarding; returns once the proxy listens.
    public func start() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", root.appendingPathComponent("scripts/tcp-proxy").path, String(listenPort), String(targetPort)]
        let output = Pipe()
        process.standardOutput = output
        // Not the test's own stderr: a child holding it open keeps `swift test` waiting.
        process.standardError = FileHandle.nullDevice
        try process.run()
        _ = output.fileHandleForReading.availableData  // "listening"
        self.process = process
    }

    /// Stops the proxy process (SIGSTOP): connections stay open but nothing flows, as
    /// with a server that hangs.
    public func freeze() {
        if let process { kill(process.processIdentifier, SIGSTOP) }
    }

    /// Lets a frozen proxy go on.
    public func thaw() {
        if let process { kill(process.processIdentifier, SIGCONT) }
    }

    /// Kills the proxy and every connection through it.
    public func cut() {
        guard let process else { return }
        kill(process.processIdentifier, SIGCONT)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }
}

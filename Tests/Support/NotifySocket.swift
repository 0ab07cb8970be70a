import Foundation
import Synchronization

/// A datagram socket standing in for systemd's `$NOTIFY_SOCKET`: records every message
/// the daemon sends (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, `STATUS=…`) with its time.
public final class NotifySocket: Sendable {
    /// The socket's path, for `NOTIFY_SOCKET`.
    public let path: String
    private let fd: Int32
    private let received = Mutex<[(at: ContinuousClock.Instant, message: String)]>([])
    private let closed = Atomic<Bool>(false)

    public init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(TestServers.randomSuffix()).sock").path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestSetupError("socket() failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8)
            raw.copyBytes(from: bytes.prefix(raw.count - 1))
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TestSetupError("bind(\(path)) failed") }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let socketFD = fd
        Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !closed.load(ordering: .acquiring) {
                let n = recv(socketFD, &buffer, buffer.count, 0)
                if n > 0 {
                    let text = String(decoding: buffer[0..<n], as: UTF8.self)
                    received.withLock { $0.append((.now, text)) }
                }
            }
        }.start()
    }

    deinit {
        closed.store(true, ordering: .releasing)
        close(fd)
        unlink(path)
    }

    /// Every message so far, each split into its `KEY=value` lines.
    public var messages: [(at: ContinuousClock.Instant, lines: [String])] {
        received.withLock { $0.map { ($0.at, $0.message.split(separator: "\n").map(String.init)) } }
    }

    /// Whether any message so far contained `line`.
    public func saw(_ line: String) -> Bool { messages.contains { $0.lines.contains(line) } }

    /// When messages containing `line` arrived.
    public func times(of line: String) -> [ContinuousClock.Instant] {
        messages.filter { $0.lines.contains(line) }.map(\.at)
    }

    /// When messages with a line starting with `prefix` (such as `STATUS=`) arrived.
    public func times(ofLineStartingWith prefix: String) -> [ContinuousClock.Instant] {
        messages.filter { $0.lines.contains { $0.hasPrefix(prefix) } }.map(\.at)
    }
}

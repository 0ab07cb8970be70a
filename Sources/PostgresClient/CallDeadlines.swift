import CLibpq
import Foundation
import Synchronization

/// Cuts a PostgreSQL call that outlives its deadline.
///
/// A server that hangs (stopped, swapped out, behind a dead route) keeps the TCP
/// connection open, and the kernel still acknowledges what is sent, so neither
/// keepalives nor `tcp_user_timeout` notice: a thread in `PQgetResult` would wait for
/// ever. Each call registers its socket here with a deadline; one watcher thread shuts
/// down the socket of a call that is late, which makes libpq return a connection error
/// at once. The connection is then closed and the caller reconnects.
///
/// A socket is shut down only while its call is registered, and a call unregisters
/// before its connection can be closed, so a descriptor reused by another connection is
/// never touched.
final class CallDeadlines: Sendable {
    /// The one watcher of the process.
    static let shared = CallDeadlines()

    private struct Call {
        let socket: Int32
        let deadline: ContinuousClock.Instant
        var cut = false
    }

    private let calls = Mutex<(next: Int, byToken: [Int: Call], watching: Bool)>((0, [:], false))

    private init() {}

    /// Registers a call on `socket` that must end within `timeout`; returns its token.
    func begin(socket: Int32, timeout: Duration) -> Int {
        let (token, startWatcher) = calls.withLock { state -> (Int, Bool) in
            state.next &+= 1
            state.byToken[state.next] = Call(socket: socket, deadline: .now + timeout)
            let start = !state.watching
            state.watching = true
            return (state.next, start)
        }
        if startWatcher { startWatching() }
        return token
    }

    /// Ends the call; true if its deadline passed and its socket was shut down.
    func end(_ token: Int) -> Bool {
        calls.withLock { $0.byToken.removeValue(forKey: token)?.cut ?? false }
    }

    private func startWatching() {
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: 0.1)
                let now = ContinuousClock.now
                calls.withLock { state in
                    for (token, call) in state.byToken where !call.cut && call.deadline <= now {
                        _ = shutdown(call.socket, Int32(SHUT_RDWR))
                        state.byToken[token]?.cut = true
                    }
                }
            }
        }
        thread.name = "pg-deadlines"
        thread.start()
    }
}

import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// Tells systemd how the service is doing (`sd_notify`): READY, RELOADING, STOPPING,
/// WATCHDOG, STATUS.
///
/// Without `$NOTIFY_SOCKET` (not started by systemd) every call does nothing.
public struct SystemdNotifier: Sendable {
    /// Creates a notifier.
    public init() {}

    /// The service is up: dependencies reachable, listener open, consumers running.
    public func ready(status: String? = nil) { send("READY=1" + (status.map { "\nSTATUS=\($0)" } ?? "")) }

    /// The service is reloading its configuration; `ready()` says when it is done. The
    /// time on the monotonic clock lets systemd tell this reload from an older one.
    public func reloading() {
        send("RELOADING=1\nMONOTONIC_USEC=\(monotonicMicroseconds())")
    }

    /// The service is shutting down.
    public func stopping() { send("STOPPING=1") }

    /// The service is making progress: feeds the watchdog.
    public func watchdog() { send("WATCHDOG=1") }

    /// A one-line status for `systemctl status`.
    public func status(_ text: String) { send("STATUS=\(text)") }

    /// The watchdog interval systemd expects pings within, if it set one.
    public var watchdogInterval: Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }

    /// `CLOCK_MONOTONIC` in microseconds, as systemd reads MONOTONIC_USEC.
    private func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }

    private func send(_ state: String) {
        _ = sd_notify(0, state)
    }
}

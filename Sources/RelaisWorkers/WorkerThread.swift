import Foundation

/// A long-running thread the daemon owns: named, with its own nice value and stack
/// size, stopped through a `StopSignal` it is handed, and waited for with a deadline.
///
/// Blocking C calls (libpq, hiredis, libcurl) run on such threads, never on Swift's
/// cooperative pool. The body returns once `stop` is set (after the work in hand);
/// `waitUntilFinished(timeout:)` tells whether it did in time.
public final class WorkerThread: Sendable {
    /// The thread's name, as `top -H` and `ps -L` show it (15 bytes at most).
    public let name: String
    /// Set by `stop()`; the body watches it and sleeps on it.
    public let stopSignal: StopSignal
    private let finished = Latch()

    private init(name: String, stopSignal: StopSignal) {
        self.name = name
        self.stopSignal = stopSignal
    }

    /// Starts `body` on a new thread named `name`.
    ///
    /// - Parameters:
    ///   - niceness: added to the thread's nice value (the process's, as systemd's
    ///     `Nice=` set it): a positive one gives way to the other threads when the cores
    ///     are busy.
    ///   - stackSize: the thread's stack in bytes; nil keeps the system's default.
    ///   - stopSignal: the signal the body is handed; a new one unless several threads
    ///     share one.
    @discardableResult
    public static func start(name: String, niceness: Int32 = 0, stackSize: Int? = nil, stopSignal: StopSignal = StopSignal(),
                             _ body: @escaping @Sendable (_ stop: StopSignal) -> Void) -> WorkerThread {
        let worker = WorkerThread(name: name, stopSignal: stopSignal)
        let thread = Thread {
            nameThisThread(name)
            if niceness != 0 { addToThisThreadsNiceValue(niceness) }
            body(stopSignal)
            worker.finished.open()
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
        return worker
    }

    /// Asks the body to stop (sets `stopSignal`); returns at once.
    public func stop() { stopSignal.set() }

    /// Waits at most `timeout` for the body to return; returns whether it did.
    @discardableResult
    public func waitUntilFinished(timeout: Duration) -> Bool { finished.wait(for: timeout) }

    /// Asks the body to stop and waits at most `timeout` for it; returns whether it did.
    @discardableResult
    public func stopAndWait(timeout: Duration) -> Bool {
        stop()
        return waitUntilFinished(timeout: timeout)
    }
}

/// Gives the calling thread the name `top -H`, `ps -L` and `/proc` show (15 bytes at
/// most): Foundation's `Thread.name` does not reach the system's name on Linux, and
/// Swift does not see `pthread_setname_np`, so the name is written where Linux keeps it.
public func nameThisThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY)
    guard fd >= 0 else { return }
    defer { close(fd) }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

/// Adds `niceness` to the calling thread's nice value.
func addToThisThreadsNiceValue(_ niceness: Int32) {
    // Linux keeps a nice value per thread; `who` 0 is the calling one.
    let which = __priority_which_t(PRIO_PROCESS.rawValue)
    _ = setpriority(which, 0, getpriority(which, 0) + niceness)
}

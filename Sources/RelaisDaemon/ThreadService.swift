import RelaisWorkers
import ServiceLifecycle
import Synchronization

/// Runs a blocking loop on a thread the daemon owns (a `WorkerThread`), as a `Service`.
///
/// The loop is handed a `StopSignal` to check between rounds and to sleep on; a graceful
/// shutdown sets it and the service returns when the loop does. If the task is
/// cancelled (the shutdown took too long), `run` returns at once and the thread is left
/// to finish on its own.
struct ThreadService: Service {
    let name: String
    /// Added to the thread's nice value (the process's, as systemd's `Nice=` set it): a
    /// positive one gives way to the other threads when the cores are busy.
    var niceness: Int32 = 0
    let body: @Sendable (_ stop: StopSignal) -> Void

    func run() async throws {
        let stop = StopSignal()
        let once = Mutex<CheckedContinuation<Void, Never>?>(nil)
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    once.withLock { $0 = continuation }
                    WorkerThread.start(name: name, niceness: niceness, stopSignal: stop) { [body] stop in
                        body(stop)
                        once.withLock { $0.take() }?.resume()
                    }
                    // Cancelled before the continuation was stored: the handler found nothing to resume.
                    if Task.isCancelled { once.withLock { $0.take() }?.resume() }
                }
            } onGracefulShutdown: {
                stop.set()
            }
        } onCancel: {
            stop.set()
            once.withLock { $0.take() }?.resume()
        }
    }
}

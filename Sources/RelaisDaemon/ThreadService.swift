import Foundation
import RelaisQueue
import ServiceLifecycle
import Synchronization

/// Runs a blocking loop on a thread the daemon owns, as a `Service`.
///
/// The loop gets a `stop` closure to poll; a graceful shutdown sets it and the service
/// returns when the loop does. If the task is cancelled (the shutdown took too long),
/// `run` returns at once and the thread is left to finish on its own.
struct ThreadService: Service {
    let name: String
    /// Added to the thread's nice value (the process's, as systemd's `Nice=` set it): a
    /// positive one gives way to the other threads when the cores are busy.
    var niceness: Int32 = 0
    let body: @Sendable (_ isStopping: @Sendable () -> Bool) -> Void

    func run() async throws {
        let stopping = Atomic<Bool>(false)
        let once = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let box = StopBox(stopping: stopping)
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    once.withLock { $0 = continuation }
                    let niceness = niceness
                    let thread = Thread {
                        nameThisThread(name)
                        if niceness != 0 {
                            // Linux keeps a nice value per thread; `who` 0 is the calling one.
                            let which = __priority_which_t(PRIO_PROCESS.rawValue)
                            _ = setpriority(which, 0, getpriority(which, 0) + niceness)
                        }
                        body { box.isSet }
                        once.withLock { $0.take() }?.resume()
                    }
                    thread.name = name
                    thread.start()
                    // Cancelled before the continuation was stored: the handler found nothing to resume.
                    if Task.isCancelled { once.withLock { $0.take() }?.resume() }
                }
            } onGracefulShutdown: {
                box.set()
            }
        } onCancel: {
            box.set()
            once.withLock { $0.take() }?.resume()
        }
    }
}

/// A stop flag shared between a service and its thread.
private final class StopBox: Sendable {
    private let flag: Atomic<Bool>
    init(stopping: consuming Atomic<Bool>) { flag = stopping }
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}

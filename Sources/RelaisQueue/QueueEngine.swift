import Foundation
import Logging
import RedisClient
import RelaisDomain
import RelaisWorkers
import Synchronization

/// Runs every queue's consumers and the housekeeper on threads it owns.
///
/// Blocking hiredis and libpq calls never run on Swift's cooperative pool: each
/// consumer has its own `Thread`, and `run()` only awaits their end.
public final class QueueEngine: Sendable {
    private let endpoint: RedisEndpoint
    private let settings: QueueSettings
    private let families: [JobFamily]
    private let logger: Logger
    private let stopSignal = StopSignal()
    private let epoch = HandlerEpoch()
    private let metrics = QueueMetrics()
    private let consumers: [ConsumerShared]
    /// The latest figures (queues, dead letters, instances, consumers).
    public let figures = FiguresBoard()
    /// The paused queues, as last read from Redis.
    private let pauses = PauseBoard()
    /// What a configuration reload may change while running.
    public let tunables: EngineTunables

    /// Prepares consumers for the queues of `families`; nothing runs until `run()`.
    public init(redis endpoint: RedisEndpoint, settings: QueueSettings, families: [JobFamily], logger: Logger) {
        self.endpoint = endpoint
        self.settings = settings
        self.families = families
        self.logger = logger
        tunables = EngineTunables(batchSize: settings.batchSize)
        consumers = families.flatMap { family in
            (1...max(1, settings.workersPerQueue)).map { n in
                ConsumerShared(queue: settings.keys(family.queue), name: "\(settings.instance)-\(family.queue)-\(n)")
            }
        }
    }

    /// Starts the threads and returns when all of them have stopped after `stop()`, or at
    /// once when the task is cancelled.
    ///
    /// Cancellation means the shutdown took too long, typically because a thread is stuck
    /// in a call to a server that hangs: the threads are told to stop and left behind, and
    /// the batches they hold stay pending in Redis for the next start.
    public func run() async {
        metrics.prepareDeadLetters(queues: families.map(\.queue))
        let threadCount = consumers.count + 1
        let waiter = Mutex<CheckedContinuation<Void, Never>?>(nil)
        let remaining = Mutex(threadCount)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                waiter.withLock { $0 = continuation }
                let finished: @Sendable () -> Void = {
                    if remaining.withLock({ $0 -= 1; return $0 }) == 0 { waiter.withLock { $0.take() }?.resume() }
                }
                for (index, shared) in consumers.enumerated() {
                    let family = families[index / max(1, settings.workersPerQueue)]
                    let context = ConsumerContext(endpoint: endpoint, settings: settings, shared: shared, stop: stopSignal,
                                                  logger: logger, metrics: metrics, tunables: tunables, epoch: epoch,
                                                  pauses: pauses)
                    WorkerThread.start(name: "\(family.queue)-\(index % max(1, settings.workersPerQueue) + 1)", stackSize: 1 << 20,
                                       stopSignal: stopSignal) { _ in
                        Consumer(family: family, context: context).run()
                        finished()
                    }
                }
                let housekeeper = Housekeeper(endpoint: endpoint, settings: settings, queues: families.map { settings.keys($0.queue) },
                                              consumers: consumers, stop: stopSignal, logger: logger, metrics: metrics, figures: figures,
                                              pauses: pauses)
                WorkerThread.start(name: "housekeeper", stackSize: 1 << 20, stopSignal: stopSignal) { _ in
                    housekeeper.run()
                    finished()
                }
                // Cancelled before the continuation was stored: the handler found nothing to resume.
                if Task.isCancelled { waiter.withLock { $0.take() }?.resume() }
            }
        } onCancel: {
            stop()
            waiter.withLock { $0.take() }?.resume()
        }
        let left = remaining.withLock { $0 }
        if left > 0 {
            logger.warning("consumers abandoned after the shutdown timeout, their batches stay pending", metadata: ["threads": "\(left)"])
        } else {
            logger.info("consumers stopped")
        }
    }

    /// Asks every thread to stop: no new reads; the batch in hand finishes and is acknowledged.
    public func stop() { stopSignal.set() }

    /// Makes every consumer replace its handler before its next batch: the store came
    /// back after an outage, and connections made before it may be dead.
    public func renewHandlers() { epoch.advance() }

    /// Whether `stop()` was called.
    public var isStopping: Bool { stopSignal.isSet }

    /// What each consumer is doing.
    public var consumerSnapshots: [ConsumerSnapshot] { consumers.map(\.snapshot) }
}

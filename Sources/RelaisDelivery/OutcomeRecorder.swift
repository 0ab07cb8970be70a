import Foundation
import Logging
import RelaisDomain
import RelaisWorkers

/// Records a channel's delivery outcomes on a thread and outbox connection of its
/// own, as each send ends, while the sender goes on with the next message.
///
/// Waiting for each outcome's commit on the sender's thread made e-mail delivery to a
/// local SMTP server markedly slower: a commit takes about as long as a local send
/// (docs/performance.md). Here the sender hands the outcome over and sends on; the recorder writes what
/// has arrived, usually one outcome, within a moment of the send's end. If the process
/// dies, only outcomes not yet written (normally none or one) are lost, and their
/// messages go again after their lease with their stable ids. Writes are the
/// conditional ones of `OutboxPort.record`: an operator's change made meanwhile stands.
final class OutcomeRecorder: @unchecked Sendable {
    // @unchecked: `queue`, `writing` and `finished` are only touched under `condition`;
    // the outbox connection belongs to the recorder's thread; `thread` is set in `init`
    // and then only read, by the thread that made the recorder (in `finish`).
    private let connect: OutboxConnector
    private let logger: Logger
    private let condition = NSCondition()
    private var queue: [DeliveryRecord] = []
    private var writing = 0
    private var finished = false
    private var thread: WorkerThread?

    /// Starts the recorder's thread, named `name`, writing through connections `outbox` opens.
    init(outbox: @escaping OutboxConnector, name: String, logger: Logger) {
        connect = outbox
        self.logger = logger
        // The recorder stops on `finished`, under its own condition, once the queue is written.
        thread = WorkerThread.start(name: name) { [self] _ in run() }
    }

    /// Outcomes enough to write without waiting for more.
    static let batch = 32
    /// How long the recorder waits for more outcomes before writing fewer than `batch`, in seconds.
    static let gather = 0.002

    /// Hands `record` over to be written; returns at once.
    func submit(_ record: DeliveryRecord) {
        condition.withLock {
            queue.append(record)
            if queue.count == 1 || queue.count >= Self.batch { condition.signal() }
        }
    }

    /// Waits until every outcome handed over is written (or `timeout` passes), then stops
    /// the thread; outcomes still unwritten then are lost (their messages go again).
    func finish(timeout: Duration) {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        condition.lock()
        while !(queue.isEmpty && writing == 0) && condition.wait(until: deadline) {}
        finished = true
        condition.broadcast()
        condition.unlock()
        thread?.waitUntilFinished(timeout: timeout + .seconds(2))
    }

    private func run() {
        var outbox: (any OutboxPort)?
        var backoff = Backoff()
        while true {
            condition.lock()
            while queue.isEmpty && !finished { condition.wait() }
            // A moment for more outcomes to arrive: one commit for several sends, where
            // several connections send at once.
            if !finished && queue.count < Self.batch { _ = condition.wait(until: Date().addingTimeInterval(Self.gather)) }
            if finished {
                let left = queue.count
                condition.unlock()
                if left > 0 {
                    logger.warning("delivery outcomes not recorded at shutdown: their messages go again after their lease",
                                   metadata: ["count": "\(left)"])
                }
                break
            }
            let batch = queue
            queue.removeAll()
            writing = batch.count
            condition.unlock()
            do {
                if outbox == nil || !outbox!.isOpen {
                    outbox?.close()
                    outbox = nil
                    outbox = try connect()
                }
                let recorded = try outbox!.record(batch)
                for record in batch where !recorded.contains(record.id) {
                    logger.notice("delivery outcome not recorded: the message was changed meanwhile", metadata: [
                        "message.id": "\(record.id)", "attempt": "\(record.attempt)",
                    ])
                }
                backoff.reset()
                condition.withLock {
                    writing = 0
                    condition.broadcast()
                }
            } catch {
                let pause = backoff.next()
                if backoff.isWorthLogging {
                    logger.warning("delivery outcomes not recorded yet", metadata: ["error": "\(error)", "count": "\(batch.count)"])
                }
                outbox?.close()
                outbox = nil
                // Keep them, first in line, and try again after the backoff; `finish` wakes it.
                condition.withLock {
                    queue.insert(contentsOf: batch, at: 0)
                    writing = 0
                    condition.broadcast()
                    _ = condition.wait(until: Date().addingTimeInterval(pause.seconds))
                }
            }
        }
        outbox?.close()
    }
}

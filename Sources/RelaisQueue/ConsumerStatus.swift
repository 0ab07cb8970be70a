import Foundation
import Synchronization

/// What a consumer thread is doing, for readiness, `/status` and the watchdog.
public enum ConsumerState: Sendable, Equatable {
    /// Not started yet.
    case starting
    /// Reading and processing.
    case running
    /// Its queue is paused: it reads nothing until the queue is resumed.
    case paused
    /// Redis is unreachable; reconnecting with backoff.
    case waitingForRedis(String)
    /// The processor's store is unreachable; reconnecting with backoff.
    case waitingForStore(String)
    /// Stopped after a shutdown request.
    case stopped
}

/// A snapshot of one consumer.
public struct ConsumerSnapshot: Sendable {
    /// The queue it consumes.
    public let queue: String
    /// Its consumer name in the group.
    public let name: String
    /// What it is doing.
    public let state: ConsumerState
    /// When its loop last went round (it goes round at least once per read timeout).
    public let lastBeat: Date
    /// When it last finished a batch.
    public let lastProgress: Date?
    /// Jobs it has finished (any outcome) since start.
    public let jobsFinished: Int
}

/// The state one consumer thread shares with the rest of the daemon.
final class ConsumerShared: Sendable {
    let queue: QueueKeys
    let name: String
    private let state = Mutex<(state: ConsumerState, beat: Date, progress: Date?, finished: Int)>((.starting, Date(), nil, 0))
    /// Entries in the batch being processed, with when the batch started; the lease keeper renews them.
    let inFlight = Mutex<(ids: [String], since: ContinuousClock.Instant)>(([], .now))

    init(queue: QueueKeys, name: String) {
        self.queue = queue
        self.name = name
    }

    func set(_ newState: ConsumerState) -> Bool {
        state.withLock { s in
            let changed = s.state != newState
            s.state = newState
            s.beat = Date()
            return changed
        }
    }

    func beat() { state.withLock { $0.beat = Date() } }

    func progressed(jobs: Int) {
        state.withLock { s in
            let now = Date()
            s.beat = now
            s.progress = now
            s.finished += jobs
        }
    }

    var snapshot: ConsumerSnapshot {
        state.withLock { s in
            ConsumerSnapshot(queue: queue.queue, name: name, state: s.state, lastBeat: s.beat, lastProgress: s.progress, jobsFinished: s.finished)
        }
    }
}

/// A counter the health monitor raises when PostgreSQL comes back after an outage:
/// each consumer then replaces its handler, whose connection may be dead without
/// knowing it, before it takes the next batch.
final class HandlerEpoch: Sendable {
    private let value = Atomic<Int>(0)

    var current: Int { value.load(ordering: .acquiring) }

    func advance() { value.add(1, ordering: .releasing) }
}

/// Settings that can change while the engine runs (a configuration reload).
public final class EngineTunables: Sendable {
    private let batch: Atomic<Int>

    init(batchSize: Int) { batch = Atomic(batchSize) }

    /// Entries fetched per read.
    public var batchSize: Int {
        get { batch.load(ordering: .relaxed) }
        set { batch.store(max(1, newValue), ordering: .relaxed) }
    }
}

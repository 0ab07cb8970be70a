import Metrics
import RelaisDomain
import Synchronization

/// The engine's metrics, with the handles cached so a busy consumer does not look
/// them up for every job.
final class QueueMetrics: Sendable {
    private let jobs = Mutex<[String: Counter]>([:])
    private let deadLetters = Mutex<[String: Counter]>([:])
    private let durations = Mutex<[String: Metrics.Timer]>([:])
    private let waitTimers = Mutex<[String: Metrics.Timer]>([:])
    private let gauges = Mutex<[String: Gauge]>([:])
    private let storedKinds = Mutex<Set<DeadLetterKind>>([])

    /// `relais_jobs_total{queue,type,outcome}`.
    func job(queue: String, type: String, outcome: String, count: Int = 1) {
        let key = "\(queue)|\(type)|\(outcome)"
        let counter = jobs.withLock { cache in
            if let c = cache[key] { return c }
            let c = Counter(label: "relais_jobs_total", dimensions: [("queue", queue), ("type", type), ("outcome", outcome)])
            cache[key] = c
            return c
        }
        counter.increment(by: count)
    }

    /// Makes `relais_dead_letters_total{queue,reason}` of every queue and code, at 0, so
    /// that the first dead letter of a kind is an increase Prometheus can see.
    func prepareDeadLetters(queues: [String]) {
        for queue in queues {
            for code in ReasonCode.allCases { deadLetter(queue: queue, reason: code.rawValue, count: 0) }
        }
    }

    /// `relais_dead_letters_total{queue,reason}`.
    func deadLetter(queue: String, reason: String, count: Int = 1) {
        let key = "\(queue)|\(reason)"
        let counter = deadLetters.withLock { cache in
            if let c = cache[key] { return c }
            let c = Counter(label: "relais_dead_letters_total", dimensions: [("queue", queue), ("reason", reason)])
            cache[key] = c
            return c
        }
        counter.increment(by: count)
    }

    /// `relais_job_duration_seconds{queue}`: from fetch to acknowledgement, per job.
    func duration(queue: String, _ duration: Duration, count: Int) {
        let timer = Self.timer("relais_job_duration_seconds", queue: queue, in: durations)
        let nanoseconds = Int64(duration.seconds * 1e9)
        for _ in 0..<count { timer.recordNanoseconds(nanoseconds) }
    }

    /// `relais_job_wait_seconds{queue}`: from a job's `enqueued_at` until a consumer
    /// picked it up, for each job that says when it was enqueued.
    func waited(queue: String, microseconds: [Int64]) {
        guard !microseconds.isEmpty else { return }
        let timer = Self.timer("relais_job_wait_seconds", queue: queue, in: waitTimers)
        for micros in microseconds { timer.recordNanoseconds(max(0, micros) * 1000) }
    }

    private static func timer(_ label: String, queue: String, in cache: borrowing Mutex<[String: Metrics.Timer]>) -> Metrics.Timer {
        cache.withLock { cache in
            if let t = cache[queue] { return t }
            let t = Metrics.Timer(label: label, dimensions: [("queue", queue)])
            cache[queue] = t
            return t
        }
    }

    /// The queue's gauges: `relais_queue_length`, `relais_queue_pending`,
    /// `relais_queue_retrying`, `relais_queue_paused` (1 or 0), `relais_queue_lag_seconds`
    /// (age of the oldest unfinished job) and `relais_consumers_live`, each `{queue}`.
    func queue(_ queue: String, _ figures: QueueFigures) {
        gauge("relais_queue_length", [("queue", queue)]).record(figures.length)
        gauge("relais_queue_pending", [("queue", queue)]).record(figures.pending)
        gauge("relais_queue_retrying", [("queue", queue)]).record(figures.retrying)
        gauge("relais_queue_paused", [("queue", queue)]).record(figures.pausedSince == nil ? 0 : 1)
        gauge("relais_queue_lag_seconds", [("queue", queue)]).record(figures.lagSeconds)
        gauge("relais_consumers_live", [("queue", queue)]).record(figures.liveConsumers)
    }

    /// `relais_dead_letters_stored{queue,code}`: the letters in the dead-letter stream; a
    /// kind seen before and gone now reads 0 rather than keeping its last count.
    func deadLettersStored(_ counts: [DeadLetterKind: Int]) {
        let kinds = storedKinds.withLock { seen in
            seen.formUnion(counts.keys)
            return seen
        }
        for kind in kinds {
            gauge("relais_dead_letters_stored", [("queue", kind.queue), ("code", kind.code)]).record(counts[kind] ?? 0)
        }
    }

    private func gauge(_ label: String, _ dimensions: [(String, String)]) -> Gauge {
        let key = ([label] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: "|")
        return gauges.withLock { cache in
            if let g = cache[key] { return g }
            let g = Gauge(label: label, dimensions: dimensions)
            cache[key] = g
            return g
        }
    }
}

import Metrics
import Synchronization

/// The engine's metrics, with the handles cached so a busy consumer does not look
/// them up for every job.
final class QueueMetrics: Sendable {
    private let jobs = Mutex<[String: Counter]>([:])
    private let deadLetters = Mutex<[String: Counter]>([:])
    private let durations = Mutex<[String: Metrics.Timer]>([:])
    private let waitTimers = Mutex<[String: Metrics.Timer]>([:])
    private let lags = Mutex<[String: Gauge]>([:])

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

    /// `relais_dead_letters_total{queue,reason}`.
    func deadLetter(queue: String, reason: String) {
        let key = "\(queue)|\(reason)"
        let counter = deadLetters.withLock { cache in
            if let c = cache[key] { return c }
            let c = Counter(label: "relais_dead_letters_total", dimensions: [("queue", queue), ("reason", reason)])
            cache[key] = c
            return c
        }
        counter.increment()
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

    /// `relais_queue_lag_seconds{queue}`: age of the oldest unfinished job.
    func lag(queue: String, seconds: Double) {
        let gauge = lags.withLock { cache in
            if let g = cache[queue] { return g }
            let g = Gauge(label: "relais_queue_lag_seconds", dimensions: [("queue", queue)])
            cache[queue] = g
            return g
        }
        gauge.record(seconds)
    }
}

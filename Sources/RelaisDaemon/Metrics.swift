import CoreMetrics
import Foundation
import Glibc
import Prometheus
import Synchronization

/// Every metric Relais exposes on `/metrics`, with its `# HELP` text (docs/operations.md
/// lists them too).
enum MetricCatalogue {
    /// The registry's name for `label`, with its help text.
    static func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? "")
    }

    static let help: [String: String] = [
        "relais_jobs_total": "Jobs finished by this instance, by queue, job type and outcome (done, duplicate, retry, dead).",
        "relais_dead_letters_total": "Jobs this instance wrote to the dead letters, by queue and reason code.",
        "relais_dead_letters_stored": "Letters in the dead-letter stream now, by queue and code (every instance reports the same).",
        "relais_job_duration_seconds": "Time from reading a job's batch to acknowledging it, per job.",
        "relais_job_wait_seconds": "Time from a job's enqueued_at until a consumer picked it up.",
        "relais_queue_length": "Entries in the queue's stream: jobs not finished yet.",
        "relais_queue_pending": "Entries read by a consumer and not acknowledged yet.",
        "relais_queue_retrying": "Jobs waiting for a retry.",
        "relais_queue_paused": "1 while the queue is paused (relais queues pause), else 0.",
        "relais_queue_lag_seconds": "Age of the queue's oldest unfinished job.",
        "relais_consumers_live": "Consumers in the queue's group that belong to live instances.",
        "relais_notifications_total": "Messages this instance handed to a channel, by channel and outcome.",
        "relais_delivery_rate_waits_total": "Sends that waited for their slot under a configured rate, by channel.",
        "relais_outbox_messages": "Messages in the outbox by channel and state (pending, due, failed, held by this instance).",
        "relais_outbox_shops_waiting": "Shops with a message due now, by channel.",
        "relais_outbox_oldest_due_seconds": "How long the oldest message due now has waited for its turn, by channel.",
        "relais_ready": "1 while this instance is ready (every check of /readyz passes), else 0.",
        "relais_check_ok": "1 while a readiness check passes, else 0, by check.",
        "relais_build_info": "Always 1; the version of this build in the label.",
        "process_resident_memory_bytes": "Resident memory of the process.",
        "process_virtual_memory_bytes": "Virtual memory of the process.",
        "process_open_fds": "Open file descriptors.",
        "process_max_fds": "The limit on open file descriptors.",
        "process_cpu_seconds_total": "User and system CPU time of the process.",
        "process_start_time_seconds": "When the process started, in seconds since the Unix epoch.",
    ]
}

/// swift-metrics over the Prometheus registry, naming each metric's `# HELP` from the
/// catalogue (swift-prometheus's own factory registers every metric without one).
struct RelaisMetricsFactory: CoreMetrics.MetricsFactory {
    let registry: PrometheusCollectorRegistry
    /// Histogram buckets by metric name.
    let durationBuckets: [String: [Duration]]
    let defaultBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]


    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: MetricCatalogue.descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: MetricCatalogue.descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: MetricCatalogue.descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: MetricCatalogue.descriptor(label), labels: dimensions, buckets: [0.001, 0.01, 0.1, 1, 10, 100, 1000])
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: MetricCatalogue.descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: MetricCatalogue.descriptor(label), labels: dimensions, buckets: durationBuckets[label] ?? defaultBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}

/// The standard `process_*` metrics, read from `/proc/self` when `/metrics` is scraped.
final class ProcessMetrics: Sendable {
    private let resident: Prometheus.Gauge
    private let virtual: Prometheus.Gauge
    private let openFDs: Prometheus.Gauge
    private let maxFDs: Prometheus.Gauge
    private let cpu: Prometheus.Counter
    private let cpuCounted = Mutex<Double>(0)

    init(registry: PrometheusCollectorRegistry) {
        func gauge(_ name: String) -> Prometheus.Gauge { registry.makeGauge(descriptor: MetricCatalogue.descriptor(name)) }
        resident = gauge("process_resident_memory_bytes")
        virtual = gauge("process_virtual_memory_bytes")
        openFDs = gauge("process_open_fds")
        maxFDs = gauge("process_max_fds")
        cpu = registry.makeCounter(descriptor: MetricCatalogue.descriptor("process_cpu_seconds_total"))
        let stat = Self.stat()
        gauge("process_start_time_seconds").set(to: stat?.startTime ?? Date().timeIntervalSince1970)
    }

    /// Reads the figures now.
    func update() {
        if let stat = Self.stat() {
            resident.set(to: stat.residentBytes)
            virtual.set(to: stat.virtualBytes)
            // The counter only goes up: add what was spent since the last scrape.
            let delta = cpuCounted.withLock { counted in
                let delta = max(0, stat.cpuSeconds - counted)
                counted += delta
                return delta
            }
            if delta > 0 { cpu.increment(by: delta) }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFDs.set(to: Double(max(0, entries.count - 1)))  // not the descriptor that lists them
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.set(to: Double(limit.rlim_cur)) }
    }

    /// The fields of `/proc/self/stat` that matter here (proc(5)).
    private static func stat() -> (cpuSeconds: Double, startTime: Double, virtualBytes: Double, residentBytes: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // After the command name in parentheses, fields from the third (state) on.
        let fields = text[text.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        guard ticks > 0, let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23),
              let rss = field(24), let uptime = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
              let secondsSinceBoot = uptime.split(separator: " ").first.flatMap({ Double($0) }) else { return nil }
        let bootTime = Date().timeIntervalSince1970 - secondsSinceBoot
        return ((utime + stime) / ticks, bootTime + start / ticks, vsize, rss * pageSize)
    }
}

import Foundation
import Logging
import Metrics
import PostgresClient
import RedisClient
import RelaisDelivery
import RelaisDomain
import RelaisQueue
import RelaisStore
import RelaisWorkers
import Synchronization
import SystemdClient

/// The result of one dependency check.
struct Probe: Sendable, Codable, Equatable {
    var ok: Bool
    var error: String?
    static let unknown = Probe(ok: false, error: "not checked yet")
}

/// What `/readyz` and `/status` report, refreshed every second by the health monitor.
struct HealthReport: Sendable, Codable {
    var ready: Bool
    var redis: Probe
    var postgres: Probe
    var schema: Probe
    var schemaVersion: Int?
    var expectedSchemaVersion: Int
    var consumers: Probe
    var http: Probe
    var checkedAt: Date?
    /// Redis settings that put jobs at risk (no AOF, an evicting memory policy).
    var redisWarnings: [String] = []
    /// Messages not sent yet, per channel.
    var outbox: [String: OutboxBacklog] = [:]
}

/// One channel's messages waiting in the outbox, and in this instance's hands.
struct OutboxBacklog: Sendable, Codable, Equatable {
    /// Waiting to be sent, now or after a retry delay.
    var pending: Int
    /// Of those, due now and waiting for their turn.
    var due: Int
    /// Given up on.
    var failed: Int
    /// The shops whose messages are due now.
    var shopsWaiting = 0
    /// How long the oldest message due now has waited for its turn, in seconds.
    var oldestDueSeconds = 0.0
    /// Claimed by this instance and waiting for a connection or for their slot under a rate.
    var held = 0

    enum CodingKeys: String, CodingKey {
        case pending, due, failed, held
        case shopsWaiting = "shops_waiting", oldestDueSeconds = "oldest_due_seconds"
    }
}

/// Checks Redis, PostgreSQL, the schema and the consumers on a thread of its own,
/// tells systemd when Relais is ready and feeds its watchdog while consumers go round.
final class HealthMonitor: Sendable {
    private let configuration: RelaisConfiguration
    private let engine: QueueEngine
    private let logger: Logger
    private let notifier = SystemdNotifier()
    private let report = Mutex(HealthReport(
        ready: false, redis: .unknown, postgres: .unknown, schema: .unknown, schemaVersion: nil,
        expectedSchemaVersion: Schema.expectedVersion, consumers: .unknown, http: .unknown, checkedAt: nil))
    private let httpUp = Atomic<Bool>(false)
    /// What the monitor is waiting on now (see `Phase`), to name it when a check is stuck.
    private let phase = Atomic<Int>(Phase.idle.rawValue)

    /// The step of a round the monitor is in.
    private enum Phase: Int {
        case idle, redis, postgres
    }

    /// A report older than this is stale: a check is stuck, and Relais is not ready.
    static let staleAfter: TimeInterval = 5
    /// The longest a PostgreSQL check may wait for the server.
    static let postgresDeadline: Duration = .seconds(3)

    private let delivery: DeliveryFigures

    init(configuration: RelaisConfiguration, engine: QueueEngine, delivery: DeliveryFigures, logger: Logger) {
        self.configuration = configuration
        self.engine = engine
        self.delivery = delivery
        self.logger = logger
    }

    /// The latest report; if the monitor has not finished a round for `staleAfter`
    /// seconds, the check it is stuck in fails and Relais is not ready.
    var current: HealthReport {
        var current = report.withLock { $0 }
        guard let checkedAt = current.checkedAt, case let age = Date().timeIntervalSince(checkedAt), age > Self.staleAfter
        else { return current }
        let stuck = Probe(ok: false, error: "no answer for \(Int(age)) s")
        switch Phase(rawValue: phase.load(ordering: .relaxed)) ?? .idle {
        case .redis: current.redis = stuck
        case .postgres: current.postgres = stuck
        case .idle: current.consumers = Probe(ok: false, error: "the health monitor has not run for \(Int(age)) s")
        }
        current.ready = false
        return current
    }

    /// Called once the HTTP listener is bound.
    func httpListening() { httpUp.store(true, ordering: .releasing) }

    /// The monitor loop: a round a second until `stop` is set.
    func run(until stop: StopSignal) {
        var redis: RedisConnection?
        var db: PgConnection?
        var announcedReady = false
        var lastStatus = ContinuousClock.now - .seconds(60)
        var lastDurabilityCheck = ContinuousClock.now - .seconds(120)
        var lastBacklog = ContinuousClock.now - .seconds(60)
        var finishedAtLastStatus = 0
        var previous: HealthReport?
        let watchdog = notifier.watchdogInterval
        defer {
            redis?.close()
            db?.close()
        }

        while !stop.isSet {
            var next = current
            next.checkedAt = Date()
            // Redis
            phase.store(Phase.redis.rawValue, ordering: .relaxed)
            do {
                if redis == nil { redis = try RedisConnection(configuration.redis, connectTimeout: .seconds(1), timeout: .seconds(2)) }
                try redis!.command("PING")
                next.redis = Probe(ok: true)
                if ContinuousClock.now - lastDurabilityCheck >= .seconds(60) {
                    lastDurabilityCheck = .now
                    let warnings = Self.durabilityWarnings(redis!)
                    if warnings != next.redisWarnings && !warnings.isEmpty {
                        logger.warning("redis not configured for durability", metadata: ["redis.warnings": "\(warnings.joined(separator: "; "))"])
                    }
                    next.redisWarnings = warnings
                }
            } catch {
                redis?.close()
                redis = nil
                next.redis = Probe(ok: false, error: "\(error)")
            }
            // PostgreSQL and the schema
            phase.store(Phase.postgres.rawValue, ordering: .relaxed)
            do {
                if db == nil { db = try PgConnection(configuration.databaseURL, callTimeout: Self.postgresDeadline) }
                let state = try Migrator().state(db!)
                // A primary that became a standby or was fenced still answers reads: the
                // monitor moves on (libpq's target_session_attrs=read-write finds the new
                // primary) instead of reporting a server Relais cannot write to as healthy.
                // transaction_read_only is on in a standby and where default_transaction_read_only is.
                if try db!.query("SELECT current_setting('transaction_read_only')", name: "read-only check").scalar == "on" {
                    throw PgError(sqlState: "25006", statement: "health check", message: "the server takes no writes (a standby or a fenced primary)",
                                  connectionLost: true)
                }
                next.postgres = Probe(ok: true)
                switch state {
                case .current(let v):
                    next.schema = Probe(ok: true)
                    next.schemaVersion = v
                case .behind(let found, _), .ahead(let found, _):
                    next.schema = Probe(ok: false, error: state.explanation)
                    next.schemaVersion = found
                }
                if ContinuousClock.now - lastBacklog >= .seconds(2) {
                    lastBacklog = .now
                    next.outbox = try outboxBacklog(db!)
                }
            } catch {
                db?.close()
                db = nil
                next.postgres = Probe(ok: false, error: "\(error)")
                next.schema = Probe(ok: false, error: "unknown while PostgreSQL is unreachable")
            }
            phase.store(Phase.idle.rawValue, ordering: .relaxed)
            if next.postgres.ok && !(previous?.postgres.ok ?? true) {
                // Connections made before the outage may be dead without knowing it yet.
                engine.renewHandlers()
            }
            // Consumers
            let snapshots = engine.consumerSnapshots
            let staleAfter = configuration.queue.blockTimeout.seconds + 30
            let failing = snapshots.filter { ($0.state != .running && $0.state != .paused) || Date().timeIntervalSince($0.lastBeat) > staleAfter }
            next.consumers = failing.isEmpty
                ? Probe(ok: true)
                : Probe(ok: false, error: failing.map { "\($0.name): \(describe($0.state))" }.joined(separator: "; "))
            next.http = httpUp.load(ordering: .acquiring) ? Probe(ok: true) : Probe(ok: false, error: "listener not bound yet")
            next.ready = next.redis.ok && next.postgres.ok && next.schema.ok && next.consumers.ok && next.http.ok
            report.withLock { $0 = next }
            publish(next)

            if let previous, previous.ready != next.ready {
                if next.ready {
                    logger.notice("ready")
                } else {
                    logger.warning("not ready", metadata: ["failing": "\(failures(next))"])
                }
            }
            previous = next
            if next.ready && !announcedReady {
                announcedReady = true
                notifier.ready(status: "ready")
            }
            // The watchdog is fed only while every consumer's loop keeps going round: a
            // consumer wedged in a call that never returns stops the pings, and systemd
            // restarts the daemon.
            if let watchdog, announcedReady {
                let limit = max(watchdog.seconds / 2, configuration.queue.blockTimeout.seconds * 2 + 1)
                if snapshots.allSatisfy({ Date().timeIntervalSince($0.lastBeat) < limit }) {
                    notifier.watchdog()
                }
            }
            if ContinuousClock.now - lastStatus >= .seconds(5) {
                let finished = snapshots.reduce(0) { $0 + $1.jobsFinished }
                let rate = Double(finished - finishedAtLastStatus) / (ContinuousClock.now - lastStatus).seconds
                lastStatus = .now
                finishedAtLastStatus = finished
                let backlog = engine.figures.snapshot.queues.values.reduce(0) { $0 + $1.length }
                notifier.status(next.ready ? String(format: "%.0f jobs/s, backlog %d", rate, backlog) : "not ready: \(failures(next))")
            }
            stop.sleep(.seconds(1))
        }
    }

    /// The outbox per channel, also published as `relais_outbox_messages{channel,state}`
    /// (`pending`, `due`, `failed`, and `held` by this instance), `relais_outbox_shops_waiting`
    /// and `relais_outbox_oldest_due_seconds`.
    private func outboxBacklog(_ db: PgConnection) throws -> [String: OutboxBacklog] {
        let stored = try Outbox.backlog(db)
        let held = delivery.waiting
        var out: [String: OutboxBacklog] = [:]
        for channel in Channel.allCases {
            let counts = stored[channel.rawValue] ?? Outbox.Backlog()
            let backlog = OutboxBacklog(pending: counts.pending, due: counts.due, failed: counts.failed, shopsWaiting: counts.shopsWaiting,
                                        oldestDueSeconds: counts.oldestDueSeconds, held: held[channel] ?? 0)
            if stored[channel.rawValue] != nil || backlog.held > 0 { out[channel.rawValue] = backlog }
            let dimension = ("channel", channel.rawValue)
            for (state, value) in [("pending", backlog.pending), ("due", backlog.due), ("failed", backlog.failed), ("held", backlog.held)] {
                Gauge(label: "relais_outbox_messages", dimensions: [dimension, ("state", state)]).record(value)
            }
            Gauge(label: "relais_outbox_shops_waiting", dimensions: [dimension]).record(backlog.shopsWaiting)
            Gauge(label: "relais_outbox_oldest_due_seconds", dimensions: [dimension]).record(backlog.oldestDueSeconds)
        }
        return out
    }

    /// `relais_ready` and `relais_check_ok{check}`, for alerts that name the failing check.
    private func publish(_ report: HealthReport) {
        Gauge(label: "relais_ready").record(report.ready ? 1 : 0)
        for (check, probe) in ReadinessBody(report).checks {
            Gauge(label: "relais_check_ok", dimensions: [("check", check)]).record(probe.ok ? 1 : 0)
        }
    }

    /// What in Redis's settings could lose jobs; empty when CONFIG is not allowed.
    static func durabilityWarnings(_ redis: RedisConnection) -> [String] {
        guard let replies = try? redis.pipeline([["CONFIG", "GET", "appendonly"], ["CONFIG", "GET", "maxmemory-policy"]]) else { return [] }
        var warnings: [String] = []
        let aof = replies[0].elements.last?.string
        let policy = replies[1].elements.last?.string
        if let aof, aof != "yes" { warnings.append("appendonly is \(aof): a Redis restart loses jobs not yet read (set appendonly yes)") }
        if let policy, policy != "noeviction" {
            warnings.append("maxmemory-policy is \(policy): Redis may evict streams under memory pressure (set noeviction)")
        }
        return warnings
    }

    private func describe(_ state: ConsumerState) -> String {
        switch state {
        case .starting: "starting"
        case .running: "not progressing"
        case .paused: "paused"
        case .waitingForRedis: "waiting for Redis"
        case .waitingForStore: "waiting for PostgreSQL"
        case .stopped: "stopped"
        }
    }

    private func failures(_ report: HealthReport) -> String {
        var names: [String] = []
        if !report.redis.ok { names.append("redis") }
        if !report.postgres.ok { names.append("postgres") }
        if !report.schema.ok { names.append("schema") }
        if !report.consumers.ok { names.append("consumers") }
        if !report.http.ok { names.append("http") }
        return names.joined(separator: ",")
    }
}

import ArgumentParser
import Foundation
import Logging
import Metrics
import PostgresClient
import Prometheus
import RelaisJobs
import RelaisDelivery
import RelaisMessages
import RelaisQueue
import RelaisStore
import ServiceLifecycle
import SystemdClient

/// `relais serve`: the daemon.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon: consume the queues and serve /livez, /readyz, /metrics and /status.",
        discussion: """
            Stops gracefully on SIGTERM or SIGINT: no new reads, the batches in hand finish \
            (or stay pending for the next start), exit within RELAIS_SHUTDOWN_TIMEOUT. \
            Refuses to start (status 78) against a schema that is behind or ahead of this build.
            """)

    func run() async throws {
        let startedAt = Date()
        let configuration = try await loadConfigurationAsync()
        let logger = bootstrapLogging(level: configuration.logLevel)
        let registry = PrometheusCollectorRegistry()
        let jobBuckets: [Duration] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        ]
        // A job usually waits well under a millisecond for a consumer; behind a backlog or a
        // paused queue, minutes: the buckets go up to an hour.
        let waitBuckets: [Duration] = [.microseconds(250), .microseconds(500)] + jobBuckets
            + [.seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(1800), .seconds(3600)]
        MetricsSystem.bootstrap(RelaisMetricsFactory(
            registry: registry,
            durationBuckets: ["relais_job_duration_seconds": jobBuckets, "relais_job_wait_seconds": waitBuckets]))
        Gauge(label: "relais_build_info", dimensions: [("version", RelaisVersion.current)]).record(1)
        let process = ProcessMetrics(registry: registry)

        // A schema that is behind or ahead is an operator's error: say what to run and
        // do not start. An unreachable database is not: start and wait for it.
        let databaseURL = configuration.databaseURL
        let found = try? await onOwnThread { () throws -> (SchemaState, pooled: Bool) in
            let db = try PgConnection(databaseURL, callTimeout: .seconds(10))
            defer { db.close() }
            return (try Migrator().state(db), db.isPooled)
        }
        if let (state, pooled) = found {
            guard case .current = state else { throw fail(state.explanation, ExitStatus.config) }
            if pooled {
                logger.notice("PostgreSQL is reached through a connection pooler: statements go unnamed and session settings are set per transaction")
            }
        } else {
            logger.warning("PostgreSQL unreachable at start, waiting for it")
        }

        let renderer: MessageRenderer
        do {
            renderer = MessageRenderer(templates: try loadTemplates(overrides: configuration.templateOverrides))
        } catch {
            throw fail("\(error)", ExitStatus.config)
        }
        let delivery = configuration.delivery
        let engine = QueueEngine(redis: configuration.redis, settings: configuration.queue,
                                 families: JobFamilies.all.map {
                                     $0.family(FamilyEnvironment(databaseURL: databaseURL, channels: delivery.channels,
                                                                 reminders: configuration.reminders))
                                 },
                                 logger: logger)
        let deliveryFigures = DeliveryFigures()
        let senders = delivery.channels.sorted { $0.rawValue < $1.rawValue }.map { channel in
            let worker = DeliveryWorker(channel: channel, outbox: Outbox.connector(databaseURL: databaseURL), settings: delivery,
                                        renderer: renderer, logger: logger, figures: deliveryFigures)
            return ServiceGroupConfiguration.ServiceConfiguration(
                service: ThreadService(name: "delivery-\(channel.rawValue)", niceness: deliveryNiceness) { stop in
                    worker.run(until: stop)
                })
        }
        let health = HealthMonitor(configuration: configuration, engine: engine, delivery: deliveryFigures, logger: logger)
        let console = Console(token: configuration.operatorToken,
                              page: ConsolePage(configuration: configuration, health: health, engine: engine, startedAt: startedAt),
                              actions: ConsoleActing(configuration: configuration), logger: logger)
        let http = HTTPEndpoint.application(configuration: configuration, health: health, engine: engine,
                                            registry: registry, process: process, console: console,
                                            startedAt: startedAt, logger: logger)
        let consumers = ConsumerService(engine: engine)
        let schedule = ScheduleLoop(databaseURL: databaseURL, channels: delivery.channels, rules: configuration.reminders, logger: logger)
        // Two scheduler threads: while one waits for PostgreSQL the other renders, so a
        // backlog after an outage drains on both cores (claims skip each other's rows).
        let schedulers = (1...ScheduleLoop.threads).map { n in
            ThreadService(name: "scheduler-\(n)") { stop in schedule.run(until: stop) }
        }
        let monitor = ThreadService(name: "health") { stop in health.run(until: stop) }
        let maintenance = MaintenanceLoop(databaseURL: databaseURL, retention: configuration.ledgerRetention, logger: logger)
        let pruner = ThreadService(name: "maintenance", niceness: deliveryNiceness) { stop in maintenance.run(until: stop) }
        let reload = ReloadService(initial: configuration, engine: engine, logger: logger)

        logger.notice("starting", metadata: [
            "redis": "\(configuration.redis)", "queues": "\(JobFamilies.queues.joined(separator: ","))",
            "instance": "\(configuration.queue.instance)", "workers": "\(configuration.queue.workersPerQueue)",
            "schema.version": "\(Schema.expectedVersion)",
            "channels": "\(delivery.channels.map(\.rawValue).sorted().joined(separator: ","))",
        ])
        // Graceful shutdown runs in reverse order: consumers first, then the senders (they
        // finish the round in hand), then HTTP, then the monitor.
        var groupConfiguration = ServiceGroupConfiguration(
            services: [.init(service: monitor), .init(service: http), .init(service: reload), .init(service: pruner)] + senders
                + schedulers.map { .init(service: $0) } + [.init(service: consumers)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = configuration.shutdownTimeout
        groupConfiguration.maximumCancellationDuration = Duration.seconds(2)
        let group = ServiceGroup(configuration: groupConfiguration)
        try await group.run()
        logger.notice("stopped")
    }
}

/// The queue engine as a `Service`: a graceful shutdown stops its threads and waits for them.
struct ConsumerService: Service {
    let engine: QueueEngine
    private let notifier = SystemdNotifier()

    func run() async throws {
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await engine.run()
            } onGracefulShutdown: {
                notifier.stopping()
                engine.stop()
            }
        } onCancel: {
            engine.stop()
        }
    }
}

/// The message templates: the shipped ones, with the operator's overrides.
func loadTemplates(overrides: String?) throws -> TemplateSet {
    let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    guard let shipped = TemplateSet.locateShipped(executablePath: executable) else {
        throw ConfigurationError(key: "templates", "not found: install them to /usr/share/relais/templates (scripts/install does)")
    }
    return try TemplateSet(shipped: shipped, overrides: overrides)
}

/// How much the delivery threads give way to the consumers when both want the cores:
/// stock and reservations are committed first, and the messages, safe in the outbox,
/// follow a moment later (docs/performance.md). With nothing to ingest, delivery has the
/// cores to itself.
let deliveryNiceness: Int32 = 10

import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Prometheus
import RelaisQueue

/// The operator's HTTP endpoint: the status page `/` (see `Console`), `/livez`, `/readyz`,
/// `/metrics`, `/status`.
enum HTTPEndpoint {
    static func application(configuration: RelaisConfiguration, health: HealthMonitor, engine: QueueEngine,
                            registry: PrometheusCollectorRegistry, process: ProcessMetrics, console: Console, startedAt: Date,
                            logger: Logger) -> some ApplicationProtocol {
        // HEAD answers as GET without the body; any other method on these paths is a 405.
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: MethodNotAllowedMiddleware(paths: paths))
        console.register(on: router)
        router.get("livez") { _, _ in
            json(.ok, ["live": true])
        }
        router.get("readyz") { _, _ in
            let report = health.current
            return json(report.ready ? .ok : .serviceUnavailable, ReadinessBody(report))
        }
        router.get("metrics") { _, _ in
            process.update()
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("status") { _, _ in
            json(.ok, StatusBody(health: health.current, engine: engine, instance: configuration.queue.instance, startedAt: startedAt))
        }
        // An idle connection (one that sends nothing, or no complete request head) is
        // closed after the idle timeout; beyond the cap, new connections wait in the
        // listen queue instead of taking file descriptors.
        let idle = configuration.httpIdleTimeout.components
        let idleTimeout = TimeAmount.nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000)
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: idleTimeout)),
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "relais",
                                 availableConnectionsDelegate: MaximumAvailableConnections(configuration.httpMaxConnections, logger: logger)),
            onServerRunning: { channel in
                logger.notice("http listening", metadata: ["http.address": "\(channel.localAddress?.description ?? "?")"])
                health.httpListening()
            },
            logger: logger)
    }

    /// The endpoint's paths that answer GET and HEAD only.
    static let paths: Set<String> = ["/", "/livez", "/readyz", "/metrics", "/status"]

    private static func json(_ status: HTTPResponse.Status, _ body: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        let data = (try? encoder.encode(body)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Answers 405 with `Allow: GET, HEAD` to any other method on the endpoint's paths, which
/// would otherwise get a misleading 404.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The paths that answer GET and HEAD.
    let paths: Set<String>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .get, request.method != .head, paths.contains(request.uri.path) else {
            return try await next(request, context)
        }
        return Response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD"])
    }
}

/// `/readyz`: whether Relais is ready and, check by check, what fails.
struct ReadinessBody: Encodable {
    let ready: Bool
    let failing: [String]
    let checks: [String: Probe]
    let schemaVersion: Int?
    let expectedSchemaVersion: Int

    init(_ report: HealthReport) {
        ready = report.ready
        checks = ["redis": report.redis, "postgres": report.postgres, "schema": report.schema,
                  "consumers": report.consumers, "http": report.http]
        failing = checks.filter { !$0.value.ok }.map(\.key).sorted()
        schemaVersion = report.schemaVersion
        expectedSchemaVersion = report.expectedSchemaVersion
    }
}

/// `/status`: the same picture as the status page, as JSON.
struct StatusBody: Encodable {
    struct Queue: Encodable {
        let length: Int64
        let pending: Int64
        let retrying: Int64
        let lagSeconds: Double
        let paused: Bool
        let pausedSince: String?
        let liveConsumers: Int
    }
    struct Consumer: Encodable {
        let name: String
        let queue: String
        let state: String
        let jobsFinished: Int
        let lastProgress: Date?
    }
    struct DeadLetterCount: Encodable {
        let queue: String
        let code: String
        let count: Int
    }
    struct Instance: Encodable {
        let name: String
        let lastSeen: Date
        let liveConsumers: Int
    }
    let version = RelaisVersion.current
    let instance: String
    let uptimeSeconds: Int
    let ready: Bool
    let redisWarnings: [String]
    let queues: [String: Queue]
    let deadLetters: Int64
    let deadLettersByCode: [DeadLetterCount]
    let measuredAt: Date?
    /// This instance's consumers.
    let consumers: [Consumer]
    /// The live instances sharing the queues.
    let instances: [Instance]
    /// Consumers in the groups that belong to instances that are gone.
    let staleConsumers: Int
    /// Messages waiting in the outbox, per channel.
    let outbox: [String: OutboxBacklog]

    init(health: HealthReport, engine: QueueEngine, instance: String, startedAt: Date) {
        self.instance = instance
        uptimeSeconds = Int(max(0, Date().timeIntervalSince(startedAt)))
        ready = health.ready
        redisWarnings = health.redisWarnings
        let figures = engine.figures.snapshot
        queues = figures.queues.mapValues {
            Queue(length: $0.length, pending: $0.pending, retrying: $0.retrying, lagSeconds: $0.lagSeconds, paused: $0.pausedSince != nil,
                  pausedSince: $0.pausedSince, liveConsumers: $0.liveConsumers)
        }
        deadLetters = figures.deadLetters
        deadLettersByCode = figures.deadLettersByCode.keys.sorted().map {
            DeadLetterCount(queue: $0.queue, code: $0.code, count: figures.deadLettersByCode[$0]!)
        }
        outbox = health.outbox
        measuredAt = figures.measuredAt
        consumers = engine.consumerSnapshots.map {
            Consumer(name: $0.name, queue: $0.queue, state: "\($0.state)", jobsFinished: $0.jobsFinished, lastProgress: $0.lastProgress)
        }
        let live = figures.consumers.filter(\.live)
        instances = figures.instances.keys.sorted().map { name in
            Instance(name: name, lastSeen: figures.instances[name]!, liveConsumers: live.filter { $0.instance == name }.count)
        }
        staleConsumers = figures.consumers.count - live.count
    }
}

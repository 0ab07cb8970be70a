import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import RelaisQueue

/// The operator's HTTP endpoint: `/livez`, `/readyz`, `/metrics`, `/status`.
enum HTTPEndpoint {
    static func application(configuration: RelaisConfiguration, health: HealthMonitor, engine: QueueEngine,
                            registry: PrometheusCollectorRegistry, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.get("livez") { _, _ in
            json(.ok, ["live": true])
        }
        router.get("readyz") { _, _ in
            let report = health.current
            return json(report.ready ? .ok : .serviceUnavailable, ReadinessBody(report))
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("status") { _, _ in
            json(.ok, StatusBody(health: health.current, engine: engine))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "relais"),
            onServerRunning: { channel in
                logger.notice("http listening", metadata: ["http.address": "\(channel.localAddress?.description ?? "?")"])
                health.httpListening()
            },
            logger: logger)
    }

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

/// `/status`: the same picture as `relais queues`, plus the consumers.
struct StatusBody: Encodable {
    struct Queue: Encodable {
        let length: Int64
        let retrying: Int64
        let lagSeconds: Double
    }
    struct Consumer: Encodable {
        let name: String
        let queue: String
        let state: String
        let jobsFinished: Int
        let lastProgress: Date?
    }
    let ready: Bool
    let redisWarnings: [String]
    let queues: [String: Queue]
    let deadLetters: Int64
    let measuredAt: Date?
    let consumers: [Consumer]
    /// Messages waiting in the outbox, per channel.
    let outbox: [String: OutboxBacklog]

    init(health: HealthReport, engine: QueueEngine) {
        ready = health.ready
        redisWarnings = health.redisWarnings
        let figures = engine.figures.snapshot
        queues = figures.queues.mapValues { Queue(length: $0.length, retrying: $0.retrying, lagSeconds: $0.lagSeconds) }
        deadLetters = figures.deadLetters
        outbox = health.outbox
        measuredAt = figures.measuredAt
        consumers = engine.consumerSnapshots.map {
            Consumer(name: $0.name, queue: $0.queue, state: "\($0.state)", jobsFinished: $0.jobsFinished, lastProgress: $0.lastProgress)
        }
    }
}

import ArgumentParser
import Foundation
import PostgresClient
import RedisClient
import RelaisJobs
import RelaisDomain
import RelaisLogging
import RelaisQueue
import RelaisStore

/// Connects to Redis for a one-shot command, or exits with "unavailable".
func connectRedis(_ configuration: RelaisConfiguration) throws -> RedisConnection {
    do { return try RedisConnection(configuration.redis, connectTimeout: .seconds(2), timeout: .seconds(10)) } catch {
        throw fail("cannot reach Redis at \(configuration.redis): \(error.message)", ExitStatus.unavailable)
    }
}

/// Prints `value` as indented JSON with sorted keys.
///
/// JSONEncoder escapes U+0000–U+001F; the other control characters (DEL, C1, U+2028,
/// U+2029) are escaped here too, so that a dead letter's text cannot drive the
/// terminal. They only occur inside strings, where `\uXXXX` means the same.
func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    guard let data = try? encoder.encode(value) else { return }
    print(escapingControls(data))
}

/// JSONEncoder's output with the control characters it leaves (DEL, C1, U+2028, U+2029)
/// escaped as `\uXXXX`. They only occur inside strings, where the escape means the same.
func escapingControls(_ json: Data) -> String {
    var text = ""
    for scalar in String(decoding: json, as: UTF8.self).unicodeScalars {
        // Not C0: JSONEncoder escaped those in strings, and the layout's line breaks are C0.
        if scalar.value >= 0x7F && ControlCharacters.isControl(scalar) {
            let hex = String(scalar.value, radix: 16)
            text += #"\u"# + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
            text.unicodeScalars.append(scalar)
        }
    }
    return text
}

/// `relais check`: configuration and connectivity.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the configuration, Redis, PostgreSQL, the schema version and the templates; non-zero exit on failure.",
        discussion: """
            Exit status: 0 all good, 78 bad configuration or schema not at this build's version, 69 Redis or \
            PostgreSQL unreachable. Redis settings that can lose jobs (appendonly off, an evicting \
            maxmemory-policy) are printed as warnings and do not change the status.
            """)

    @Flag(help: "Print the result as JSON.") var json = false

    struct Result: Encodable {
        var configuration = "ok"
        var redis: String
        /// Redis settings that put jobs at risk; a warning, not a failure.
        var redisWarnings: [String]
        var postgres: String
        var schema: String
        var templates: String
        var channels: [String]
        var ok: Bool
    }

    func run() throws {
        let configuration = try loadConfiguration()
        var redisStatus = "ok"
        var redisWarnings: [String] = []
        var unavailable = false
        var misconfigured = false
        do {
            let redis = try RedisConnection(configuration.redis, connectTimeout: .seconds(2), timeout: .seconds(5))
            defer { redis.close() }
            try redis.command("PING")
            redisWarnings = HealthMonitor.durabilityWarnings(redis)
        } catch {
            redisStatus = "unreachable: \(error.message)"
            unavailable = true
        }
        var postgresStatus = "ok"
        var schemaStatus = "unknown"
        do {
            let db = try PgConnection(configuration.databaseURL, callTimeout: .seconds(5))
            defer { db.close() }
            let state = try Migrator().state(db)
            schemaStatus = state.explanation
            if case .current = state {} else { misconfigured = true }
        } catch {
            postgresStatus = "unreachable: \(error)"
            unavailable = true
        }
        var templatesStatus = "ok"
        do {
            let templates = try loadTemplates(overrides: configuration.templateOverrides)
            if !templates.overridden.isEmpty { templatesStatus = "ok (\(templates.overridden.count) overridden)" }
        } catch {
            templatesStatus = "\(error)"
            misconfigured = true
        }
        let channels = configuration.delivery.channels.map(\.rawValue).sorted()
        let result = Result(redis: redisStatus, redisWarnings: redisWarnings, postgres: postgresStatus, schema: schemaStatus, templates: templatesStatus,
                            channels: channels, ok: !unavailable && !misconfigured)
        if json {
            printJSON(result)
        } else {
            print("configuration  ok")
            print("redis          \(redisStatus)  (\(configuration.redis))")
            for warning in redisWarnings { print("  warning      \(warning)") }
            print("postgres       \(postgresStatus)")
            print("schema         \(schemaStatus)")
            print("templates      \(templatesStatus)")
            print("channels       \(channels.joined(separator: ", ")) (the others write to the log)")
        }
        if unavailable { throw ExitStatus.unavailable }
        if misconfigured { throw ExitStatus.config }
    }
}

/// `relais enqueue`: add a job exactly as a producer would.
struct Enqueue: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a job and add it to a queue's stream (XADD <prefix>:<queue> * job <json>).",
        discussion: """
            Example: relais enqueue --queue stock --type stock.adjust \
            --data '{"shop_id":"boulangerie-42","sku":"baguette","delta":-3,"at":"2026-11-28T09:30:00+01:00"}'
            A job that the daemon would dead-letter is refused here with the same reason (status 65).
            """)

    @Option(help: "The queue: \(JobFamilies.queues.joined(separator: ", ")).") var queue: String
    @Option(help: "The job type, such as stock.levels.") var type: String
    @Option(help: "The job's data as JSON, or @path to read it from a file.") var data: String
    @Option(help: "The idempotency key; generated when absent.") var id: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let configuration = try loadConfiguration()
        let text: String
        if data.hasPrefix("@") {
            guard let contents = FileManager.default.contents(atPath: String(data.dropFirst())) else {
                throw fail("cannot read \(data.dropFirst())", ExitStatus.noInput)
            }
            text = String(decoding: contents, as: UTF8.self)
        } else {
            text = data
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else {
            throw fail("--data is not valid JSON", ExitStatus.dataError)
        }
        let jobId = id ?? "cli-\(UUID().uuidString.lowercased())"
        let envelope: [String: Any] = ["id": jobId, "type": type, "data": object, "enqueued_at": Timestamp(Date()).description]
        let payload = try JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys, .withoutEscapingSlashes])
        if let rejection = JobFamilies.validate(queue: queue, payload: Array(payload)) {
            throw fail("job refused: \(rejection.message) [\(rejection.code.rawValue)]", ExitStatus.dataError)
        }
        let redis = try connectRedis(configuration)
        defer { redis.close() }
        let keys = configuration.queue.keys(queue)
        let entry = try redis.command("XADD", keys.stream, "*", "job", String(decoding: payload, as: UTF8.self)).string ?? "?"
        if json {
            printJSON(["stream": keys.stream, "entry_id": entry, "job_id": jobId])
        } else {
            print("enqueued \(jobId) on \(keys.stream) as \(entry)")
        }
    }
}

/// `relais queues`: what is waiting where, and pausing and resuming a queue.
struct QueuesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "Show the queues, or pause and resume one on every instance.",
        subcommands: [Show.self, Pause.self, Resume.self],
        defaultSubcommand: Show.self)

    /// `relais queues [show]`.
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show each queue's length, pending entries, lag, oldest pending age, retries, whether it is paused, the live instances and the dead letters.")

        @Flag(help: "Print the result as JSON.") var json = false

        /// One queue's figures.
        struct Row: Encodable {
            let queue: String
            let stream: String
            let length: Int64
            let pending: Int64
            let lag: Int64?
            let oldestPendingSeconds: Double?
            let retrying: Int64
            let consumers: Int64
            let paused: Bool
            let pausedSince: String?
        }

        struct Output: Encodable {
            let queues: [Row]
            let deadLetters: Int64
            let instances: [String]
        }

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            var rows: [Row] = []
            let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
            let paused = try QueueControl.paused(redis, settings: configuration.queue)
            for name in JobFamilies.queues {
                let keys = configuration.queue.keys(name)
                let replies = try redis.pipeline([
                    ["XLEN", keys.stream],
                    ["XINFO", "GROUPS", keys.stream],
                    ["XPENDING", keys.stream, configuration.queue.group],
                    ["ZCARD", keys.retry],
                ])
                var pending: Int64 = 0
                var lag: Int64?
                var consumers: Int64 = 0
                for group in replies[1].elements {
                    let info = StreamReplies.fields(group)
                    guard info["name"]?.string == configuration.queue.group else { continue }
                    pending = info["pending"]?.integer ?? 0
                    lag = info["lag"]?.integer
                    consumers = info["consumers"]?.integer ?? 0
                }
                let summary = replies[2].elements
                let oldest = summary.count > 1 ? summary[1].string.flatMap { $0.split(separator: "-").first }.flatMap { Int64($0) } : nil
                rows.append(Row(queue: name, stream: keys.stream, length: replies[0].integer ?? 0, pending: pending, lag: lag,
                                oldestPendingSeconds: oldest.map { Double(nowMs - $0) / 1000 },
                                retrying: replies[3].integer ?? 0, consumers: consumers,
                                paused: paused[name] != nil, pausedSince: paused[name]))
            }
            let dead = try redis.command("XLEN", configuration.queue.deadLetterStream).integer ?? 0
            let instances = try QueueControl.liveInstances(redis, settings: configuration.queue).keys.sorted()
            if json {
                printJSON(Output(queues: rows, deadLetters: dead, instances: instances))
                return
            }
            print("QUEUE     STATE    LENGTH   PENDING  LAG      OLDEST PENDING  RETRYING  CONSUMERS")
            for row in rows {
                let age = row.oldestPendingSeconds.map { String(format: "%.1fs", $0) } ?? "-"
                print(pad(row.queue, 10) + pad(row.paused ? "paused" : "running", 9) + pad("\(row.length)", 9) + pad("\(row.pending)", 9)
                      + pad(row.lag.map(String.init) ?? "-", 9) + pad(age, 16) + pad("\(row.retrying)", 10) + "\(row.consumers)")
            }
            print("dead letters: \(dead)")
            print("live instances: \(instances.isEmpty ? "none" : instances.joined(separator: ", "))")
        }

        private func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
        }
    }

    /// The queue a command acts on, checked against the queues this relais has.
    struct QueueName: ParsableArguments {
        @Argument(help: "The queue: \(JobFamilies.queues.joined(separator: ", ")).") var queue: String

        func validate() throws {
            guard JobFamilies.queues.contains(queue) else {
                throw ValidationError("no queue \(queue): the queues are \(JobFamilies.queues.joined(separator: ", "))")
            }
        }
    }

    /// `relais queues pause QUEUE`.
    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pause a queue on every instance: its consumers take no job until it is resumed.",
            discussion: """
                The pause is kept in Redis (<prefix>:paused), so every running instance obeys \
                within a second and one started later too. Jobs keep arriving on the stream and \
                wait there; a batch a consumer was reading at that moment stays pending, untouched, \
                until the resume. Due retries move to the stream and wait there as well.
                """)
        @OptionGroup var named: QueueName
        private var queue: String { named.queue }

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            if try QueueControl.pause(redis, settings: configuration.queue, queue: queue) {
                print("paused \(queue) on every instance")
            } else {
                print("\(queue) was already paused (since \(try QueueControl.paused(redis, settings: configuration.queue)[queue] ?? "?"))")
            }
        }
    }

    /// `relais queues resume QUEUE`.
    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused queue on every instance.")
        @OptionGroup var named: QueueName
        private var queue: String { named.queue }

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            if try QueueControl.resume(redis, settings: configuration.queue, queue: queue) {
                print("resumed \(queue) on every instance")
            } else {
                print("\(queue) was not paused")
            }
        }
    }
}

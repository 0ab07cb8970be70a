import Foundation
import Synchronization
import Logging
import RedisClient
import RelaisWorkers

/// The engine's background chores, on a thread and a Redis connection of their own:
/// following the paused queues, moving due retries back to their stream, renewing the
/// lease of batches still being processed, telling the other instances this one is
/// alive, measuring each queue, tallying the dead letters, and removing the consumers of
/// instances that are gone.
struct Housekeeper: Sendable {
    let endpoint: RedisEndpoint
    let settings: QueueSettings
    let queues: [QueueKeys]
    let consumers: [ConsumerShared]
    let stop: StopSignal
    let logger: Logger
    let metrics: QueueMetrics
    let figures: FiguresBoard
    let pauses: PauseBoard

    /// Moves due retries to the stream, with the next attempt number, atomically.
    ///
    /// KEYS[1] the retry sorted set, KEYS[2] the stream; ARGV[1] now in ms, ARGV[2] the
    /// most to move. Members are `<attempt>|<original entry id>|<payload>`; the score
    /// is when the retry is due. Returns how many were moved.
    static let moveDueScript = """
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
        for _, member in ipairs(due) do
          local first = string.find(member, '|', 1, true)
          local second = string.find(member, '|', first + 1, true)
          redis.call('XADD', KEYS[2], '*', 'job', string.sub(member, second + 1), 'attempt', string.sub(member, 1, first - 1))
          redis.call('ZREM', KEYS[1], member)
        end
        return #due
        """

    func run() {
        var redis: RedisConnection?
        var backoff = Backoff()
        var lastLease = ContinuousClock.now
        var lastMeasure = ContinuousClock.now - .seconds(10)
        var lastTally = ContinuousClock.now - .seconds(10)
        var lastSweep = ContinuousClock.now
        var tally = DeadLetterTally()
        var latest: [DeadLetterSummary] = []
        var seenPaused: [String: String]? = nil
        let leaseInterval = settings.claimIdle / 3
        defer { redis?.close() }

        while !stop.isSet {
            do {
                if redis == nil { redis = try RedisConnection(endpoint, timeout: .seconds(5)) }
                let connection = redis!
                let paused = try QueueControl.paused(connection, settings: settings)
                pauses.update(paused)
                if seenPaused != paused { logPauses(from: seenPaused ?? [:], to: paused) }
                seenPaused = paused
                for queue in queues { try moveDue(connection, queue) }
                if ContinuousClock.now - lastLease >= leaseInterval / 2 {
                    lastLease = .now
                    try renewLeases(connection, olderThan: leaseInterval)
                }
                if ContinuousClock.now - lastTally >= .seconds(2) {
                    lastTally = .now
                    try tally.step(connection, stream: settings.deadLetterStream, budget: 2000)
                    latest = try latestDeadLetters(connection)
                }
                if ContinuousClock.now - lastMeasure >= .seconds(1) {
                    lastMeasure = .now
                    let consumers = try measure(connection, paused: paused, tally: tally, latest: latest)
                    if ContinuousClock.now - lastSweep >= .seconds(10) {
                        lastSweep = .now
                        try removeGoneConsumers(connection, consumers)
                    }
                }
                backoff.reset()
                stop.sleep(.milliseconds(100))
            } catch {
                logger.warning("housekeeping failed, reconnecting", metadata: ["error": "\(error)"])
                redis?.close()
                redis = nil
                stop.sleep(backoff.next())
            }
        }
    }

    /// Each instance says what it obeys, so that the log shows every instance took a pause.
    private func logPauses(from seen: [String: String], to paused: [String: String]) {
        for queue in queues.map(\.queue) where (seen[queue] == nil) != (paused[queue] == nil) {
            if let since = paused[queue] {
                logger.notice("queue paused", metadata: ["job.queue": "\(queue)", "paused.since": "\(since)"])
            } else {
                logger.notice("queue resumed", metadata: ["job.queue": "\(queue)"])
            }
        }
    }

    private func moveDue(_ redis: RedisConnection, _ queue: QueueKeys) throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var moved: Int64 = 0
        repeat {
            moved = try redis.command("EVAL", Self.moveDueScript, "2", queue.retry, queue.stream, String(now), "500").integer ?? 0
            if moved > 0 {
                logger.debug("retries due", metadata: ["job.queue": "\(queue.queue)", "count": "\(moved)"])
            }
        } while moved == 500 && !stop.isSet
    }

    /// Resets the idle time of entries in batches that have been processing for a while,
    /// so that XAUTOCLAIM elsewhere does not take them over while they are still in hand.
    private func renewLeases(_ redis: RedisConnection, olderThan age: Duration) throws {
        for consumer in consumers {
            let (ids, since) = consumer.inFlight.withLock { ($0.ids, $0.since) }
            guard !ids.isEmpty, ContinuousClock.now - since >= age else { continue }
            try redis.command(arguments: ["XCLAIM", consumer.queue.stream, settings.group, consumer.name, "0"] + ids + ["JUSTID"])
        }
    }

    /// Measures every queue in one round trip, says this instance is alive, publishes the
    /// figures and gauges, and returns the consumers of every group as Redis lists them.
    private func measure(_ redis: RedisConnection, paused: [String: String], tally: DeadLetterTally,
                         latest: [DeadLetterSummary]) throws -> [ConsumerSeen] {
        let now = Date()
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        var commands: [[String]] = [
            ["ZADD", settings.instancesKey, String(nowMs), settings.instance],
            ["ZRANGE", settings.instancesKey, String(nowMs - Int64(QueueControl.instanceTimeout.seconds * 1000)), "+inf",
             "BYSCORE", "WITHSCORES"],
            ["XLEN", settings.deadLetterStream],
        ]
        for queue in queues {
            commands.append(["XRANGE", queue.stream, "-", "+", "COUNT", "1"])
            commands.append(["XLEN", queue.stream])
            commands.append(["ZCARD", queue.retry])
            commands.append(["XINFO", "GROUPS", queue.stream])
            commands.append(["XINFO", "CONSUMERS", queue.stream, settings.group])
        }
        let replies = try redis.pipeline(commands)
        let instances = QueueControl.pairs(replies[1]).compactMapValues { Double($0).map { Date(timeIntervalSince1970: $0 / 1000) } }
        var queueFigures: [String: QueueFigures] = [:]
        var seen: [ConsumerSeen] = []
        for (i, queue) in queues.enumerated() {
            let at = 3 + 5 * i
            let oldest = StreamReplies.range(replies[at]).first?.millisecondsSinceEpoch
            let lag = oldest.map { max(0, Double(nowMs - $0) / 1000) } ?? 0
            var pending: Int64 = 0
            for group in replies[at + 3].elements {
                let info = StreamReplies.fields(group)
                if info["name"]?.string == settings.group { pending = info["pending"]?.integer ?? 0 }
            }
            var live = 0
            for consumer in replies[at + 4].elements {
                let info = StreamReplies.fields(consumer)
                guard let name = info["name"]?.string else { continue }
                let instance = Self.instance(ofConsumer: name, queue: queue.queue)
                let isLive = instance.map { instances[$0] != nil } ?? false
                if isLive { live += 1 }
                seen.append(ConsumerSeen(queue: queue.queue, name: name, instance: instance, pending: info["pending"]?.integer ?? 0,
                                         idleSeconds: Double(info["idle"]?.integer ?? 0) / 1000, live: isLive))
            }
            let figures = QueueFigures(length: replies[at + 1].integer ?? 0, pending: pending, retrying: replies[at + 2].integer ?? 0,
                                       lagSeconds: lag, pausedSince: paused[queue.queue], liveConsumers: live)
            queueFigures[queue.queue] = figures
            metrics.queue(queue.queue, figures)
        }
        let deadByCode = tally.counts
        metrics.deadLettersStored(deadByCode)
        figures.update(EngineFigures(queues: queueFigures, deadLetters: replies[2].integer ?? 0, deadLettersByCode: deadByCode,
                                     latestDeadLetters: latest, instances: instances, consumers: seen, measuredAt: now))
        return seen
    }

    /// The instance a consumer name `<instance>-<queue>-<n>` belongs to, or nil for a name
    /// of another form (a consumer Relais did not make).
    static func instance(ofConsumer name: String, queue: String) -> String? {
        guard let dash = name.lastIndex(of: "-"), !name[name.index(after: dash)...].isEmpty,
              name[name.index(after: dash)...].allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let head = name[..<dash]
        guard head.hasSuffix("-" + queue), head.count > queue.count + 1 else { return nil }
        return String(head.dropLast(queue.count + 1))
    }

    /// Removes from their group the consumers of instances that are gone, once they hold
    /// no entry (their entries are first taken over by live consumers, after the claim
    /// idle time) and have been idle for longer than an instance's timeout.
    private func removeGoneConsumers(_ redis: RedisConnection, _ consumers: [ConsumerSeen]) throws {
        for consumer in consumers where !consumer.live && consumer.pending == 0
            && consumer.idleSeconds > QueueControl.instanceTimeout.seconds {
            let stream = settings.keys(consumer.queue).stream
            let removed = try redis.command("EVAL", QueueControl.removeIdleConsumerScript, "1", stream, settings.group, consumer.name)
            if removed.integer == 1 {
                logger.notice("removed the consumer of a gone instance", metadata: [
                    "job.queue": "\(consumer.queue)", "consumer": "\(consumer.name)",
                    "idle_s": "\(Int(consumer.idleSeconds))",
                ])
            }
        }
        // Instances not seen for a day leave the list.
        let dayAgo = Int64(Date().timeIntervalSince1970 * 1000) - 86_400_000
        try redis.command("ZREMRANGEBYSCORE", settings.instancesKey, "-inf", String(dayAgo))
    }

    /// The newest dead letters, without their jobs.
    private func latestDeadLetters(_ redis: RedisConnection) throws -> [DeadLetterSummary] {
        StreamReplies.range(try redis.command("XREVRANGE", settings.deadLetterStream, "+", "-", "COUNT", "5"))
            .map(DeadLetterSummary.init)
    }
}

/// A queue's figures as last measured by the housekeeper.
public struct QueueFigures: Sendable, Equatable {
    /// Entries in the stream: jobs not finished yet.
    public let length: Int64
    /// Entries delivered to a consumer and not acknowledged yet.
    public let pending: Int64
    /// Jobs waiting for a retry.
    public let retrying: Int64
    /// Age of the oldest unfinished job, in seconds.
    public let lagSeconds: Double
    /// When the queue was paused (ISO-8601), or nil while it runs.
    public let pausedSince: String?
    /// Consumers in the queue's group that belong to live instances.
    public let liveConsumers: Int
}

/// A consumer in a queue's group, as Redis lists it.
public struct ConsumerSeen: Sendable, Equatable {
    /// The queue.
    public let queue: String
    /// The consumer's name, `<instance>-<queue>-<n>`.
    public let name: String
    /// The instance it belongs to, read from its name.
    public let instance: String?
    /// Entries it holds.
    public let pending: Int64
    /// Seconds since it last read.
    public let idleSeconds: Double
    /// Whether its instance is alive.
    public let live: Bool
}

/// A dead letter without its job: what the status page lists.
public struct DeadLetterSummary: Sendable, Equatable {
    /// The letter's entry id in the dead-letter stream.
    public let entryId: String
    /// The queue the job came from.
    public let queue: String
    /// The rejection's code.
    public let code: String
    /// Why, naming the field.
    public let reason: String
    /// The job's id and type, when it had them.
    public let jobId: String?
    public let jobType: String?
    /// When it was dead-lettered (ISO-8601).
    public let failedAt: String

    /// Reads a letter's fields; a missing one reads `?` (an empty reason).
    public init(_ entry: StreamEntry) {
        let f = entry.fields ?? [:]
        func text(_ key: String) -> String? { f[key].map { String(decoding: $0, as: UTF8.self) } }
        entryId = entry.id
        queue = text("queue") ?? "?"
        code = text("code") ?? "?"
        reason = text("reason") ?? ""
        jobId = text("job_id")
        jobType = text("job_type")
        failedAt = text("failed_at") ?? "?"
    }
}

/// Everything the housekeeper last measured.
public struct EngineFigures: Sendable {
    /// Per queue.
    public var queues: [String: QueueFigures] = [:]
    /// Letters in the dead-letter stream.
    public var deadLetters: Int64 = 0
    /// The letters counted by queue and code.
    public var deadLettersByCode: [DeadLetterKind: Int] = [:]
    /// The newest few letters.
    public var latestDeadLetters: [DeadLetterSummary] = []
    /// The live instances, with when each was last seen.
    public var instances: [String: Date] = [:]
    /// Every consumer of every queue's group.
    public var consumers: [ConsumerSeen] = []
    /// When they were measured; nil before the first measure.
    public var measuredAt: Date?
}

/// The latest figures, shared with the health monitor and the HTTP endpoint.
public final class FiguresBoard: Sendable {
    private let state = Mutex(EngineFigures())

    init() {}

    func update(_ figures: EngineFigures) { state.withLock { $0 = figures } }

    /// The figures as last measured.
    public var snapshot: EngineFigures { state.withLock { $0 } }
}

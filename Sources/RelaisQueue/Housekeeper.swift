import Foundation
import Synchronization
import Logging
import RedisClient
import RelaisWorkers

/// The engine's background chores, on a thread and a Redis connection of their own:
/// moving due retries back to their stream, renewing the lease of batches still being
/// processed, and measuring each queue's lag.
struct Housekeeper: Sendable {
    let endpoint: RedisEndpoint
    let settings: QueueSettings
    let queues: [QueueKeys]
    let consumers: [ConsumerShared]
    let stop: StopSignal
    let logger: Logger
    let metrics: QueueMetrics
    let lags: LagBoard

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
        var lastLag = ContinuousClock.now - .seconds(10)
        let leaseInterval = settings.claimIdle / 3
        defer { redis?.close() }

        while !stop.isSet {
            do {
                if redis == nil { redis = try RedisConnection(endpoint, timeout: .seconds(5)) }
                let connection = redis!
                for queue in queues { try moveDue(connection, queue) }
                if ContinuousClock.now - lastLease >= leaseInterval / 2 {
                    lastLease = .now
                    try renewLeases(connection, olderThan: leaseInterval)
                }
                if ContinuousClock.now - lastLag >= .seconds(1) {
                    lastLag = .now
                    try measureLag(connection)
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

    private func measureLag(_ redis: RedisConnection) throws {
        var commands: [[String]] = []
        for queue in queues {
            commands.append(["XRANGE", queue.stream, "-", "+", "COUNT", "1"])
            commands.append(["XLEN", queue.stream])
            commands.append(["ZCARD", queue.retry])
        }
        commands.append(["XLEN", settings.deadLetterStream])
        let replies = try redis.pipeline(commands)
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        var figures: [String: QueueFigures] = [:]
        for (i, queue) in queues.enumerated() {
            let oldest = StreamReplies.range(replies[3 * i]).first?.millisecondsSinceEpoch
            let lag = oldest.map { max(0, Double(nowMs - $0) / 1000) } ?? 0
            metrics.lag(queue: queue.queue, seconds: lag)
            figures[queue.queue] = QueueFigures(length: replies[3 * i + 1].integer ?? 0, retrying: replies[3 * i + 2].integer ?? 0,
                                                lagSeconds: lag)
        }
        lags.update(figures, deadLetters: replies.last?.integer ?? 0)
    }
}

/// A queue's figures as last measured by the housekeeper.
public struct QueueFigures: Sendable, Equatable {
    /// Entries in the stream: jobs not finished yet.
    public let length: Int64
    /// Jobs waiting for a retry.
    public let retrying: Int64
    /// Age of the oldest unfinished job, in seconds.
    public let lagSeconds: Double
}

/// The latest queue figures, shared with the HTTP endpoint.
public final class LagBoard: Sendable {
    private let state = Mutex<(queues: [String: QueueFigures], dead: Int64, at: Date?)>(([:], 0, nil))

    init() {}

    func update(_ queues: [String: QueueFigures], deadLetters: Int64) {
        state.withLock { $0 = (queues, deadLetters, Date()) }
    }

    /// The figures per queue, the dead-letter count and when they were measured.
    public var snapshot: (queues: [String: QueueFigures], deadLetters: Int64, measuredAt: Date?) {
        state.withLock { ($0.queues, $0.dead, $0.at) }
    }
}

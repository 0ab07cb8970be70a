import Foundation
import RedisClient
import RelaisDomain
import Synchronization

/// What operators steer through Redis, so that every instance obeys: paused queues,
/// and the instances that are alive.
///
/// A queue is paused by a field in the hash `<prefix>:paused` (the queue's name, with
/// when it was paused). Every instance's housekeeper reads the hash several times a
/// second; a paused queue's consumers read nothing new, claim nothing, and leave a batch
/// read just before the pause pending, to be handled after the resume. Retries still
/// move to the stream when due, and wait there.
///
/// Each instance's housekeeper writes its name and the time to the sorted set
/// `<prefix>:instances` every second: an instance not seen for `instanceTimeout` is gone.
public enum QueueControl {
    /// An instance not seen for this long is gone; its consumers no longer count as
    /// live, and are removed from their group once they hold no entry.
    public static let instanceTimeout: Duration = .seconds(15)

    /// Pauses `queue` on every instance. Returns false when it was already paused (and
    /// keeps the time of the first pause).
    @discardableResult
    public static func pause(_ redis: RedisConnection, settings: QueueSettings, queue: String, at date: Date = Date()) throws -> Bool {
        try redis.command("HSETNX", settings.pausedKey, queue, Timestamp(date).description).integer == 1
    }

    /// Resumes `queue` on every instance. Returns false when it was not paused.
    @discardableResult
    public static func resume(_ redis: RedisConnection, settings: QueueSettings, queue: String) throws -> Bool {
        try redis.command("HDEL", settings.pausedKey, queue).integer == 1
    }

    /// The paused queues, with when each was paused (ISO-8601).
    public static func paused(_ redis: RedisConnection, settings: QueueSettings) throws -> [String: String] {
        pairs(try redis.command("HGETALL", settings.pausedKey))
    }

    /// The instances seen within `instanceTimeout`, with when each was last seen.
    public static func liveInstances(_ redis: RedisConnection, settings: QueueSettings, now: Date = Date()) throws -> [String: Date] {
        let since = Int64((now.timeIntervalSince1970 - instanceTimeout.seconds) * 1000)
        let reply = try redis.command("ZRANGE", settings.instancesKey, String(since), "+inf", "BYSCORE", "WITHSCORES")
        return pairs(reply).compactMapValues { Double($0).map { Date(timeIntervalSince1970: $0 / 1000) } }
    }

    /// Field/value pairs of HGETALL or ZRANGE … WITHSCORES.
    static func pairs(_ reply: RedisReply) -> [String: String] {
        let flat = reply.elements
        var out: [String: String] = [:]
        var i = 0
        while i + 1 < flat.count {
            if let key = flat[i].string, let value = flat[i + 1].string { out[key] = value }
            i += 2
        }
        return out
    }

    /// Removes `ARGV[2]` from the group `ARGV[1]` of stream `KEYS[1]`, only if it holds no
    /// entry: deleting a consumer drops its pending entries from the group, which would
    /// lose them. Returns 1 if removed, 0 if it held entries or was already gone.
    static let removeIdleConsumerScript = """
        local held = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
        if #held > 0 then return 0 end
        return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) >= 0 and 1 or 0
        """
}

extension QueueSettings {
    /// The hash of paused queues: `<prefix>:paused`.
    public var pausedKey: String { "\(prefix):paused" }
    /// The sorted set of instances by when each was last seen: `<prefix>:instances`.
    public var instancesKey: String { "\(prefix):instances" }
}

/// The paused queues as this instance last read them, shared with its consumers.
final class PauseBoard: Sendable {
    private let paused = Mutex<[String: String]>([:])

    func update(_ queues: [String: String]) { paused.withLock { $0 = queues } }

    func isPaused(_ queue: String) -> Bool { paused.withLock { $0[queue] != nil } }

    var snapshot: [String: String] { paused.withLock { $0 } }
}

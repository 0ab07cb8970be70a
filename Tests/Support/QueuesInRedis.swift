import Foundation
import RedisClient

/// Relais's queues as they lie in Redis under a key prefix, found by scanning the prefix
/// rather than from a list: each queue is a stream `<prefix>:<queue>` with a retry set
/// `<prefix>:<queue>:retry`, and `<prefix>:dead` holds the dead letters. A test that
/// waits for "every queue" then waits for a queue added later too.
public enum QueuesInRedis {
    /// Whether nothing is left to do under `prefix`: every stream but the dead letters
    /// empty with nothing pending for `group`, and every retry set empty.
    public static func drained(prefix: String, group: String = "relais", redis: RedisConnection) throws -> Bool {
        let keys = try self.keys(prefix: prefix, redis: redis)
        let types = try redis.pipeline(keys.map { ["TYPE", $0] }).map { $0.string ?? "" }
        for (key, type) in zip(keys, types) {
            switch type {
            case "stream" where key != "\(prefix):dead":
                let replies = try redis.pipeline([["XLEN", key], ["XPENDING", key, group]])
                guard replies[0].integer == 0 else { return false }
                // A stream without the group has had no consumer: nothing of it is pending.
                if case .error = replies[1] { continue }
                guard replies[1].elements.first?.integer == 0 else { return false }
            case "zset" where key.hasSuffix(":retry"):
                guard try redis.command("ZCARD", key).integer == 0 else { return false }
            default:
                continue
            }
        }
        return true
    }

    /// Every key under `prefix:` (SCAN, so a busy server is not held).
    public static func keys(prefix: String, redis: RedisConnection) throws -> [String] {
        var cursor = "0", keys: [String] = []
        repeat {
            let reply = try redis.command("SCAN", cursor, "MATCH", "\(prefix):*", "COUNT", "1000")
            cursor = reply.elements.first?.string ?? "0"
            keys += (reply.elements.dropFirst().first?.elements ?? []).compactMap(\.string)
        } while cursor != "0"
        return keys
    }
}

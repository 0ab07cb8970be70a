/// One entry of a Redis stream: its id and its field/value pairs.
public struct StreamEntry: Sendable, Equatable {
    /// The entry id, such as `1732780800000-0`.
    public let id: String
    /// The fields, or nil for an entry that is still pending but was deleted from the stream.
    public let fields: [String: [UInt8]]?

    /// Creates an entry.
    public init(id: String, fields: [String: [UInt8]]?) {
        self.id = id
        self.fields = fields
    }

    /// The milliseconds part of the id: when the entry was added.
    public var millisecondsSinceEpoch: Int64? {
        id.split(separator: "-").first.flatMap { Int64($0) }
    }

    /// Reads `[id, [field, value, …]]` as returned by XRANGE, XREADGROUP and XAUTOCLAIM.
    init?(reply: RedisReply) {
        let parts = reply.elements
        guard parts.count == 2, let id = parts[0].string else { return nil }
        self.id = id
        if case .array(let flat) = parts[1] {
            var fields: [String: [UInt8]] = [:]
            var i = 0
            while i + 1 < flat.count {
                if let key = flat[i].string, case .bulk(let value) = flat[i + 1] { fields[key] = value }
                i += 2
            }
            self.fields = fields
        } else {
            self.fields = nil
        }
    }
}

/// One line of the extended form of XPENDING.
public struct PendingEntry: Sendable, Equatable {
    /// The entry id.
    public let id: String
    /// The consumer that holds it.
    public let consumer: String
    /// Milliseconds since it was last delivered.
    public let idleMilliseconds: Int64
    /// How many times it was delivered.
    public let deliveries: Int64
}

/// Parsers for the replies of the stream commands.
public enum StreamReplies {
    /// Entries of the single stream read by XREADGROUP/XREAD; a nil reply (BLOCK timed out) is none.
    public static func readGroup(_ reply: RedisReply) -> [StreamEntry] {
        guard let stream = reply.elements.first else { return [] }
        let parts = stream.elements
        guard parts.count == 2 else { return [] }
        return parts[1].elements.compactMap(StreamEntry.init(reply:))
    }

    /// A flat `[field, value, …]` reply (an element of XINFO GROUPS or XINFO CONSUMERS)
    /// as a dictionary; later duplicates win.
    public static func fields(_ reply: RedisReply) -> [String: RedisReply] {
        let flat = reply.elements
        var out: [String: RedisReply] = [:]
        var i = 0
        while i + 1 < flat.count {
            if let key = flat[i].string { out[key] = flat[i + 1] }
            i += 2
        }
        return out
    }

    /// Entries of XRANGE/XREVRANGE.
    public static func range(_ reply: RedisReply) -> [StreamEntry] {
        reply.elements.compactMap(StreamEntry.init(reply:))
    }

    /// The cursor and the claimed entries of XAUTOCLAIM.
    public static func autoClaim(_ reply: RedisReply) -> (cursor: String, entries: [StreamEntry]) {
        let parts = reply.elements
        guard parts.count >= 2, let cursor = parts[0].string else { return ("0-0", []) }
        return (cursor, parts[1].elements.compactMap(StreamEntry.init(reply:)))
    }

    /// The lines of `XPENDING key group [IDLE ms] start end count [consumer]`.
    public static func pending(_ reply: RedisReply) -> [PendingEntry] {
        reply.elements.compactMap { line in
            let f = line.elements
            guard f.count == 4, let id = f[0].string, let consumer = f[1].string,
                  let idle = f[2].integer, let deliveries = f[3].integer else { return nil }
            return PendingEntry(id: id, consumer: consumer, idleMilliseconds: idle, deliveries: deliveries)
        }
    }
}

import Foundation
import RedisClient
@testable import RelaisQueue
import RelaisTestSupport
import Testing

@Suite("Queue control: pauses, instances, the dead-letter tally, gone consumers", .serialized)
struct QueueControlTests {
    private func letter(_ redis: RedisConnection, _ stream: String, queue: String, code: String) throws -> String {
        try redis.command("XADD", stream, "*", "queue", queue, "code", code, "reason", "r", "job", "{}").string!
    }

    /// The tally counts each letter once, in steps no bigger than its budget, and counts
    /// again when letters leave the stream.
    @Test func theTallyCountsByQueueAndCodeAndFollowsLettersThatLeave() throws {
        let prefix = TestServers.makePrefix()
        let stream = "\(prefix):dead"
        try TestServers.withRedis { (redis: RedisConnection) throws in
            var tally = DeadLetterTally()
            try tally.step(redis, stream: stream, budget: 10)
            #expect(tally.counts.isEmpty)
            var ids: [String] = []
            for n in 0..<25 { ids.append(try letter(redis, stream, queue: n < 20 ? "orders" : "stock", code: n % 2 == 0 ? "invalid_field" : "unknown_type")) }
            try tally.step(redis, stream: stream, budget: 10)
            try tally.step(redis, stream: stream, budget: 10)
            #expect(tally.counts.isEmpty, "published before the reading reached the end")
            try tally.step(redis, stream: stream, budget: 10)
            let orders = DeadLetterKind(queue: "orders", code: "invalid_field")
            #expect(tally.counts[orders] == 10 && tally.counts[DeadLetterKind(queue: "stock", code: "unknown_type")] == 2)
            #expect(tally.counts.values.reduce(0, +) == 25)

            // New letters are added to the counts; letters deleted make it count again.
            _ = try letter(redis, stream, queue: "pickups", code: "invalid_field")
            try tally.step(redis, stream: stream, budget: 100)
            #expect(tally.counts[DeadLetterKind(queue: "pickups", code: "invalid_field")] == 1)
            try redis.command(arguments: ["XDEL", stream] + ids.prefix(4))
            try tally.step(redis, stream: stream, budget: 100)  // finds fewer letters than it counted
            try tally.step(redis, stream: stream, budget: 100)  // counts again
            #expect(tally.counts[orders] == 8 && tally.counts.values.reduce(0, +) == 22, "\(tally.counts)")
        }
    }

    @Test func aConsumerNameNamesItsInstance() {
        #expect(Housekeeper.instance(ofConsumer: "alpha-orders-1", queue: "orders") == "alpha")
        #expect(Housekeeper.instance(ofConsumer: "web-1.eu-orders-12", queue: "orders") == "web-1.eu")
        #expect(Housekeeper.instance(ofConsumer: "alpha-stock-1", queue: "orders") == nil)
        #expect(Housekeeper.instance(ofConsumer: "-orders-1", queue: "orders") == nil)
        #expect(Housekeeper.instance(ofConsumer: "alpha-orders-x", queue: "orders") == nil)
        #expect(Housekeeper.instance(ofConsumer: "ghost", queue: "orders") == nil)
    }

    /// A consumer that still holds an entry is never removed: removing it would drop the
    /// entry from the group.
    @Test func aGoneConsumerIsRemovedOnlyOnceItHoldsNothing() throws {
        let prefix = TestServers.makePrefix()
        let stream = "\(prefix):orders"
        try TestServers.withRedis { (redis: RedisConnection) throws in
            try redis.command("XGROUP", "CREATE", stream, "relais", "0", "MKSTREAM")
            try redis.command("XADD", stream, "*", "job", "{}")
            try redis.command("XREADGROUP", "GROUP", "relais", "gone-orders-1", "COUNT", "1", "STREAMS", stream, ">")
            let script = QueueControl.removeIdleConsumerScript
            #expect(try redis.command("EVAL", script, "1", stream, "relais", "gone-orders-1").integer == 0)
            #expect(try redis.command("XPENDING", stream, "relais").elements.first?.integer == 1)
            let id = StreamReplies.range(try redis.command("XRANGE", stream, "-", "+")).first!.id
            try redis.command("XACK", stream, "relais", id)
            #expect(try redis.command("EVAL", script, "1", stream, "relais", "gone-orders-1").integer == 1)
            #expect(try redis.command("XINFO", "CONSUMERS", stream, "relais").elements.isEmpty)
        }
    }

    @Test func pausingIsKeptInRedisWithItsFirstTime() throws {
        var settings = QueueSettings()
        settings.prefix = TestServers.makePrefix()
        try TestServers.withRedis { (redis: RedisConnection) throws in
            #expect(try QueueControl.pause(redis, settings: settings, queue: "orders", at: Date(timeIntervalSince1970: 1_800_000_000)))
            #expect(try !QueueControl.pause(redis, settings: settings, queue: "orders"))
            #expect(try QueueControl.paused(redis, settings: settings) == ["orders": "2027-01-15T08:00:00.000000Z"])
            #expect(try QueueControl.resume(redis, settings: settings, queue: "orders"))
            #expect(try !QueueControl.resume(redis, settings: settings, queue: "orders"))
            #expect(try QueueControl.paused(redis, settings: settings).isEmpty)
        }
    }
}

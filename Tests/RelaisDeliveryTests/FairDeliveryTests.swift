import Foundation
import Logging
import PostgresClient
import RelaisDomain
import RelaisStore
import RelaisTestSupport
import Testing
@testable import RelaisDelivery

/// Turns across shops and rates, against the real PostgreSQL and a real HTTP gateway:
/// a shop's burst never holds back another shop, and no configured rate is exceeded.
@Suite struct FairDeliveryTests {
    /// Inserts `count` SMS of `shop` to `phone`, due from `secondsAgo` ago on, oldest first.
    static func insert(_ db: PgConnection, shop: String, phone: String, count: Int, secondsAgo: Double) throws {
        var facts = DeliveryWorkerTests.facts()
        facts.shopId = shop
        let json = String(decoding: try JSONEncoder().encode(facts), as: UTF8.self)
        try db.query("""
            INSERT INTO relais.outbox (order_id, recipient, channel, destination, template, facts, shop_id, next_attempt_at)
            SELECT 'o-' || $1 || '-' || n, 'customer', 'sms', $2, 'order-ready-customer', $3::json, $1,
                   now() - make_interval(secs => $4::float8) + n * interval '1 microsecond'
            FROM generate_series(1, $5::int) AS n
            """, [shop, phone, json, String(secondsAgo), String(count)], name: "insert burst")
    }

    @Test func aClaimTakesShopsInTurnAndGoesRoundThemFromClaimToClaim() throws {
        let database = try TestServers.makeDatabase()
        try TestServers.withDatabase(database) { db in
            try Self.insert(db, shop: "a", phone: "+33600000001", count: 100, secondsAgo: 60)
            try Self.insert(db, shop: "b", phone: "+33600000002", count: 1, secondsAgo: 1)
            try Self.insert(db, shop: "c", phone: "+33600000003", count: 2, secondsAgo: 1)
        }
        let outbox = try Outbox(databaseURL: database)
        defer { outbox.close() }
        let first = try outbox.claim(channel: .sms, limit: 6, lease: .seconds(60))
        #expect(first.map(\.facts.shopId) == ["a", "b", "c", "a", "c", "a"], "one message per shop per turn")
        // The next claim starts after the last shop served: a, then c, whose second is gone.
        let second = try outbox.claim(channel: .sms, limit: 4, lease: .seconds(60))
        #expect(second.map(\.facts.shopId) == ["a", "a", "a", "a"])
        let limited = try outbox.claim(channel: .sms, limit: 10, lease: .seconds(60)) { $0 == "a" ? 2 : .max }
        #expect(limited.map(\.facts.shopId) == ["a", "a"], "a shop gets no more than its quota")
        let none = try outbox.claim(channel: .sms, limit: 10, lease: .seconds(60)) { _ in 0 }
        #expect(none.isEmpty)
    }

    @Test func aThousandSMSOfOneShopDoNotHoldBackAnotherShopsOne() throws {
        let database = try TestServers.makeDatabase()
        let gateway = try HttpSink()
        defer { gateway.stop() }
        try TestServers.withDatabase(database) { db in
            try Self.insert(db, shop: "shop-a", phone: "+33600000001", count: 1000, secondsAgo: 10)
            try Self.insert(db, shop: "shop-b", phone: "+33600000002", count: 1, secondsAgo: 1)
        }
        var settings = DeliverySettings()
        settings.sms = .init(url: gateway.url("/sms"), token: "tok")
        let worker = try DeliveryWorkerTests.worker(.sms, database, settings)
        defer { worker.stop() }
        let sent = eventually(timeout: .seconds(60), every: .milliseconds(50)) {
            gateway.requests(path: "/sms").contains { $0.body.contains("+33600000002") }
        }
        try #require(sent, "shop B's SMS never reached the gateway")
        let order = gateway.requests(path: "/sms").sorted { $0.at < $1.at }
        let position = try #require(order.firstIndex { $0.body.contains("+33600000002") })
        // B's message is the second handed out; the four connections send at once, so up
        // to a round of A's on the other connections (and the next, while B's connection is
        // being set up) can reach the gateway first: fewer than two rounds, never the burst.
        #expect(position < 2 * (settings.connections[.sms] ?? 4), "shop B's SMS went out after \(position) of shop A's")
    }

    @Test func aChannelRateIsNeverExceededOverSeveralConnections() throws {
        let database = try TestServers.makeDatabase()
        let gateway = try HttpSink()
        defer { gateway.stop() }
        try TestServers.withDatabase(database) { db in
            for (index, shop) in ["a", "b", "c"].enumerated() {
                try Self.insert(db, shop: shop, phone: "+3360000000\(index)", count: 20, secondsAgo: 5)
            }
        }
        var settings = DeliverySettings()
        settings.sms = .init(url: gateway.url("/sms"), token: "tok")
        settings.connections[.sms] = 4
        settings.rates[.sms] = 20
        let worker = try DeliveryWorkerTests.worker(.sms, database, settings)
        defer { worker.stop() }
        try #require(eventually(timeout: .seconds(30), every: .milliseconds(50)) { gateway.requests(path: "/sms").count == 60 },
                     "\(gateway.requests(path: "/sms").count) of 60 sent")
        let times = gateway.requests(path: "/sms").map(\.at).sorted()
        #expect(busiestSecond(times) <= 21, "a second held \(busiestSecond(times)) sends at 20/s")
        let peers = Set(gateway.requests(path: "/sms").map(\.peer))
        #expect(peers.count <= 4, "60 sends over \(peers.count) connections: each of the 4 is reused")
        // 60 sends spaced 50 ms apart take 2.95 s: far faster would mean the rate was not applied.
        #expect(times.last! - times.first! >= 2.8, "60 sends in \(times.last! - times.first!) s")
    }

    @Test func aShopRateHoldsBackOnlyThatShop() throws {
        let database = try TestServers.makeDatabase()
        let gateway = try HttpSink()
        defer { gateway.stop() }
        try TestServers.withDatabase(database) { db in
            try Self.insert(db, shop: "busy", phone: "+33600000001", count: 15, secondsAgo: 5)
            try Self.insert(db, shop: "calm", phone: "+33600000002", count: 3, secondsAgo: 1)
        }
        var settings = DeliverySettings()
        settings.sms = .init(url: gateway.url("/sms"), token: "tok")
        settings.shopRates[.sms] = 5
        let worker = try DeliveryWorkerTests.worker(.sms, database, settings)
        defer { worker.stop() }
        try #require(eventually(timeout: .seconds(30), every: .milliseconds(50)) { gateway.requests(path: "/sms").count == 18 },
                     "\(gateway.requests(path: "/sms").count) of 18 sent")
        let requests = gateway.requests(path: "/sms")
        let busy = requests.filter { $0.body.contains("+33600000001") }.map(\.at).sorted()
        let calm = requests.filter { $0.body.contains("+33600000002") }.map(\.at).sorted()
        #expect(busiestSecond(busy) <= 6, "the busy shop sent \(busiestSecond(busy)) in one second at 5/s")
        #expect(busy.last! - busy.first! >= 2.6, "15 sends at 5/s take 2.8 s, not \(busy.last! - busy.first!)")
        // The calm shop's three go out at its own pace (0.4 s), not after the busy shop's fifteen.
        #expect(calm.last! < busy.first! + 1.5, "the calm shop waited behind the busy one")
    }
}

/// The pace under a rate, without servers.
@Suite struct PaceTests {
    @Test func slotsAreSpacedOneOverTheRateApartAndNeverBeforeNow() throws {
        var pace = try #require(Pace(perSecond: 4))
        let start = ContinuousClock.now
        let slots = (0..<4).map { _ in pace.reserve(now: start) }
        #expect(slots.map { $0 - start } == [.zero, .milliseconds(250), .milliseconds(500), .milliseconds(750)])
        // After a quiet while, the next slot is now, not a backlog of missed ones.
        let later = start + .seconds(10)
        #expect(pace.reserve(now: later) == later)
        #expect(pace.reserve(now: later) == later + .milliseconds(250))
    }

    @Test func freeSlotsCountUpToTheHorizon() throws {
        var pace = try #require(Pace(perSecond: 5))
        let now = ContinuousClock.now
        #expect(pace.free(now: now, horizon: now + .seconds(1)) == 6, "now, then every 200 ms up to 1 s included")
        for _ in 0..<6 { _ = pace.reserve(now: now) }
        #expect(pace.free(now: now, horizon: now + .seconds(1)) == 0)
    }

    @Test(arguments: [0, -1, Double.nan, Double.infinity])
    func noPaceWithoutAPositiveRate(rate: Double) {
        #expect(Pace(perSecond: rate) == nil)
    }
}

/// The queue between a channel's worker and its connections, without servers.
@Suite struct SendQueueTests {
    static func entry(_ id: Int64, shop: String, notBefore: ContinuousClock.Instant = .now) -> SendQueue.Entry {
        var facts = DeliveryWorkerTests.facts()
        facts.shopId = shop
        return SendQueue.Entry(message: OutboxMessage(id: id, orderId: "o-\(id)", recipient: .customer, channel: .sms,
                                                      destination: "+33600000000", template: "order-ready-customer",
                                                      facts: facts, attempt: 1),
                               notBefore: notBefore, leased: .now)
    }

    @Test func aShopQueuedLaterTakesTheNextTurnNotTheEndOfTheLine() {
        let queue = SendQueue()
        queue.push((1...50).map { Self.entry($0, shop: "a") })
        #expect(queue.take()?.id == 1)
        queue.push([Self.entry(100, shop: "b"), Self.entry(101, shop: "b")])
        #expect((0..<4).compactMap { _ in queue.take()?.id } == [100, 2, 101, 3], "b's first goes next, then turns")
        #expect(queue.count == 47)
        #expect(queue.close().map(\.id) == Array(4...50))
        #expect(queue.take() == nil, "a closed queue hands out nothing")
    }

    @Test func aShopWaitingForItsSlotDoesNotHoldBackTheNext() {
        let queue = SendQueue()
        queue.push([Self.entry(1, shop: "slow", notBefore: .now + .seconds(60)), Self.entry(2, shop: "quick")])
        #expect(queue.take()?.id == 2)
        #expect(queue.count == 1)
    }
}

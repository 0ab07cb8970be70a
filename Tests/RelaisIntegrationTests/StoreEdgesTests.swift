import Foundation
import PostgresClient
import RelaisDomain
import RelaisQueue
import RelaisStore
import RelaisTestSupport
import Testing

@Suite("The store at the edges: lock timeouts, pruning in chunks, ids compared by bytes", .serialized)
struct StoreEdgesTests {
    /// A lock timeout is not the jobs' fault: the whole batch goes to its retry schedule
    /// after one lock timeout, instead of one transaction per job each waiting its own.
    @Test func aLockTimeoutHandsTheBatchBackInsteadOfSplittingIt() throws {
        let url = try TestServers.makeDatabase()
        let processor = try StockProcessor(conninfo: url, queue: "stock", lockTimeout: "300ms")
        defer { processor.close() }
        _ = try processor.process([try adjustJob("warm", shop: "s1", sku: "a", delta: 1)])
        let holder = try PgConnection(url)
        defer { holder.close() }
        try holder.execute("BEGIN; LOCK TABLE relais.stock_items IN ACCESS EXCLUSIVE MODE", name: "hold")

        let jobs = try (1...20).map { try adjustJob("j\($0)", shop: "s1", sku: "a", delta: 1) }
        let started = ContinuousClock.now
        let outcomes = try processor.process(jobs)
        let took = ContinuousClock.now - started
        #expect(outcomes.allSatisfy { if case .retry(let reason) = $0 { reason.contains("55P03") } else { false } }, "\(outcomes)")
        #expect(took < .seconds(3), "one lock timeout, not one per job: \(took)")

        try holder.execute("ROLLBACK", name: "release")
        let processorAfter = try StockProcessor(conninfo: url, queue: "stock")
        defer { processorAfter.close() }
        #expect(try processorAfter.process(jobs) == Array(repeating: .done, count: 20), "nothing of the batch took effect before")
        #expect(try stock(url, shop: "s1")["a"]?.first == 21)
    }

    /// Pruning deletes chunk by chunk and stops between chunks when asked.
    @Test func pruningGoesChunkByChunkAndStopsBetweenChunks() throws {
        let url = try TestServers.makeDatabase()
        try TestServers.withDatabase(url) { db in
            try db.execute("""
                INSERT INTO relais.processed_jobs (queue, job_id, job_type, processed_at)
                SELECT 'stock', 'old-' || n, 'stock.adjust', now() - interval '40 days' FROM generate_series(1, 12) n;
                INSERT INTO relais.processed_jobs (queue, job_id, job_type, processed_at) VALUES ('stock', 'recent', 'stock.adjust', now())
                """, name: "seed")
            var chunks = 0
            let stopped = try Maintenance.prune(db, retention: "30 days", chunk: 5, isStopping: { chunks += 1; return chunks > 1 })
            #expect(stopped.ledger == 5, "one chunk, then the stop request")
            let rest = try Maintenance.prune(db, retention: "30 days", chunk: 5)
            #expect(rest.ledger == 7)
            #expect(try db.query("SELECT job_id FROM relais.processed_jobs", name: "left").rows.map { $0[0] } == ["recent"])
        }
    }

    /// Order ids that Swift's `String` takes for equal (canonically equivalent) are
    /// different ids to PostgreSQL, and to Relais.
    @Test func canonicallyEquivalentOrderIdsAreDifferentOrders() throws {
        let url = try TestServers.makeDatabase()
        let stockProcessor = try StockProcessor(conninfo: url, queue: "stock")
        defer { stockProcessor.close() }
        _ = try stockProcessor.process([try levelsJob("l", shop: "s1", at: "2026-11-28T08:00:00Z", [("pomme", 10)])])
        let processor = try OrderProcessor(conninfo: url, queue: "orders", channels: [.log])
        defer { processor.close() }
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        let outcomes = try processor.process([
            try placedJob("p-composed", order: composed, items: [("pomme", 1)]),
            try placedJob("p-decomposed", order: decomposed, items: [("pomme", 2)]),
        ])
        #expect(outcomes == [.done, .done])
        let orders = try TestServers.withDatabase(url) { db in
            try db.query("SELECT order_id FROM relais.order_status", name: "orders").rows.compactMap { $0[0] }
        }
        #expect(Set(orders.map { Array($0.utf8) }) == [Array(composed.utf8), Array(decomposed.utf8)])
        #expect(try stock(url, shop: "s1")["pomme"]?[1] == 3, "both orders reserve")
    }
}

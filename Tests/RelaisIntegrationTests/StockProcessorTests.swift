import Foundation
import Synchronization
import PostgresClient
import RelaisContract
import RelaisDomain
import RelaisJobs
import RelaisQueue
import RelaisStore
import RelaisTestSupport
import Testing

/// Builds validated stock jobs the way the engine hands them over.
func stockJob(_ id: String, _ type: String, _ data: String) throws -> QueuedJob<StockJob> {
    let payload = #"{"id":"\#(id)","type":"\#(type)","data":\#(data)}"#
    let envelope = try EnvelopeDecoder(StockCatalog.self).decode(Array(payload.utf8)).get()
    return QueuedJob(entryId: "0-1", envelope: envelope, attempt: 1)
}

func levelsJob(_ id: String, shop: String, at time: String, _ levels: [(String, Int)], complete: Bool = false) throws -> QueuedJob<StockJob> {
    let items = levels.map { #"{"sku":"\#($0.0)","on_hand":\#($0.1)}"# }.joined(separator: ",")
    return try stockJob(id, "stock.levels", #"{"shop_id":"\#(shop)","observed_at":"\#(time)","levels":[\#(items)],"complete":\#(complete)}"#)
}

func adjustJob(_ id: String, shop: String, sku: String, delta: Int, at: String = "2026-11-28T10:00:00Z") throws -> QueuedJob<StockJob> {
    try stockJob(id, "stock.adjust", #"{"shop_id":"\#(shop)","sku":"\#(sku)","delta":\#(delta),"at":"\#(at)"}"#)
}

/// A stock processor on a new migrated database, and that database's URL; the caller closes it.
func stockProcessorOnNewDatabase() throws -> (url: String, processor: StockProcessor) {
    let url = try TestServers.makeDatabase()
    return (url, try StockProcessor(conninfo: url, queue: "stock"))
}

/// `sku → on_hand` for a shop, read from the read model.
func onHand(_ url: String, shop: String) throws -> [String: Int] {
    try TestServers.withDatabase(url) { db throws in
        let rows = try db.query("SELECT sku, on_hand FROM relais.stock_available WHERE shop_id = $1", [shop], name: "read")
        return Dictionary(uniqueKeysWithValues: rows.rows.map { ($0[0]!, Int($0[1]!)!) })
    }
}

@Suite("Stock effects in a real PostgreSQL")
struct StockProcessorTests {
    @Test func olderObservationNeverOverwritesANewerOne() throws {
        let (url, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        #expect(try processor.process([try levelsJob("l1", shop: "s", at: "2026-11-28T10:00:00Z", [("a", 5), ("b", 1)])]) == [.done])
        #expect(try processor.process([try levelsJob("l2", shop: "s", at: "2026-11-28T09:00:00Z", [("a", 99)])]) == [.done])
        #expect(try onHand(url, shop: "s") == ["a": 5, "b": 1])
        #expect(try processor.process([try levelsJob("l3", shop: "s", at: "2026-11-28T11:00:00+01:00", [("a", 99)])]) == [.done])
        #expect(try onHand(url, shop: "s") == ["a": 5, "b": 1], "11:00+01:00 is 10:00Z: not newer")
        #expect(try processor.process([try levelsJob("l4", shop: "s", at: "2026-11-28T10:00:01Z", [("a", 7)])]) == [.done])
        #expect(try onHand(url, shop: "s") == ["a": 7, "b": 1])
    }

    @Test func completeSnapshotZeroesUnlistedSkusButNotNewerOnes() throws {
        let (url, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        _ = try processor.process([
            try levelsJob("l1", shop: "s", at: "2026-11-28T08:00:00Z", [("a", 5), ("b", 6)]),
            try levelsJob("l2", shop: "s", at: "2026-11-28T12:00:00Z", [("c", 7)]),
            try levelsJob("other", shop: "t", at: "2026-11-28T08:00:00Z", [("a", 3)]),
        ])
        _ = try processor.process([try levelsJob("snap", shop: "s", at: "2026-11-28T10:00:00Z", [("a", 1)], complete: true)])
        #expect(try onHand(url, shop: "s") == ["a": 1, "b": 0, "c": 7])
        #expect(try onHand(url, shop: "t") == ["a": 3], "another shop's stock is untouched")
    }

    @Test func adjustmentTakesEffectOnceWhateverTheRepeats() throws {
        let (url, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        let outcomes = try processor.process([
            try adjustJob("adj-1", shop: "s", sku: "a", delta: 5),
            try adjustJob("adj-1", shop: "s", sku: "a", delta: 5),
            try adjustJob("adj-2", shop: "s", sku: "a", delta: -2),
        ])
        #expect(outcomes == [.done, .duplicate, .done])
        #expect(try processor.process([try adjustJob("adj-1", shop: "s", sku: "a", delta: 5)]) == [.duplicate])
        #expect(try onHand(url, shop: "s") == ["a": 3])
    }

    /// A batch is first committed taking every job as new; one found in the ledger rolls
    /// it back, and the batch is done again applying only the new jobs.
    @Test func aBatchWithAJobDoneBeforeAppliesOnlyTheNewOnes() throws {
        let (url, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        #expect(try processor.process([try adjustJob("old", shop: "s", sku: "a", delta: 5)]) == [.done])
        let outcomes = try processor.process([
            try adjustJob("new-1", shop: "s", sku: "a", delta: 1),
            try adjustJob("old", shop: "s", sku: "a", delta: 5),
            try adjustJob("new-2", shop: "s", sku: "b", delta: 2),
        ])
        #expect(outcomes == [.done, .duplicate, .done])
        #expect(try onHand(url, shop: "s") == ["a": 6, "b": 2])
        let recorded = try TestServers.withDatabase(url) { db in
            try db.query("SELECT string_agg(job_id, ',' ORDER BY job_id) FROM relais.stock_adjustments", name: "t").scalar
        }
        #expect(recorded == "new-1,new-2,old", "each adjustment recorded once, none from the rolled-back attempt")
    }

    /// Everything of a stock transaction is queued until its COMMIT: ledger, locks,
    /// effects. Once its statements are prepared, a batch costs one round trip.
    @Test func aStockTransactionIsOneRoundTrip() throws {
        let (_, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        _ = try processor.process([try adjustJob("first", shop: "s", sku: "a", delta: 1),
                                   try levelsJob("first-count", shop: "s", at: "2026-11-28T09:00:00Z", [("b", 3)])])
        var before = processor.roundTrips
        #expect(try processor.process([try adjustJob("lone", shop: "s", sku: "a", delta: 1)]) == [.done])
        #expect(processor.roundTrips == before + 1, "a lone adjustment")
        before = processor.roundTrips
        #expect(try processor.process([try levelsJob("count", shop: "s", at: "2026-11-28T11:00:00Z", [("a", 5), ("b", 6)])]) == [.done])
        #expect(processor.roundTrips == before + 1, "an observation")
    }

    @Test func levelsAndAdjustmentsGiveTheSameStockInEitherOrder() throws {
        let (url, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        let count = { try levelsJob("count-\($0)", shop: $0, at: "2026-11-28T10:00:00Z", [("baguette", 40)]) }
        let sale = { try adjustJob("sale-\($0)", shop: $0, sku: "baguette", delta: -3, at: "2026-11-28T10:30:00Z") }
        let earlier = { try adjustJob("early-\($0)", shop: $0, sku: "baguette", delta: -5, at: "2026-11-28T09:00:00Z") }
        _ = try processor.process([try count("in-order")])
        _ = try processor.process([try sale("in-order"), try earlier("in-order")])
        _ = try processor.process([try sale("reversed"), try earlier("reversed")])
        _ = try processor.process([try count("reversed")])
        #expect(try onHand(url, shop: "in-order") == ["baguette": 37], "a sale after the count changes it; one before was counted")
        #expect(try onHand(url, shop: "reversed") == ["baguette": 37], "the count adds the sales made after it")
        let observed = try TestServers.withDatabase(url) { db in
            try db.query("SELECT observed_at = '2026-11-28T10:00:00Z' FROM relais.stock_items WHERE shop_id = 'reversed'", name: "t").scalar
        }
        #expect(observed == "t")
        try TestServers.withDatabase(url) { db throws in
            #expect(try StockMaintenance.prune(db, retention: "30 days", limit: 100) == 2, "the 09:00 adjustments are counted by the 10:00 observation")
        }
    }

    /// An observation statement looks adjustments up row by row only when its shops have
    /// some made after its earliest observation: here the later one belongs to the
    /// second shop and the earliest observation.
    @Test func adjustmentsAfterAnyObservationOfABatchAreCounted() throws {
        let (url, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        _ = try processor.process([try adjustJob("sale-y", shop: "y", sku: "a", delta: -3, at: "2026-11-28T09:30:00Z"),
                                   try adjustJob("sale-z", shop: "z", sku: "a", delta: -4, at: "2026-11-28T09:30:00Z")])
        _ = try processor.process([
            try levelsJob("x", shop: "x", at: "2026-11-28T10:00:00Z", [("a", 40)]),
            try levelsJob("y", shop: "y", at: "2026-11-28T09:00:00Z", [("a", 40), ("b", 40)]),
        ])
        #expect(try onHand(url, shop: "x") == ["a": 40])
        #expect(try onHand(url, shop: "y") == ["a": 37, "b": 40], "the 09:30 sale came after the 09:00 count")
        _ = try processor.process([try levelsJob("z", shop: "z", at: "2026-11-28T10:00:00Z", [("a", 40)])])
        #expect(try onHand(url, shop: "z") == ["a": 40], "the 09:30 sale was counted at 10:00")
    }

    @Test func observationTimesAreStoredToTheExactMicrosecond() throws {
        let (url, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        _ = try processor.process([
            try levelsJob("t1", shop: "t1", at: "2056-06-25T04:41:05.206Z", [("a", 1)]),
            try levelsJob("t2", shop: "t2", at: "2046-03-01T06:06:18.865853Z", [("a", 1)]),
            try levelsJob("t3", shop: "t3", at: "2045-11-25T00:52:20.831-12:00", [("a", 1)]),
            // Past 2255 the count of microseconds no longer fits a double exactly.
            try levelsJob("t4", shop: "t4", at: "2266-05-10T07:13:49.857915Z", [("a", 1)]),
        ])
        let rows = try TestServers.withDatabase(url) { db in
            try db.query("SET TIME ZONE 'UTC'; ", name: "tz")
            return try db.query("SELECT shop_id, to_char(observed_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US') FROM relais.stock_items ORDER BY shop_id", name: "t").rows
        }
        #expect(rows == [["t1", "2056-06-25T04:41:05.206000"], ["t2", "2046-03-01T06:06:18.865853"], ["t3", "2045-11-25T12:52:20.831000"],
                         ["t4", "2266-05-10T07:13:49.857915"]])
    }

    @Test func catalogueOfTenThousandSkusIsAppliedInOneJob() throws {
        let (url, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        let levels = (0..<10_000).map { ("sku-\($0)", $0 % 50) }
        #expect(try processor.process([try levelsJob("cat", shop: "big", at: "2026-11-28T10:00:00Z", levels)]) == [.done])
        let stock = try onHand(url, shop: "big")
        #expect(stock.count == 10_000)
        #expect(stock["sku-9999"] == 9999 % 50)
    }

    /// A level and an adjustment of one SKU are never computed side by side: a job waits
    /// while another transaction holds its SKU's lock, or its whole shop's, and a job of
    /// another SKU does not. (Held here by hand, as a transaction in flight would hold it.)
    @Test func aJobWaitsForTheLockOfItsSkuOrShopAndOnlyThat() throws {
        let url = try TestServers.makeDatabase()
        let processor = try StockProcessor(conninfo: url, queue: "stock", lockTimeout: "200ms")
        defer { processor.close() }
        func isLockTimeout(_ outcomes: [JobOutcome]) -> Bool {
            if case .retry(let reason) = outcomes.first { return reason.contains("55P03") }
            return false
        }
        try TestServers.withDatabase(url) { holder throws in
            try holder.execute("BEGIN", name: "begin")
            try holder.query("SELECT pg_advisory_xact_lock($1::int4, hashtext('s/a'))",
                             [String(StockLocks.Lock.Scope.sku.rawValue)], name: "hold sku")
            #expect(isLockTimeout(try processor.process([try levelsJob("level-a", shop: "s", at: "2026-11-28T10:00:00Z", [("a", 5)])])))
            #expect(isLockTimeout(try processor.process([try adjustJob("adjust-a", shop: "s", sku: "a", delta: 1)])))
            #expect(try processor.process([try adjustJob("adjust-b", shop: "s", sku: "b", delta: 1)]) == [.done])
            try holder.execute("ROLLBACK", name: "rollback")

            try holder.execute("BEGIN", name: "begin")
            try holder.query("SELECT pg_advisory_xact_lock($1::int4, hashtext('s'))",
                             [String(StockLocks.Lock.Scope.shop.rawValue)], name: "hold shop")
            #expect(isLockTimeout(try processor.process([try adjustJob("adjust-c", shop: "s", sku: "c", delta: 1)])))
            #expect(try processor.process([try adjustJob("adjust-t", shop: "t", sku: "c", delta: 1)]) == [.done])
            try holder.execute("ROLLBACK", name: "rollback")
        }
        #expect(try processor.process([try levelsJob("level-a", shop: "s", at: "2026-11-28T10:00:00Z", [("a", 5)])]) == [.done])
        #expect(try processor.process([try adjustJob("adjust-c", shop: "s", sku: "c", delta: 1)]) == [.done])
        #expect(try onHand(url, shop: "s") == ["a": 5, "b": 1, "c": 1])
    }

    /// The same job read by two consumers at once (enqueued twice): the second waits
    /// for the first's ledger row, and once that commits, its job is a duplicate and has
    /// no effect. (The first is held here by hand.)
    @Test func aJobRecordedByAnotherConsumerMeanwhileIsADuplicate() throws {
        let url = try TestServers.makeDatabase()
        let job = try adjustJob("twice", shop: "s", sku: "a", delta: 1)
        let outcomes = Mutex<[JobOutcome]?>(nil)
        let finished = DispatchSemaphore(value: 0)
        try TestServers.withDatabase(url) { holder throws in
            try holder.execute("BEGIN", name: "begin")
            try holder.query("INSERT INTO relais.processed_jobs (queue, job_id, job_type) VALUES ('stock', 'twice', 'stock.adjust')",
                             name: "first consumer's ledger row")
            Thread.detachNewThread {
                let result = Result { () throws -> [JobOutcome] in
                    let processor = try StockProcessor(conninfo: url, queue: "stock")
                    defer { processor.close() }
                    return try processor.process([job])
                }
                outcomes.withLock { $0 = (try? result.get()) ?? [.retry(reason: "threw")] }
                finished.signal()
            }
            // The second reading is seen waiting for the first's lock, not merely slow to start.
            // Read on connections of its own: a transaction sees one snapshot of pg_stat_activity.
            let blocked = try eventually(timeout: .seconds(10)) {
                try TestServers.withDatabase(url) { db throws in
                    try db.query("""
                        SELECT count(*) FROM pg_stat_activity
                        WHERE datname = current_database() AND wait_event_type = 'Lock'
                        """, name: "waiting").rows.first?[0] == "1"
                }
            }
            #expect(blocked, "the second reading must wait for the first")
            #expect(finished.wait(timeout: .now()) == .timedOut, "it has not finished while the first holds its row")
            try holder.execute("COMMIT", name: "commit")
        }
        #expect(finished.wait(timeout: .now() + 10) == .success)
        #expect(outcomes.withLock { $0 } == [.duplicate])
        #expect(try onHand(url, shop: "s") == [:])
    }

    @Test func lockedRowMakesTheJobRetryLaterInsteadOfWaiting() throws {
        let url = try TestServers.makeDatabase()
        let processor = try StockProcessor(conninfo: url, queue: "stock", lockTimeout: "200ms")
        defer { processor.close() }
        _ = try processor.process([try adjustJob("seed", shop: "s", sku: "a", delta: 1)])
        try TestServers.withDatabase(url) { holder throws in
            try holder.execute("BEGIN", name: "begin")
            try holder.query("SELECT * FROM relais.stock_items WHERE shop_id = 's' FOR UPDATE", name: "lock")
            let outcomes = try processor.process([try adjustJob("blocked", shop: "s", sku: "a", delta: 1)])
            guard case .retry(let reason) = outcomes.first else {
                Issue.record("expected a retry, got \(outcomes)")
                return
            }
            #expect(reason.contains("55P03"))
            try holder.execute("ROLLBACK", name: "rollback")
        }
        #expect(try processor.process([try adjustJob("blocked", shop: "s", sku: "a", delta: 1)]) == [.done],
                "the retried job was not recorded as processed the first time")
        #expect(try onHand(url, shop: "s") == ["a": 2])
    }

    @Test func brokenDatabaseKeepsTheJobsInsteadOfDeadLetteringThem() throws {
        let (url, processor) = try stockProcessorOnNewDatabase()
        defer { processor.close() }
        _ = try TestServers.withDatabase(url) { try $0.execute("DROP TABLE relais.stock_adjustments", name: "break") }
        #expect(throws: PgError.self, "a missing table is the database's fault: the batch must stay pending") {
            _ = try processor.process([try adjustJob("kept", shop: "s", sku: "a", delta: 1)])
        }
    }

    @Test func processorRefusesASchemaThatIsBehind() throws {
        let url = try TestServers.makeDatabase(migrated: false)
        #expect(throws: MigrationError.self) { _ = try StockProcessor(conninfo: url, queue: "stock") }
    }
}

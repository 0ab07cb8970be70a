import RelaisDomain
import Testing

private func t(_ hour: Int) -> Timestamp { Timestamp(microseconds: Int64(hour) * 3_600_000_000) }

private func levels(_ shop: String, at hour: Int, _ items: [(String, Int64)], complete: Bool = false) -> StockJob {
    .levels(StockLevels(shopId: shop, observedAt: t(hour), levels: items.map { StockLevel(sku: $0.0, onHand: $0.1) }, complete: complete))
}

private func adjust(_ shop: String, _ sku: String, _ delta: Int64) -> StockJob {
    .adjust(StockAdjustment(shopId: shop, sku: sku, delta: delta, reason: nil, at: t(0)))
}

private func change(_ shop: String, _ sku: String, _ delta: Int64, _ id: String) -> StockChange {
    StockChange(shopId: shop, sku: sku, delta: delta, at: t(0), jobId: id)
}

/// Gives each job an id, `j0`, `j1`, … in order.
private func plan(_ jobs: [StockJob]) -> [StockStep] {
    StockPlan.steps(for: jobs.enumerated().map { ("j\($0.offset)", $0.element) })
}

@Suite("Stock plan")
struct StockPlanTests {
    @Test func newestObservationOfASkuWinsWithinABatch() {
        let steps = plan([levels("s", at: 2, [("a", 5)]), levels("s", at: 1, [("a", 9)]), levels("s", at: 3, [("b", 1)])])
        #expect(steps == [.observe([
            StockObservation(shopId: "s", sku: "a", onHand: 5, observedAt: t(2)),
            StockObservation(shopId: "s", sku: "b", onHand: 1, observedAt: t(3)),
        ])])
    }

    @Test func onATieTheFirstObservationStays() {
        let steps = plan([levels("s", at: 2, [("a", 5)]), levels("s", at: 2, [("a", 9)])])
        #expect(steps == [.observe([StockObservation(shopId: "s", sku: "a", onHand: 5, observedAt: t(2))])])
    }

    @Test func completeSnapshotIsItsOwnStepFollowedByZeroing() {
        let steps = plan([
            levels("s", at: 1, [("x", 1)]),
            levels("s", at: 2, [("a", 5)], complete: true),
            levels("s", at: 3, [("y", 2)]),
        ])
        #expect(steps == [
            .observe([StockObservation(shopId: "s", sku: "x", onHand: 1, observedAt: t(1))]),
            .observe([StockObservation(shopId: "s", sku: "a", onHand: 5, observedAt: t(2))]),
            .zeroUnlisted(shopId: "s", listed: ["a"], observedAt: t(2)),
            .observe([StockObservation(shopId: "s", sku: "y", onHand: 2, observedAt: t(3))]),
        ])
    }

    @Test func consecutiveAdjustmentsMakeOneStepKeepingEachChange() {
        let steps = plan([adjust("s", "a", 3), adjust("s", "b", 1), adjust("s", "a", -1)])
        #expect(steps == [.adjust([change("s", "a", 3, "j0"), change("s", "a", -1, "j2"), change("s", "b", 1, "j1")])])
    }

    @Test func levelsAndAdjustmentsKeepTheirArrivalOrder() {
        let steps = plan([adjust("s", "a", 3), levels("s", at: 1, [("a", 10)]), adjust("s", "a", -1)])
        #expect(steps == [
            .adjust([change("s", "a", 3, "j0")]),
            .observe([StockObservation(shopId: "s", sku: "a", onHand: 10, observedAt: t(1))]),
            .adjust([change("s", "a", -1, "j2")]),
        ])
    }

    @Test func rowsAreSortedByShopAndSkuSoLocksAreTakenInOneOrder() {
        let steps = plan([levels("z", at: 1, [("b", 1), ("a", 1)]), levels("m", at: 1, [("c", 1)])])
        guard case .observe(let rows) = steps.first else {
            Issue.record("expected an observe step, got \(steps)")
            return
        }
        #expect(rows.map { "\($0.shopId)/\($0.sku)" } == ["m/c", "z/a", "z/b"])
    }

    @Test func rowsAreOrderedByTheBytesOfShopAndSku() {
        let steps = plan([levels("cafe\u{301}", at: 1, [("b", 1)]), levels("caf\u{E9}", at: 1, [("a", 1)]),
                          levels("Z", at: 1, [("b", 1), ("B", 1)])])
        guard case .observe(let rows) = steps.first else {
            Issue.record("expected an observe step, got \(steps)")
            return
        }
        #expect(rows.map { Array("\($0.shopId)/\($0.sku)".utf8) }
                == ["Z/B", "Z/b", "cafe\u{301}/b", "caf\u{E9}/a"].map { Array($0.utf8) })
        #expect(StockPlan.rowOrder(("a", "b"), ("a", "b")) == 0)
        #expect(StockPlan.rowOrder(("a", "b"), ("a", "c")) < 0)
        #expect(StockPlan.rowOrder(("b", "a"), ("a", "c")) > 0)
        #expect(StockPlan.rowOrder(("a", "ab"), ("a", "a")) > 0, "a prefix comes first")
    }

    @Test func levelJobsOfOneShopMergeEachSkuToItsNewestObservation() {
        let steps = plan([
            levels("s", at: 2, [("a", 1), ("c", 1), ("e", 1)]),
            levels("t", at: 1, [("a", 7)]),
            levels("s", at: 3, [("b", 2), ("c", 2)]),
            levels("s", at: 1, [("a", 3), ("d", 3), ("e", 3)]),
            levels("s", at: 3, [("c", 4), ("e", 4)]),
        ])
        #expect(steps == [.observe([
            StockObservation(shopId: "s", sku: "a", onHand: 1, observedAt: t(2)),
            StockObservation(shopId: "s", sku: "b", onHand: 2, observedAt: t(3)),
            StockObservation(shopId: "s", sku: "c", onHand: 2, observedAt: t(3)),
            StockObservation(shopId: "s", sku: "d", onHand: 3, observedAt: t(1)),
            StockObservation(shopId: "s", sku: "e", onHand: 4, observedAt: t(3)),
            StockObservation(shopId: "t", sku: "a", onHand: 7, observedAt: t(1)),
        ])])
    }

    @Test func anObservationStepNamesEachOfItsShopsOnce() {
        let steps = plan([levels("z", at: 1, [("b", 1), ("a", 1)]), levels("m", at: 2, [("c", 1)]),
                          levels("caf\u{E9}", at: 1, [("a", 1)]), levels("cafe\u{301}", at: 1, [("a", 1)])])
        guard case .observe(let rows) = steps.first else {
            Issue.record("expected an observe step, got \(steps)")
            return
        }
        let shops = StockPlan.shops(of: rows)
        #expect(shops.count == 4)
        #expect(Set(shops.map { Array($0.utf8) }) == Set(["caf\u{E9}", "cafe\u{301}", "m", "z"].map { Array($0.utf8) }),
                "canonically equivalent names are two shops, as in PostgreSQL")
    }

    @Test func emptyBatchHasNoSteps() {
        #expect(plan([]).isEmpty)
    }
}

@Suite("Stock locks")
struct StockLocksTests {
    private func rows(_ shop: String, _ count: Int) -> [(shop: String, sku: String)] {
        (0..<count).map { (shop, "sku-\($0)") }
    }

    @Test func rowsAreLockedOneByOneUnderTheirShopShared() {
        let locks = StockLocks(rows: [("b", "x"), ("a", "y"), ("a", "x"), ("a", "x")]).locks
        #expect(locks == [
            .init(.everything, "", exclusive: false),
            .init(.shop, "a", exclusive: false), .init(.shop, "b", exclusive: false),
            .init(.sku, "a/x", exclusive: true), .init(.sku, "a/y", exclusive: true), .init(.sku, "b/x", exclusive: true),
        ])
    }

    @Test func aCatalogueOrACompleteSnapshotLocksItsShopWhole() {
        let locks = StockLocks(rows: rows("big", StockLocks.skusPerShop + 1) + [("small", "x"), ("full", "y")], wholeShops: ["full"]).locks
        #expect(locks == [
            .init(.everything, "", exclusive: false),
            .init(.shop, "big", exclusive: true), .init(.shop, "full", exclusive: true), .init(.shop, "small", exclusive: false),
            .init(.sku, "small/x", exclusive: true),
        ])
    }

    @Test func aShopIsLockedWholeOnlyPastItsLimitOfDistinctSkus() {
        let atLimit = rows("s", StockLocks.skusPerShop)
        let locks = StockLocks(rows: atLimit + atLimit.reversed()).locks
        #expect(locks.count == 2 + StockLocks.skusPerShop, "each SKU locked once, repeats not counted")
        #expect(locks[1] == .init(.shop, "s", exclusive: false))
        #expect(StockLocks(rows: atLimit + [("s", "one more")] + atLimit).locks
                == [.init(.everything, "", exclusive: false), .init(.shop, "s", exclusive: true)])
    }

    @Test func tooManySkusLockEveryShopWhole() {
        let many = (0..<20).flatMap { rows("shop-\($0)", StockLocks.maxSkuLocks / 20 + 1) }
        let locks = StockLocks(rows: many).locks
        #expect(locks.count == 21)
        #expect(locks.dropFirst().allSatisfy { $0.scope == .shop && $0.exclusive })
    }

    @Test func tooManyShopsLockEverything() {
        let many = (0...StockLocks.maxShopLocks).map { (shop: "shop-\($0)", sku: "x") }
        #expect(StockLocks(rows: many).locks == [.init(.everything, "", exclusive: true)])
        #expect(StockLocks(rows: []).locks.isEmpty)
    }

    @Test func thePlanLocksWhatItsStepsWrite() {
        let steps = StockPlan.steps(for: [
            ("j0", .levels(StockLevels(shopId: "s", observedAt: Timestamp(microseconds: 0), levels: [StockLevel(sku: "a", onHand: 1)], complete: true))),
            ("j1", .adjust(StockAdjustment(shopId: "t", sku: "b", delta: 1, reason: nil, at: Timestamp(microseconds: 0)))),
        ])
        #expect(StockPlan.locks(for: steps).locks == [
            .init(.everything, "", exclusive: false),
            .init(.shop, "s", exclusive: true), .init(.shop, "t", exclusive: false),
            .init(.sku, "t/b", exclusive: true),
        ])
    }
}

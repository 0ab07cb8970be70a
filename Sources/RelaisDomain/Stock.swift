/// A job of the `stock` queue.
public enum StockJob: Sendable, Equatable {
    /// Absolute levels observed at one time (`stock.levels`).
    case levels(StockLevels)
    /// A relative change (`stock.adjust`).
    case adjust(StockAdjustment)

    /// How many SKU rows the job touches, to size transactions.
    public var rowCount: Int {
        switch self {
        case .levels(let levels): levels.levels.count
        case .adjust: 1
        }
    }
}

/// `stock.levels`: what a shop's till counted, and when.
public struct StockLevels: Sendable, Equatable {
    /// The shop.
    public let shopId: String
    /// When the levels were observed; an older observation never overwrites a newer one.
    public let observedAt: Timestamp
    /// One level per SKU, SKUs unique, in the order stock rows are written
    /// (`ExactText.order`): the order of a job's levels means nothing, and the plan can
    /// take a shop's levels as they are.
    public let levels: [StockLevel]
    /// When true, the shop's SKUs not listed are set to 0.
    public let complete: Bool

    /// Creates a levels job; `levels` are sorted by SKU.
    public init(shopId: String, observedAt: Timestamp, levels: [StockLevel], complete: Bool) {
        self.shopId = shopId
        self.observedAt = observedAt
        self.levels = levels.sorted { ExactText.order($0.sku, $1.sku) < 0 }
        self.complete = complete
    }

    /// The first level, in the job's order, whose SKU an earlier level already has:
    /// (earlier, repeating) indices into `levels` as given, or nil when all are unique.
    public static func firstRepeat(in levels: [StockLevel]) -> (first: Int, again: Int)? {
        var seen: [ExactText: Int] = [:]
        for (index, level) in levels.enumerated() {
            if let first = seen.updateValue(index, forKey: ExactText(level.sku)) { return (first, index) }
        }
        return nil
    }

    /// Whether two levels share a SKU: neighbours, since the levels are sorted.
    public var repeatsASku: Bool {
        levels.indices.dropFirst().contains { ExactText.order(levels[$0 - 1].sku, levels[$0].sku) == 0 }
    }
}

/// One SKU's level in a `stock.levels` job.
public struct StockLevel: Sendable, Equatable {
    /// The shop's stock-keeping unit.
    public let sku: String
    /// Units on hand.
    public let onHand: Int64

    /// Creates a level.
    public init(sku: String, onHand: Int64) {
        self.sku = sku
        self.onHand = onHand
    }
}

/// `stock.adjust`: a change of one SKU's stock on hand.
public struct StockAdjustment: Sendable, Equatable {
    /// The shop.
    public let shopId: String
    /// The SKU.
    public let sku: String
    /// Units added (positive) or removed (negative); never zero.
    public let delta: Int64
    /// Why, for people reading the history.
    public let reason: String?
    /// When the change happened.
    public let at: Timestamp

    /// Creates an adjustment.
    public init(shopId: String, sku: String, delta: Int64, reason: String?, at: Timestamp) {
        self.shopId = shopId
        self.sku = sku
        self.delta = delta
        self.reason = reason
        self.at = at
    }
}

/// The limits of the `stock` job types (docs/producers.md, "Queue `stock`").
public enum StockRules {
    /// Longest shop id and SKU.
    public static let maxKeyLength = 200
    /// Entries in one `stock.levels` job.
    public static let levelCount = 1...10_000
    /// Units on hand a level may state.
    public static let onHand: ClosedRange<Int64> = 0...1_000_000_000
    /// Size of one adjustment (zero excluded separately).
    public static let delta: ClosedRange<Int64> = -1_000_000_000...1_000_000_000
    /// Longest adjustment reason.
    public static let maxReasonLength = 500
}

/// One SKU's observed level, ready to be upserted.
public struct StockObservation: Sendable, Equatable {
    public let shopId: String
    public let sku: String
    public let onHand: Int64
    public let observedAt: Timestamp

    /// Creates an observation.
    public init(shopId: String, sku: String, onHand: Int64, observedAt: Timestamp) {
        self.shopId = shopId
        self.sku = sku
        self.onHand = onHand
        self.observedAt = observedAt
    }
}

/// One adjustment of one SKU, ready to be recorded and applied.
public struct StockChange: Sendable, Equatable {
    public let shopId: String
    public let sku: String
    public let delta: Int64
    /// When the change happened: an observation made later already counts it.
    public let at: Timestamp
    /// The job that made it.
    public let jobId: String

    /// Creates a change.
    public init(shopId: String, sku: String, delta: Int64, at: Timestamp, jobId: String) {
        self.shopId = shopId
        self.sku = sku
        self.delta = delta
        self.at = at
        self.jobId = jobId
    }
}

/// A set-based step of applying a batch of stock jobs.
public enum StockStep: Sendable, Equatable {
    /// Upsert these levels where no newer observation is stored.
    case observe([StockObservation])
    /// Set the shop's SKUs not in `listed` to 0 where no newer observation is stored.
    case zeroUnlisted(shopId: String, listed: [String], observedAt: Timestamp)
    /// Record these changes and add to stock on hand those made after the stored observation.
    case adjust([StockChange])
}

/// Turns a batch of stock jobs into a few set-based steps with the same effect as
/// applying the jobs one by one in order.
///
/// The rules make the order of jobs matter as little as possible, because producers
/// and consumers run concurrently: a level is what was counted at `observed_at`, so
/// per SKU the newest observation wins (the first on a tie, as the stored row would),
/// and it includes every adjustment made before it; an adjustment counts only if it
/// was made after the stored observation. Consecutive level jobs merge into one
/// upsert; a complete snapshot is its own step because its zeroing depends on what
/// came before; consecutive adjustments make one step. Rows are in `rowOrder`, so that
/// concurrent workers update rows in the same order and do not deadlock.
public enum StockPlan {
    /// The steps for `jobs` (with their ids), in arrival order.
    public static func steps(for jobs: [(id: String, job: StockJob)]) -> [StockStep] {
        var steps: [StockStep] = []
        var pending: [StockLevels] = []
        var candidates: [(job: Int, level: Int)] = []
        var changes: [StockChange] = []

        // A catalogue's levels come sorted: a shop with one job in the batch needs
        // neither hashing nor sorting of its rows.
        func flushObservations() {
            guard !pending.isEmpty else { return }
            var rows: [StockObservation] = []
            rows.reserveCapacity(pending.reduce(0) { $0 + $1.levels.count })
            // The jobs by shop, each shop's in arrival order.
            let order = pending.indices.sorted { a, b in
                let shop = ExactText.order(pending[a].shopId, pending[b].shopId)
                return shop != 0 ? shop < 0 : a < b
            }
            var first = 0
            while first < order.count {
                var end = first + 1
                while end < order.count && ExactText.order(pending[order[first]].shopId, pending[order[end]].shopId) == 0 { end += 1 }
                appendNewest(of: order[first..<end], in: pending, to: &rows, using: &candidates)
                first = end
            }
            if !rows.isEmpty { steps.append(.observe(rows)) }
            pending.removeAll(keepingCapacity: true)
        }
        func flushDeltas() {
            guard !changes.isEmpty else { return }
            steps.append(.adjust(changes.sorted { a, b in
                let row = rowOrder((a.shopId, a.sku), (b.shopId, b.sku))
                return row != 0 ? row < 0 : ExactText.order(a.jobId, b.jobId) < 0
            }))
            changes.removeAll(keepingCapacity: true)
        }

        for (id, job) in jobs {
            switch job {
            case .levels(let levels):
                flushDeltas()
                if levels.complete { flushObservations() }
                pending.append(levels)
                if levels.complete {
                    flushObservations()
                    steps.append(.zeroUnlisted(shopId: levels.shopId, listed: levels.levels.map(\.sku), observedAt: levels.observedAt))
                }
            case .adjust(let adjustment):
                flushObservations()
                changes.append(StockChange(shopId: adjustment.shopId, sku: adjustment.sku, delta: adjustment.delta,
                                           at: adjustment.at, jobId: id))
            }
        }
        flushObservations()
        flushDeltas()
        return steps
    }

    /// Appends one shop's observations from its level jobs (`shopJobs`, indices into
    /// `jobs` in arrival order), sorted by SKU: per SKU the newest observation, the first
    /// one on a tie, as the stored row would keep. `candidates` is scratch space.
    private static func appendNewest(of shopJobs: ArraySlice<Int>, in jobs: [StockLevels], to rows: inout [StockObservation],
                                     using candidates: inout [(job: Int, level: Int)]) {
        func observation(_ candidate: (job: Int, level: Int)) -> StockObservation {
            let job = jobs[candidate.job], level = job.levels[candidate.level]
            return StockObservation(shopId: job.shopId, sku: level.sku, onHand: level.onHand, observedAt: job.observedAt)
        }
        guard shopJobs.count > 1 else {
            for j in shopJobs { rows += jobs[j].levels.indices.lazy.map { observation((j, $0)) } }
            return
        }
        // Every candidate, by SKU and then arrival: each SKU's first newest one is kept.
        candidates.removeAll(keepingCapacity: true)
        for j in shopJobs { candidates += jobs[j].levels.indices.lazy.map { (j, $0) } }
        candidates.sort { a, b in
            let sku = ExactText.order(jobs[a.job].levels[a.level].sku, jobs[b.job].levels[b.level].sku)
            return sku != 0 ? sku < 0 : (a.job, a.level) < (b.job, b.level)
        }
        guard var kept = candidates.first else { return }
        for candidate in candidates.dropFirst() {
            if ExactText.order(jobs[candidate.job].levels[candidate.level].sku, jobs[kept.job].levels[kept.level].sku) == 0 {
                if jobs[kept.job].observedAt < jobs[candidate.job].observedAt { kept = candidate }
                continue
            }
            rows.append(observation(kept))
            kept = candidate
        }
        rows.append(observation(kept))
    }

    /// The one order in which every transaction writes stock rows, reservations included,
    /// so that two transactions wait for each other's row locks in one direction and
    /// never deadlock: by shop, then SKU, each by its bytes (`ExactText.order`).
    /// Negative, zero or positive as `a` comes before, with or after `b`.
    public static func rowOrder(_ a: (shop: String, sku: String), _ b: (shop: String, sku: String)) -> Int {
        let shop = ExactText.order(a.shop, b.shop)
        return shop != 0 ? shop : ExactText.order(a.sku, b.sku)
    }

    /// The locks a transaction applying `steps` takes first (see `StockLocks`).
    public static func locks(for steps: [StockStep]) -> StockLocks {
        var rows: [(shop: String, sku: String)] = []
        var wholeShops: Set<String> = []
        for step in steps {
            switch step {
            case .observe(let observations): rows += observations.map { ($0.shopId, $0.sku) }
            case .zeroUnlisted(let shopId, _, _): wholeShops.insert(shopId)
            case .adjust(let changes): rows += changes.map { ($0.shopId, $0.sku) }
            }
        }
        return StockLocks(rows: rows, wholeShops: wholeShops)
    }

    /// The shops of `rows`, a shop repeated by consecutive rows once. The rows of an
    /// observation step are in `rowOrder`, so each shop comes once.
    public static func shops(of rows: [StockObservation]) -> [String] {
        var shops: [String] = []
        for row in rows where shops.last.map({ ExactText.order($0, row.shopId) != 0 }) ?? true {
            shops.append(row.shopId)
        }
        return shops
    }
}

/// A string compared and hashed by its exact UTF-8 bytes, as PostgreSQL compares text.
///
/// Swift's `String ==` treats canonically equivalent strings (`é` and `e` + U+0301)
/// as equal; PostgreSQL stores them as two keys, so the domain must too. It orders by
/// bytes as well, which is code point order and PostgreSQL's `"C"` collation: a total
/// order, where Swift's `<` ranks canonically equivalent strings as neither before nor
/// after each other.
public struct ExactText: Hashable, Comparable, Sendable, ExpressibleByStringLiteral {
    /// The string.
    public let text: String

    /// Wraps `text`.
    public init(_ text: String) { self.text = text }

    /// Wraps a literal.
    public init(stringLiteral text: String) { self.text = text }

    public static func == (a: ExactText, b: ExactText) -> Bool {
        a.text.utf8.count == b.text.utf8.count && order(a.text, b.text) == 0
    }

    public static func < (a: ExactText, b: ExactText) -> Bool { order(a.text, b.text) < 0 }

    /// Compares `a` and `b` byte by byte: negative, zero or positive as `a` comes
    /// before, with or after `b`.
    public static func order(_ a: String, _ b: String) -> Int {
        func compare(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Int {
            for i in 0..<min(x.count, y.count) where x[i] != y[i] { return x[i] < y[i] ? -1 : 1 }
            return x.count == y.count ? 0 : (x.count < y.count ? -1 : 1)
        }
        let contiguous = a.utf8.withContiguousStorageIfAvailable { x in
            b.utf8.withContiguousStorageIfAvailable { y in compare(x, y) }
        }
        if let result = contiguous ?? nil { return result }
        return Array(a.utf8).withUnsafeBufferPointer { x in Array(b.utf8).withUnsafeBufferPointer { y in compare(x, y) } }
    }

    public func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

import RelaisContract
import RelaisDomain
import RelaisStore

/// `stock`: what the shops' tills count and change. The rules are `StockRules` and
/// `StockPlan`; the statements are `StockProcessor`'s.
extension FamilyAdapter {
    /// The `stock` family.
    public static let stock = FamilyAdapter(StockCatalog.self) { environment in
        try StockProcessor(conninfo: environment.databaseURL, queue: StockCatalog.queue, lockTimeout: environment.lockTimeout)
    }
}

extension StockProcessor: FamilyProcessor {}

/// The `stock` queue's job types.
public enum StockCatalog: JobCatalog {
    /// The queue's name.
    public static let queue = "stock"
    /// The job types of the queue.
    public static let types = ["stock.levels", "stock.adjust"]

    private enum LevelsKeys: String, CodingKey { case shop_id, observed_at, levels, complete }
    private enum LevelKeys: String, CodingKey { case sku, on_hand }
    private enum AdjustKeys: String, CodingKey { case shop_id, sku, delta, reason, at }

    public static func decode(type: String, data: JobData) throws -> StockJob {
        switch type {
        case "stock.levels":
            let c = try data.fields(keyedBy: LevelsKeys.self)
            let shopId = try c.requiredString(.shop_id, maxLength: StockRules.maxKeyLength)
            let observedAt = try c.requiredTimestamp(.observed_at)
            let levels = try c.requiredArray(.levels, count: StockRules.levelCount, keyedBy: LevelKeys.self) { level in
                StockLevel(sku: try level.requiredString(.sku, maxLength: StockRules.maxKeyLength),
                           onHand: try level.requiredInteger(.on_hand, in: StockRules.onHand))
            }
            let complete = try c.optionalBool(.complete) ?? false
            let job = StockLevels(shopId: shopId, observedAt: observedAt, levels: levels, complete: complete)
            // Sorting finds a repeated SKU without hashing a catalogue's thousand; the
            // rejection then names the first repeat in the job's own order.
            if job.repeatsASku, let (first, again) = StockLevels.firstRepeat(in: levels) {
                throw JobRejection(.invalidField, field: "\(c.path(.levels))[\(again)].sku", "repeats the SKU of data.levels[\(first)]")
            }
            return .levels(job)
        case "stock.adjust":
            let c = try data.fields(keyedBy: AdjustKeys.self)
            let shopId = try c.requiredString(.shop_id, maxLength: StockRules.maxKeyLength)
            let sku = try c.requiredString(.sku, maxLength: StockRules.maxKeyLength)
            let delta = try c.requiredInteger(.delta, in: StockRules.delta)
            guard delta != 0 else { throw JobRejection(.invalidField, field: c.path(.delta), "must not be zero") }
            let reason = try c.optionalString(.reason, maxLength: StockRules.maxReasonLength)
            let at = try c.requiredTimestamp(.at)
            return .adjust(StockAdjustment(shopId: shopId, sku: sku, delta: delta, reason: reason, at: at))
        default:
            throw JobRejection(.unknownType, field: "type", "\"\(type)\" is not a stock job type")
        }
    }
}


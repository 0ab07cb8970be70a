import RelaisContract
import RelaisDomain
import RelaisStore

/// `orders`: an order's life, from placed to collected, cancelled or expired. The rules
/// are `OrderRules`, `OrderLifecycle` and `OrderPlan`; the statements are `OrderProcessor`'s.
extension FamilyAdapter {
    /// The `orders` family.
    public static let orders = FamilyAdapter(OrderCatalog.self) { environment in
        try OrderProcessor(conninfo: environment.databaseURL, queue: OrderCatalog.queue, channels: environment.channels,
                           rules: environment.reminders, lockTimeout: environment.lockTimeout)
    }
}

extension OrderProcessor: FamilyProcessor {}

/// The `orders` queue's job types.
public enum OrderCatalog: JobCatalog {
    /// The queue's name.
    public static let queue = "orders"
    /// The job types of the queue.
    public static let types = ["order.placed", "order.confirmed", "order.ready", "order.collected", "order.cancelled"]

    private enum PlacedKeys: String, CodingKey { case order_id, shop, customer, items, total_cents, currency, placed_at, pickup_deadline }
    private enum ItemKeys: String, CodingKey { case sku, name, quantity, unit_price_cents }
    private enum EventKeys: String, CodingKey { case order_id, at, pickup_deadline, by, reason }

    public static func decode(type: String, data: JobData) throws -> OrderJob {
        if type == "order.placed" { return .placed(try placed(data)) }
        let c = try data.fields(keyedBy: EventKeys.self)
        let orderId = try c.requiredString(.order_id, maxLength: OrderRules.maxKeyLength)
        let at = try c.requiredTimestamp(.at)
        switch type {
        case "order.confirmed":
            return .confirmed(orderId: orderId, at: at)
        case "order.ready":
            return .ready(orderId: orderId, at: at, pickupDeadline: try c.optionalTimestamp(.pickup_deadline))
        case "order.collected":
            return .collected(orderId: orderId, at: at)
        case "order.cancelled":
            let by = try c.requiredString(.by, maxLength: 20)
            guard let canceller = CancelledBy(rawValue: by) else {
                throw JobRejection(.invalidField, field: c.path(.by), "must be one of shop, customer, platform")
            }
            return .cancelled(orderId: orderId, at: at, by: canceller,
                              reason: try c.optionalString(.reason, maxLength: OrderRules.maxReasonLength))
        default:
            throw JobRejection(.unknownType, field: "type", "\"\(type)\" is not an order job type")
        }
    }

    private static func placed(_ data: JobData) throws -> PlacedOrder {
        let c = try data.fields(keyedBy: PlacedKeys.self)
        let orderId = try c.requiredString(.order_id, maxLength: OrderRules.maxKeyLength)
        let shop = try c.requiredObject(.shop, keyedBy: ContactFields.ShopKeys.self, ContactFields.shop)
        let customer = try c.requiredObject(.customer, keyedBy: ContactFields.CustomerKeys.self, ContactFields.customer)
        let items = try c.requiredArray(.items, count: OrderRules.itemCount, keyedBy: ItemKeys.self) { item in
            PlacedOrder.Item(
                sku: try item.requiredString(.sku, maxLength: OrderRules.maxKeyLength),
                name: try item.requiredString(.name, maxLength: OrderRules.maxNameLength),
                quantity: try item.requiredInteger(.quantity, in: OrderRules.quantity),
                unitPriceCents: try item.requiredInteger(.unit_price_cents, in: OrderRules.unitPrice))
        }
        let total = try c.requiredInteger(.total_cents, in: OrderRules.total)
        let currency = try c.requiredString(.currency, maxLength: 3)
        guard OrderRules.currencies.contains(currency) else {
            throw JobRejection(.invalidField, field: c.path(.currency), "must be EUR")
        }
        return PlacedOrder(orderId: orderId, shop: shop, customer: customer, items: items, totalCents: total,
                           currency: currency, placedAt: try c.requiredTimestamp(.placed_at),
                           pickupDeadline: try c.optionalTimestamp(.pickup_deadline))
    }
}

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
    private enum ShopKeys: String, CodingKey { case id, name, email, phone, webhook_url, timezone }
    private enum CustomerKeys: String, CodingKey { case name, email, phone, locale }
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
        let shop = try c.requiredObject(.shop, keyedBy: ShopKeys.self) { s in
            PlacedOrder.Shop(
                id: try s.requiredString(.id, maxLength: OrderRules.maxKeyLength),
                name: try s.requiredString(.name, maxLength: OrderRules.maxNameLength),
                email: try email(s, .email),
                phone: try phone(s, .phone),
                webhookURL: try webhookURL(s, .webhook_url),
                timeZone: try timeZone(s, .timezone) ?? OrderRules.defaultTimeZone)
        }
        let customer = try c.requiredObject(.customer, keyedBy: CustomerKeys.self) { s in
            let locale = try s.optionalString(.locale, maxLength: 10)
            guard locale == nil || Language(rawValue: locale!) != nil else {
                throw JobRejection(.invalidField, field: s.path(.locale), "must be fr or en")
            }
            return PlacedOrder.Customer(
                name: try s.requiredString(.name, maxLength: OrderRules.maxNameLength),
                email: try email(s, .email), phone: try phone(s, .phone),
                language: locale.flatMap(Language.init(rawValue:)) ?? .fr)
        }
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

    private static func email<K>(_ c: JobFields<K>, _ key: K) throws -> String? {
        guard let value = try c.optionalString(key, maxLength: OrderRules.maxEmailLength) else { return nil }
        guard EmailAddress.isValid(value) else { throw JobRejection(.invalidField, field: c.path(key), "must be an e-mail address") }
        return value
    }

    private static func phone<K>(_ c: JobFields<K>, _ key: K) throws -> String? {
        guard let value = try c.optionalString(key, maxLength: 16) else { return nil }
        guard OrderRules.isE164(value) else {
            throw JobRejection(.invalidField, field: c.path(key), "must be an E.164 phone number such as +33612345678")
        }
        return value
    }

    private static func webhookURL<K>(_ c: JobFields<K>, _ key: K) throws -> String? {
        guard let value = try c.optionalString(key, maxLength: OrderRules.maxURLLength) else { return nil }
        guard WebAddress.isValid(value) else {
            throw JobRejection(.invalidField, field: c.path(key), "must be an http or https URL")
        }
        guard !WebAddress.hasUserInfo(value) else {
            throw JobRejection(.invalidField, field: c.path(key), "must not contain a user name or password (user:password@)")
        }
        return value
    }

    private static func timeZone<K>(_ c: JobFields<K>, _ key: K) throws -> String? {
        guard let value = try c.optionalString(key, maxLength: OrderRules.maxTimeZoneLength) else { return nil }
        guard OrderRules.timeZones.contains(value) else {
            throw JobRejection(.invalidField, field: c.path(key), "must be an IANA time zone such as Europe/Paris")
        }
        return value
    }
}


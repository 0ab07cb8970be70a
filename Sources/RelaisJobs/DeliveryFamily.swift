import RelaisContract
import RelaisDomain
import RelaisStore

/// `deliveries`: an order's way to its customer, at home or through a relay point. The
/// rules are `DeliveryPlan` and `ReminderRules.beforeDeadline`; the statements are
/// `DeliveryProcessor`'s.
///
/// Its own queue rather than more types on `orders`: the carriers' integration writes
/// it, at its own pace, and an operator can pause it or replay its dead letters without
/// touching the orders. The per-order lock keeps an order's events from both queues one
/// at a time, and each plan tolerates the other queue's events arriving first.
extension FamilyAdapter {
    /// The `deliveries` family.
    public static let deliveries = FamilyAdapter(DeliveryCatalog.self) { environment in
        try DeliveryProcessor(conninfo: environment.databaseURL, queue: DeliveryCatalog.queue, channels: environment.channels,
                              rules: environment.reminders, lockTimeout: environment.lockTimeout)
    }
}

extension DeliveryProcessor: FamilyProcessor {}

/// The `deliveries` queue's job types.
public enum DeliveryCatalog: JobCatalog {
    /// The queue's name.
    public static let queue = "deliveries"
    /// The job types of the queue.
    public static let types = ["delivery.shipped", "delivery.at_relay", "delivery.delivered", "delivery.collected", "delivery.returned"]

    private enum Keys: String, CodingKey {
        case order_id, at, method, carrier, tracking_url, tracking_number, relay, pickup_code, hold_until, reason
    }
    private enum RelayKeys: String, CodingKey { case name, address, opening_hours }

    public static func decode(type: String, data: JobData) throws -> DeliveryJob {
        let c = try data.fields(keyedBy: Keys.self)
        let orderId = try c.requiredString(.order_id, maxLength: OrderRules.maxKeyLength)
        let at = try c.requiredTimestamp(.at)
        switch type {
        case "delivery.shipped":
            let method = try c.requiredString(.method, maxLength: 10)
            guard let how = DeliveryMethod(rawValue: method) else {
                throw JobRejection(.invalidField, field: c.path(.method), "must be one of home, relay")
            }
            return .shipped(orderId: orderId, at: at, method: how,
                            carrier: try c.requiredString(.carrier, maxLength: DeliveryRules.maxCarrierLength),
                            trackingURL: try ContactFields.webURL(c, .tracking_url),
                            trackingNumber: try c.optionalString(.tracking_number, maxLength: DeliveryRules.maxCarrierLength))
        case "delivery.at_relay":
            let relay = try c.requiredObject(.relay, keyedBy: RelayKeys.self) { r in
                RelayPoint(name: try r.requiredString(.name, maxLength: OrderRules.maxNameLength),
                           address: try r.requiredString(.address, maxLength: DeliveryRules.maxAddressLength),
                           openingHours: try r.optionalString(.opening_hours, maxLength: DeliveryRules.maxAddressLength))
            }
            let holdUntil = try c.requiredTimestamp(.hold_until)
            guard holdUntil > at else { throw JobRejection(.invalidField, field: c.path(.hold_until), "must be after at") }
            return .atRelay(orderId: orderId, at: at, relay: relay,
                            pickupCode: try c.requiredString(.pickup_code, maxLength: DeliveryRules.maxPickupCodeLength),
                            holdUntil: holdUntil)
        case "delivery.delivered":
            return .delivered(orderId: orderId, at: at)
        case "delivery.collected":
            return .collected(orderId: orderId, at: at)
        case "delivery.returned":
            return .returned(orderId: orderId, at: at, reason: try c.optionalString(.reason, maxLength: OrderRules.maxReasonLength))
        default:
            throw JobRejection(.unknownType, field: "type", "\"\(type)\" is not a delivery job type")
        }
    }
}

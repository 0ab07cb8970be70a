import RelaisContract
import RelaisDomain
import RelaisStore

/// `pickups`: click-and-collect slots booked and cancelled, and the reminders they bring.
/// The rules are `PickupPlan` and `ReminderRules`; the statements are `PickupProcessor`'s.
extension FamilyAdapter {
    /// The `pickups` family.
    public static let pickups = FamilyAdapter(PickupCatalog.self) { environment in
        try PickupProcessor(conninfo: environment.databaseURL, queue: PickupCatalog.queue, rules: environment.reminders,
                            lockTimeout: environment.lockTimeout)
    }
}

extension PickupProcessor: FamilyProcessor {}

/// The `pickups` queue's job types.
public enum PickupCatalog: JobCatalog {
    /// The queue's name.
    public static let queue = "pickups"
    /// The job types of the queue.
    public static let types = ["pickup.booked", "pickup.cancelled"]

    private enum Keys: String, CodingKey { case order_id, slot_start, slot_end }

    public static func decode(type: String, data: JobData) throws -> PickupJob {
        let c = try data.fields(keyedBy: Keys.self)
        let orderId = try c.requiredString(.order_id, maxLength: OrderRules.maxKeyLength)
        switch type {
        case "pickup.booked":
            let start = try c.requiredTimestamp(.slot_start)
            let end = try c.requiredTimestamp(.slot_end)
            guard end > start else { throw JobRejection(.invalidField, field: c.path(.slot_end), "must be after slot_start") }
            return .booked(orderId: orderId, slotStart: start, slotEnd: end)
        case "pickup.cancelled":
            return .cancelled(orderId: orderId)
        default:
            throw JobRejection(.unknownType, field: "type", "\"\(type)\" is not a pickup job type")
        }
    }
}

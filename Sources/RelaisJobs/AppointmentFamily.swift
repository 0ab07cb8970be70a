import RelaisContract
import RelaisDomain
import RelaisStore

/// `appointments`: a shop's service booked, moved, cancelled, attended or missed, and the
/// customer's reminders. The rules are `AppointmentPlan` and `ReminderRules`; the statements
/// are `AppointmentProcessor`'s.
extension FamilyAdapter {
    /// The `appointments` family.
    public static let appointments = FamilyAdapter(AppointmentCatalog.self) { environment in
        try AppointmentProcessor(conninfo: environment.databaseURL, queue: AppointmentCatalog.queue, channels: environment.channels,
                                 rules: environment.reminders, lockTimeout: environment.lockTimeout)
    }
}

extension AppointmentProcessor: FamilyProcessor {}

/// The `appointments` queue's job types.
public enum AppointmentCatalog: JobCatalog {
    /// The queue's name.
    public static let queue = "appointments"
    /// The job types of the queue.
    public static let types = ["appointment.booked", "appointment.rescheduled", "appointment.cancelled",
                               "appointment.attended", "appointment.missed"]

    private enum Keys: String, CodingKey { case appointment_id, at, shop, service, start, end, customer, by, reason }
    /// The shop's one field beyond `order.placed`'s shop object.
    private enum AddressKeys: String, CodingKey { case address }
    private enum ServiceKeys: String, CodingKey { case name, duration_minutes }

    public static func decode(type: String, data: JobData) throws -> AppointmentJob {
        let c = try data.fields(keyedBy: Keys.self)
        let id = try c.requiredString(.appointment_id, maxLength: OrderRules.maxKeyLength)
        let at = try c.requiredTimestamp(.at)
        switch type {
        case "appointment.booked":
            let shop = try c.requiredObject(.shop, keyedBy: ContactFields.ShopKeys.self, ContactFields.shop)
            let address = try c.requiredObject(.shop, keyedBy: AddressKeys.self) {
                try $0.optionalString(.address, maxLength: AppointmentRules.maxAddressLength)
            }
            let service = try c.requiredObject(.service, keyedBy: ServiceKeys.self) { s in
                (name: try s.requiredString(.name, maxLength: OrderRules.maxNameLength),
                 minutes: try s.optionalInteger(.duration_minutes, in: AppointmentRules.durationMinutes))
            }
            let (start, end) = try times(c)
            let customer = try c.requiredObject(.customer, keyedBy: ContactFields.CustomerKeys.self, ContactFields.customer)
            return .booked(BookedAppointment(appointmentId: id, at: at, shop: shop, address: address, service: service.name,
                                             durationMinutes: service.minutes, start: start, end: end, customer: customer))
        case "appointment.rescheduled":
            let (start, end) = try times(c)
            return .rescheduled(appointmentId: id, at: at, start: start, end: end)
        case "appointment.cancelled":
            let by = try c.requiredString(.by, maxLength: 20)
            guard let canceller = CancelledBy(rawValue: by) else {
                throw JobRejection(.invalidField, field: c.path(.by), "must be one of shop, customer, platform")
            }
            return .cancelled(appointmentId: id, at: at, by: canceller,
                              reason: try c.optionalString(.reason, maxLength: OrderRules.maxReasonLength))
        case "appointment.attended":
            return .attended(appointmentId: id, at: at)
        case "appointment.missed":
            return .missed(appointmentId: id, at: at)
        default:
            throw JobRejection(.unknownType, field: "type", "\"\(type)\" is not an appointment job type")
        }
    }

    /// `start` and `end`, the end strictly after the start.
    private static func times(_ c: JobFields<Keys>) throws -> (Timestamp, Timestamp) {
        let start = try c.requiredTimestamp(.start)
        let end = try c.requiredTimestamp(.end)
        guard end > start else { throw JobRejection(.invalidField, field: c.path(.end), "must be after start") }
        return (start, end)
    }
}

/// Where an appointment stands (docs/producers.md, "Queue `appointments`").
public enum AppointmentStatus: String, Sendable, Codable, CaseIterable {
    /// Booked, possibly moved since: it is still to come.
    case booked
    /// Called off by the shop, the customer or the platform.
    case cancelled
    /// The customer came.
    case attended
    /// The customer did not come.
    case missed

    /// Whether the appointment can still change: every other status is final.
    public var isOpen: Bool { self == .booked }
}

/// `appointment.booked`: everything Relais keeps about an appointment. Encoded with the
/// wire's field names, it is also how the store keeps it (its `start` and `end` are the
/// booking's; the store's columns hold where a rescheduling moved them).
public struct BookedAppointment: Sendable, Equatable, Codable {
    /// The platform's id of the appointment.
    public var appointmentId: String
    /// When it was booked on the platform.
    public var at: Timestamp
    /// The shop that gives the service.
    public var shop: PlacedOrder.Shop
    /// The shop's address, as the customer should read it.
    public var address: String?
    /// The service's name.
    public var service: String
    /// How long the service lasts, in minutes, when the producer said.
    public var durationMinutes: Int64?
    /// When the appointment begins.
    public var start: Timestamp
    /// When it ends: after `start`.
    public var end: Timestamp
    /// Who booked.
    public var customer: PlacedOrder.Customer

    /// Creates a booking.
    public init(appointmentId: String, at: Timestamp, shop: PlacedOrder.Shop, address: String? = nil, service: String,
                durationMinutes: Int64? = nil, start: Timestamp, end: Timestamp, customer: PlacedOrder.Customer) {
        self.appointmentId = appointmentId
        self.at = at
        self.shop = shop
        self.address = address
        self.service = service
        self.durationMinutes = durationMinutes
        self.start = start
        self.end = end
        self.customer = customer
    }

    enum CodingKeys: String, CodingKey {
        case appointmentId = "appointment_id", at, shop, address, service, durationMinutes = "duration_minutes", start, end, customer
    }
}

/// A job of the `appointments` queue: one event of an appointment's life.
public enum AppointmentJob: Sendable, Equatable {
    /// `appointment.booked`.
    case booked(BookedAppointment)
    /// `appointment.rescheduled`: the appointment moves to `start`–`end`.
    case rescheduled(appointmentId: String, at: Timestamp, start: Timestamp, end: Timestamp)
    /// `appointment.cancelled`, by whom and why.
    case cancelled(appointmentId: String, at: Timestamp, by: CancelledBy, reason: String?)
    /// `appointment.attended`.
    case attended(appointmentId: String, at: Timestamp)
    /// `appointment.missed`.
    case missed(appointmentId: String, at: Timestamp)

    /// The appointment the event is about.
    public var appointmentId: String {
        switch self {
        case .booked(let booking): booking.appointmentId
        case .rescheduled(let id, _, _, _), .cancelled(let id, _, _, _), .attended(let id, _), .missed(let id, _): id
        }
    }

    /// When the event happened on the platform.
    public var at: Timestamp {
        switch self {
        case .booked(let booking): booking.at
        case .rescheduled(_, let at, _, _), .cancelled(_, let at, _, _), .attended(_, let at), .missed(_, let at): at
        }
    }
}

/// The limits of the `appointments` job types that are not the orders' (docs/producers.md,
/// "Queue `appointments`"); the JSON Schemas in docs/schemas state the same.
public enum AppointmentRules {
    /// Longest shop address.
    public static let maxAddressLength = 500
    /// A service's duration, in minutes: up to a week.
    public static let durationMinutes: ClosedRange<Int64> = 1...10_080
}

/// An appointment as the store holds it.
public struct StoredAppointment: Sendable, Equatable {
    /// What `appointment.booked` said, with `start` and `end` where the last applied
    /// rescheduling moved them.
    public var booking: BookedAppointment
    /// Where it stands.
    public var status: AppointmentStatus
    /// The `at` of the booking or rescheduling that set `start` and `end`: a rescheduling
    /// that happened before it is late and changes nothing.
    public var scheduledAt: Timestamp
    /// Who cancelled, for a cancelled appointment.
    public var cancelledBy: CancelledBy?
    /// Why, when the canceller said.
    public var cancelReason: String?

    /// Creates a stored appointment.
    public init(booking: BookedAppointment, status: AppointmentStatus, scheduledAt: Timestamp, cancelledBy: CancelledBy? = nil,
                cancelReason: String? = nil) {
        self.booking = booking
        self.status = status
        self.scheduledAt = scheduledAt
        self.cancelledBy = cancelledBy
        self.cancelReason = cancelReason
    }
}

/// The writes that apply a batch of `appointments` jobs, computed without touching the database.
public struct AppointmentPlan: Sendable, Equatable {
    /// One outcome per job, in order.
    public var outcomes: [OrderJobOutcome] = []
    /// Every appointment the batch booked or changed, as it stands after the batch.
    public var appointments: [StoredAppointment] = []
    /// Every event the batch kept in an appointment's history, applied or not (`orderId`
    /// holds the appointment's id).
    public var history: [OrderPlan.HistoryEntry] = []
    /// The messages the events cause, one per recipient and channel.
    public var messages: [OrderPlan.PlannedMessage] = []
    /// The customer's reminders, planned by a booking or rescheduling, cancelled by any other change.
    public var reminders = ReminderChanges()

    /// The reminder kinds of an appointment.
    public static let reminderKinds: [ReminderKind] = [.appointmentEvening, .appointmentSoon]

    /// Plans `jobs` (id, type and job, in arrival order) against the `stored` appointments
    /// they name, at `now` (reminders already due at `now` are not planned).
    ///
    /// - A booking of a new appointment applies; one of a known appointment changes nothing
    ///   (kept in the history with a note).
    /// - Any other event of an appointment not booked yet is retried, like an order's event
    ///   before `order.placed`.
    /// - After a final status (cancelled, attended, missed) every event is kept in the
    ///   history and changes nothing.
    /// - A rescheduling applies only if it happened (`at`) after the booking or rescheduling
    ///   that set the current times: two reschedulings that arrive out of order end on the
    ///   later one.
    /// - Attended and missed are accepted before the start: the shop knows.
    ///
    /// - Parameter channels: the channels that are configured; a message for another
    ///   channel goes to the log instead.
    public static func make(_ jobs: [(id: String, type: String, job: AppointmentJob)], stored: [ExactText: StoredAppointment],
                            now: Timestamp, channels: Set<Channel>, rules: ReminderRules) -> AppointmentPlan {
        var plan = AppointmentPlan()
        var appointments = stored
        var changed: [ExactText: Int] = [:]
        for (id, type, job) in jobs {
            let appointmentId = job.appointmentId
            let key = ExactText(appointmentId)
            var ignored: String?
            switch (job, appointments[key]) {
            case (.booked(let booking), nil):
                let appointment = StoredAppointment(booking: booking, status: .booked, scheduledAt: booking.at)
                appointments[key] = appointment
                plan.reminders.plan(appointmentId, Self.reminders(of: booking, now: now, rules: rules))
                plan.notify(.customer, .appointmentBookedCustomer, appointment, at: booking.at, channels: channels)
                plan.notify(.shop, .appointmentBookedShop, appointment, at: booking.at, channels: channels)
            case (_, nil):
                plan.outcomes.append(.retry(reason: "the appointment is not booked yet"))
                continue
            case (_, let current?) where !current.status.isOpen:
                ignored = "the appointment is already \(current.status.rawValue)"
            case (.booked, _?):
                ignored = "the appointment is already booked"
            case (.rescheduled(_, let at, let start, let end), var current?):
                guard at > current.scheduledAt else {
                    ignored = "a later booking or rescheduling is applied already"
                    break
                }
                let previous = (start: current.booking.start, end: current.booking.end)
                current.booking.start = start
                current.booking.end = end
                current.scheduledAt = at
                appointments[key] = current
                plan.reminders.cancel(appointmentId, reminderKinds)
                plan.reminders.plan(appointmentId, Self.reminders(of: current.booking, now: now, rules: rules))
                plan.notify(.customer, .appointmentRescheduledCustomer, current, at: at, channels: channels, previous: previous)
            case (.cancelled(_, let at, let by, let reason), var current?):
                current.status = .cancelled
                current.cancelledBy = by
                current.cancelReason = reason
                appointments[key] = current
                plan.reminders.cancel(appointmentId, reminderKinds)
                if by != .customer { plan.notify(.customer, .appointmentCancelledCustomer, current, at: at, channels: channels) }
                if by != .shop { plan.notify(.shop, .appointmentCancelledShop, current, at: at, channels: channels) }
            case (.attended, var current?), (.missed, var current?):
                current.status = job.isAttended ? .attended : .missed
                appointments[key] = current
                plan.reminders.cancel(appointmentId, reminderKinds)
            }
            if let ignored {
                plan.history.append(.init(orderId: appointmentId, jobId: id, type: type, at: job.at, applied: false, note: ignored))
                plan.outcomes.append(.ignored(reason: ignored))
                continue
            }
            let after = appointments[key]!
            if let index = changed[key] { plan.appointments[index] = after } else {
                changed[key] = plan.appointments.count
                plan.appointments.append(after)
            }
            plan.history.append(.init(orderId: appointmentId, jobId: id, type: type, at: job.at, applied: true, note: nil))
            plan.outcomes.append(.applied)
        }
        return plan
    }

    /// The customer's reminders of `booking` planned at `now`: the pickup slot's rules
    /// (`ReminderRules.forBooking`: the evening before, the hour before, quiet hours and
    /// the shop's zone), under the appointment's kinds.
    public static func reminders(of booking: BookedAppointment, now: Timestamp, rules: ReminderRules) -> [PlannedReminder] {
        rules.forBooking(slotStart: booking.start, slotEnd: booking.end, now: now, timeZone: booking.shop.timeZone).map {
            PlannedReminder(kind: $0.kind == .evening ? .appointmentEvening : .appointmentSoon, due: $0.due)
        }
    }

    private mutating func notify(_ recipient: Recipient, _ template: MessageTemplate, _ appointment: StoredAppointment,
                                 at: Timestamp, channels: Set<Channel>, previous: (start: Timestamp, end: Timestamp)? = nil) {
        var facts = MessageFacts(appointment: appointment, at: at)
        facts.appointment?.previousStart = previous?.start
        facts.appointment?.previousEnd = previous?.end
        let booking = appointment.booking
        for (channel, destination) in MessageRouting.deliveries(to: recipient, shop: booking.shop, customer: booking.customer,
                                                                template: template, channels: channels) {
            messages.append(OrderPlan.PlannedMessage(orderId: booking.appointmentId, recipient: recipient, channel: channel,
                                                     destination: destination, template: template, facts: facts))
        }
    }
}

extension AppointmentJob {
    /// Whether the job is `appointment.attended`.
    fileprivate var isAttended: Bool {
        if case .attended = self { return true }
        return false
    }
}

extension MessageFacts {
    /// The facts of a message about `appointment` as it stands, at `at`: the appointment's
    /// id in `orderId`, no items, a total of 0.
    public init(appointment: StoredAppointment, at: Timestamp) {
        let booking = appointment.booking
        self.init(orderId: booking.appointmentId, shopId: booking.shop.id, shopName: booking.shop.name,
                  timeZone: booking.shop.timeZone, customerName: booking.customer.name, language: booking.customer.language,
                  items: [], totalCents: 0, currency: "EUR", at: at, cancelledBy: appointment.cancelledBy,
                  cancelReason: appointment.cancelReason, shopEmail: booking.shop.email)
        subject = .appointment
        self.appointment = AppointmentFacts(service: booking.service, durationMinutes: booking.durationMinutes, start: booking.start,
                                            end: booking.end, address: booking.address, status: appointment.status)
    }
}

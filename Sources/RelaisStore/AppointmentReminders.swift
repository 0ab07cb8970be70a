import PostgresClient
import RelaisDomain

/// The customer's reminders of appointments: the evening before and the hour before, as
/// pickup slots have (`ReminderKind.appointmentEvening`, `.appointmentSoon`).
final class AppointmentReminders: ReminderSource {
    private let appointments: AppointmentsRepository
    private let channels: Set<Channel>
    private let rules: ReminderRules

    /// Reads appointments on `db`, the scheduler's connection (in its transaction).
    init(_ db: PgConnection, channels: Set<Channel>, rules: ReminderRules) {
        appointments = AppointmentsRepository(db)
        self.channels = channels
        self.rules = rules
    }

    func decide(_ due: [DueReminder], now: Timestamp) throws -> [ReminderDecision] {
        let stored = try appointments.load(Set(due.map { ExactText($0.subjectId) }))
        return due.map { reminder in
            guard let appointment = stored[ExactText(reminder.subjectId)] else { return .skip("the appointment no longer exists") }
            guard appointment.status.isOpen else { return .skip("the appointment is \(appointment.status.rawValue)") }
            let booking = appointment.booking
            guard rules.isStillUseful(reminder.kind, now: now, slotStart: booking.start, pickupDeadline: nil) else {
                return .skip("too late to be useful")
            }
            // Late after downtime, a reminder may now fall in quiet hours: it waits for their end.
            guard let when = rules.outsideQuietHours(now, timeZone: booking.shop.timeZone, latest: booking.start) else {
                return .skip("quiet hours until it is too late")
            }
            if when > now { return .postpone(when) }
            let facts = MessageFacts(appointment: appointment, at: reminder.due)
            let template = reminder.kind.template
            return .send(MessageRouting.deliveries(to: .customer, shop: booking.shop, customer: booking.customer, template: template,
                                                   channels: channels).map {
                OrderPlan.PlannedMessage(orderId: reminder.subjectId, recipient: .customer, channel: $0.0, destination: $0.1,
                                         template: template, facts: facts)
            })
        }
    }
}

import Foundation
import PostgresClient
import RelaisContract
import RelaisDomain
import RelaisJobs
import RelaisStore
import RelaisTestSupport
import Testing

private func appointmentJob(_ id: String, _ type: String, _ data: String) throws -> QueuedJob<AppointmentJob> {
    let payload = #"{"id":"\#(id)","type":"\#(type)","data":\#(data)}"#
    let envelope = try EnvelopeDecoder(AppointmentCatalog.self).decode(Array(payload.utf8)).get()
    return QueuedJob(entryId: "0-1", envelope: envelope, attempt: 1)
}

/// A booking of `id` in Paris from `start`, for a customer with an e-mail address and a phone.
private func booking(_ id: String, start: Date, bookedAt: Date) throws -> QueuedJob<AppointmentJob> {
    try appointmentJob("\(id)-booked", "appointment.booked", """
        {"appointment_id":"\(id)","at":"\(Timestamp(bookedAt))","shop":{"id":"salon","name":"Salon Léa","timezone":"Europe/Paris"},
         "service":{"name":"Coupe"},"start":"\(Timestamp(start))","end":"\(Timestamp(start.addingTimeInterval(1800)))",
         "customer":{"name":"Marie","email":"marie@example.fr","phone":"+33612345678"}}
        """)
}

/// `kind:status:note` of an appointment's reminders, oldest first.
private func reminderRows(_ url: String, _ id: String) throws -> [String] {
    try TestServers.withDatabase(url) { db throws in
        try db.query("""
            SELECT kind || ':' || status || ':' || coalesce(note, '') FROM relais.reminders
            WHERE order_id = $1 AND subject = 'appointment' ORDER BY id
            """, [id], name: "reminders").rows.map { $0[0]! }
    }
}

private let noQuietHours = QuietHours(start: LocalClockTime(hour: 0, minute: 0), end: LocalClockTime(hour: 0, minute: 0))

/// The appointments' `ReminderSource` in the scheduler, against a real PostgreSQL: booked two
/// days ago (the processor's clock), its reminders are due now (the database's clock).
@Suite("Appointment reminders in a real PostgreSQL")
struct AppointmentReminderTests {
    @Test func aDueReminderIsSentOnceAndOneOvertakenByTheHourBeforeIsSkipped() throws {
        let url = try TestServers.makeDatabase()
        let now = Date()
        var rules = ReminderRules()
        rules.quietHours = noQuietHours
        let processor = try AppointmentProcessor(conninfo: url, queue: "appointments", channels: [.email, .sms], rules: rules,
                                                 now: { Timestamp(now.addingTimeInterval(-2 * 86_400)) })
        defer { processor.close() }
        // Starts in 30 minutes: both reminders were planned two days ago and are due now; the
        // evening one is overtaken by the hour-before one.
        let outcomes = try processor.process([try booking("rdv-a", start: now.addingTimeInterval(1800), bookedAt: now.addingTimeInterval(-2 * 86_400))])
        #expect(outcomes == [.done])
        #expect(try reminderRows(url, "rdv-a") == ["appointment_evening:pending:", "appointment_soon:pending:"])

        let scheduler = try ReminderScheduler(conninfo: url, channels: [.email, .sms], rules: rules)
        defer { scheduler.close() }
        let round = try scheduler.fireDue()
        #expect(round.sent == 1 && round.skipped == 1 && round.postponed == 0, "\(round)")
        #expect(try reminderRows(url, "rdv-a") == ["appointment_evening:skipped:too late to be useful", "appointment_soon:sent:"])
        let messages = try TestServers.withDatabase(url) { db throws in
            try db.query("""
                SELECT template || ':' || channel || ':' || subject || ':' || order_id || ':' || coalesce(destination, '')
                FROM relais.outbox ORDER BY id
                """, name: "outbox").rows.map { $0[0]! }
        }
        #expect(messages.suffix(2) == ["appointment-soon-customer:email:appointment:rdv-a:marie@example.fr",
                                       "appointment-soon-customer:sms:appointment:rdv-a:+33612345678"], "\(messages)")
        #expect(try scheduler.fireDue().claimed == 0, "each reminder once")
    }

    @Test func aReminderReachedInQuietHoursWaitsForTheirEndAndOneOfACancelledAppointmentIsNeverClaimed() throws {
        let url = try TestServers.makeDatabase()
        let now = Date()
        var planning = ReminderRules(soonBefore: .seconds(4 * 3600))
        planning.quietHours = noQuietHours
        let processor = try AppointmentProcessor(conninfo: url, queue: "appointments", channels: [.email], rules: planning,
                                                 now: { Timestamp(now.addingTimeInterval(-2 * 86_400)) })
        defer { processor.close() }
        let start = now.addingTimeInterval(3 * 3600)
        _ = try processor.process([try booking("rdv-q", start: start, bookedAt: now.addingTimeInterval(-2 * 86_400)),
                                   try booking("rdv-c", start: start, bookedAt: now.addingTimeInterval(-2 * 86_400))])
        _ = try processor.process([try appointmentJob("rdv-c-cancelled", "appointment.cancelled",
                                                      #"{"appointment_id":"rdv-c","at":"\#(Timestamp(now))","by":"customer"}"#)])
        #expect(try reminderRows(url, "rdv-c") == ["appointment_evening:cancelled:", "appointment_soon:cancelled:"])

        // Quiet hours from this hour to two hours later on the shop's clock: the hour-before
        // reminder, reached now, waits for their end, still before the start.
        var paris = Calendar(identifier: .gregorian)
        paris.timeZone = TimeZone(identifier: "Europe/Paris")!
        let hour = paris.component(.hour, from: now)
        var quiet = planning
        quiet.quietHours = QuietHours(start: LocalClockTime(hour: hour, minute: 0), end: LocalClockTime(hour: (hour + 2) % 24, minute: 0))
        let end = paris.nextDate(after: now, matching: DateComponents(hour: (hour + 2) % 24, minute: 0), matchingPolicy: .nextTime)!
        let scheduler = try ReminderScheduler(conninfo: url, channels: [.email], rules: quiet)
        defer { scheduler.close() }
        let round = try scheduler.fireDue()
        #expect(round.postponed == 1 && round.skipped == 1 && round.sent == 0, "\(round)")
        #expect(try reminderRows(url, "rdv-q") == ["appointment_evening:skipped:too late to be useful",
                                                   "appointment_soon:pending:postponed to the end of quiet hours"])
        let due = try TestServers.withDatabase(url) { db throws in
            try db.query("SELECT extract(epoch FROM due_at) FROM relais.reminders WHERE order_id = 'rdv-q' AND kind = 'appointment_soon'",
                         name: "due").scalar
        }
        #expect(due.flatMap(Double.init) == end.timeIntervalSince1970, "due at \(end), the end of the quiet hours")
        let reminded = try TestServers.withDatabase(url) { db throws in
            try db.query("""
                SELECT count(*) FROM relais.outbox
                WHERE template IN ('appointment-evening-customer', 'appointment-soon-customer')
                """, name: "sent").scalar
        }
        #expect(reminded == "0", "nothing sent in quiet hours, nothing for the cancelled appointment")
    }
}

import Foundation
import RelaisTestSupport
import Testing

/// `appointment.booked` of `id` (job id `jobId`, `<id>-booked` by default) for Salon Léa in `zone`.
private func booked(_ id: String, jobId: String? = nil, start: String, end: String, at: String = now(), zone: String = "Europe/Paris",
                    email: String? = "marie@example.fr", phone: String? = "+33612345678", webhook: String? = nil,
                    locale: String = "fr") -> String {
    var shop = #"{"id":"salon","name":"Salon Léa","email":"salon@example.fr","timezone":"\#(zone)","address":"12 rue des Lilas, 75011 Paris""#
    if let webhook { shop += #","webhook_url":"\#(webhook)""# }
    shop += "}"
    var customer = #"{"name":"Marie Dupont","locale":"\#(locale)""#
    if let email { customer += #","email":"\#(email)""# }
    if let phone { customer += #","phone":"\#(phone)""# }
    customer += "}"
    return #"{"id":"\#(jobId ?? id + "-booked")","type":"appointment.booked","data":{"appointment_id":"\#(id)","at":"\#(at)","shop":\#(shop),"service":{"name":"Coupe et brushing","duration_minutes":45},"start":"\#(start)","end":"\#(end)","customer":\#(customer)}}"#
}

/// An `appointment.<kind>` event of `id`, with `extra` fields (`,"by":"shop"`).
private func appointmentEvent(_ id: String, _ kind: String, jobId: String? = nil, at: String = now(), extra: String = "") -> String {
    #"{"id":"\#(jobId ?? "\(id)-\(kind)")","type":"appointment.\#(kind)","data":{"appointment_id":"\#(id)","at":"\#(at)"\#(extra)}}"#
}

/// `date` as RFC 3339 in UTC, with milliseconds.
private func rfc3339(_ date: Date) -> String {
    var text = date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    if !text.hasSuffix("Z") { text += "Z" }
    return text
}

/// `hour:minute` on the shop's clock in `zone`, `days` days from today.
private func localTime(days: Int, hour: Int, minute: Int = 0, zone: String = "Europe/Paris") -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(identifier: zone)!
    let day = calendar.date(byAdding: .day, value: days, to: Date())!
    return calendar.date(bySettingHour: hour, minute: minute, second: 0, of: day)!
}

extension Deployment {
    /// `template:channel:status` of an appointment's messages, oldest first.
    fileprivate func appointmentMessages(_ id: String) throws -> [String] {
        try query("""
            SELECT template || ':' || channel || ':' || status FROM relais.notification_log
            WHERE subject = 'appointment' AND subject_id = '\(id)' ORDER BY id
            """).map { $0[0]! }
    }

    /// `kind:status` of an appointment's reminders, in the order they were planned.
    fileprivate func appointmentReminders(_ id: String) throws -> [String] {
        try query("SELECT kind || ':' || status FROM relais.reminders WHERE subject = 'appointment' AND order_id = '\(id)' ORDER BY id")
            .map { $0[0]! }
    }

    /// `job_id:applied:note` of an appointment's history, in the order it was recorded.
    fileprivate func appointmentHistory(_ id: String) throws -> [String] {
        try query("""
            SELECT job_id || ':' || applied || ':' || coalesce(note, '') FROM relais.appointment_events
            WHERE appointment_id = '\(id)' ORDER BY recorded_at, job_id
            """).map { $0[0]! }
    }

    /// One column of the appointment's read-model row.
    fileprivate func appointment(_ id: String, _ column: String) throws -> String? {
        try query("SELECT \(column) FROM relais.appointments WHERE appointment_id = '\(id)'").first?[0] ?? nil
    }
}

@Suite("Appointments end to end, through the binary and real channels", .serialized)
struct AppointmentsEndToEndTests {
    @Test func aBookingIsConfirmedToBothSidesOnceAndItsCancellationToldToTheShop() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings)
        defer { daemon.stop() }
        let webhook = channels.http.url("/webhook")
        let start = localTime(days: 3, hour: 10), end = start.addingTimeInterval(45 * 60)

        // Booked: the customer gets a confirmation, the shop an e-mail and a signed webhook.
        let booking = booked("rdv-1", start: rfc3339(start), end: rfc3339(end), webhook: webhook)
        try deployment.producer.xadd(queue: "appointments", payload: booking)
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.appointment("rdv-1", "shop_id || '|' || service || '|' || status") == "salon|Coupe et brushing|booked")
        #expect(try deployment.appointment("rdv-1", "starts_at = '\(rfc3339(start))' AND ends_at = '\(rfc3339(end))'") == "t")
        #expect(try deployment.appointment("rdv-1", "booked_at IS NOT NULL AND updated_at IS NOT NULL AND cancelled_by IS NULL") == "t")
        #expect(try deployment.appointmentMessages("rdv-1") == ["appointment-booked-customer:email:sent", "appointment-booked-shop:email:sent",
                                                               "appointment-booked-shop:webhook:sent"])
        let mails = channels.smtp.waitForMessages(2)
        try #require(mails.count == 2)
        let customerMail = try #require(mails.first { $0.recipients == ["marie@example.fr"] })
        let shopMail = try #require(mails.first { $0.recipients == ["salon@example.fr"] })
        #expect(customerMail.subject?.hasPrefix("Votre rendez-vous chez Salon Léa est confirmé : ") == true
                && customerMail.subject?.hasSuffix(" à 10h00") == true, "10:00 on the shop's clock: \(customerMail.subject ?? "")")
        let customerBody = customerMail.body ?? ""
        #expect(customerBody.contains("Prestation : Coupe et brushing (45 min)") && customerBody.contains(", de 10h00 à 10h45")
                && customerBody.contains("Adresse : 12 rue des Lilas, 75011 Paris"), "\(customerBody)")
        #expect(shopMail.subject?.hasPrefix("Nouveau rendez-vous rdv-1 : Marie Dupont, ") == true, "\(shopMail.subject ?? "")")
        let hooks = channels.http.requests(path: "/webhook")
        try #require(hooks.count == 1)
        #expect(hooks[0].verified == true, "standardwebhooks verified the signature: \(hooks[0].error ?? "")")
        let event = try JSONSerialization.jsonObject(with: Data(hooks[0].body.utf8)) as? [String: Any]
        let data = event?["data"] as? [String: Any]
        #expect(event?["type"] as? String == "appointment.booked")
        #expect(data?["appointment_id"] as? String == "rdv-1" && data?["status"] as? String == "booked"
                && data?["service"] as? String == "Coupe et brushing" && data?["shop_id"] as? String == "salon", "\(hooks[0].body)")
        #expect(try deployment.appointmentReminders("rdv-1") == ["appointment_evening:pending", "appointment_soon:pending"])

        // The same job again has no second effect; a second booking (another job) is kept aside.
        try deployment.producer.xadd(queue: "appointments", payload: booking)
        let later = start.addingTimeInterval(86_400)
        try deployment.producer.xadd(queue: "appointments", payload: booked(
            "rdv-1", jobId: "rdv-1-booked-again", start: rfc3339(later), end: rfc3339(later.addingTimeInterval(1800)), webhook: webhook))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.appointmentMessages("rdv-1").count == 3, "no message for the duplicate nor the second booking")
        #expect(try deployment.appointment("rdv-1", "starts_at = '\(rfc3339(start))'") == "t")
        #expect(try deployment.appointmentHistory("rdv-1") == ["rdv-1-booked:true:", "rdv-1-booked-again:false:the appointment is already booked"])
        #expect(try deployment.appointmentReminders("rdv-1").count == 2)

        // Cancelled by the customer: the shop is told by e-mail and webhook, the reminders are off.
        try deployment.producer.xadd(queue: "appointments", payload: appointmentEvent("rdv-1", "cancelled", extra: #","by":"customer","reason":"Empêchement""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.appointment("rdv-1", "status || '|' || cancelled_by") == "cancelled|customer")
        #expect(try deployment.appointmentMessages("rdv-1").suffix(2) == ["appointment-cancelled-shop:email:sent",
                                                                           "appointment-cancelled-shop:webhook:sent"],
                "the customer who cancelled is not told")
        #expect(try deployment.appointmentReminders("rdv-1") == ["appointment_evening:cancelled", "appointment_soon:cancelled"])
        let cancelHooks = channels.http.requests(path: "/webhook")
        try #require(cancelHooks.count == 2)
        #expect(cancelHooks[1].verified == true)
        #expect(cancelHooks[1].body.contains(#""type":"appointment.cancelled""#) && cancelHooks[1].body.contains(#""cancelled_by":"customer""#)
                && cancelHooks[1].body.contains(#""reason":"Empêchement""#), "\(cancelHooks[1].body)")
        let cancelMail = try #require(channels.smtp.messages().first { $0.subject == "Rendez-vous rdv-1 annulé" })
        #expect(cancelMail.body?.contains("Marie Dupont a annulé son rendez-vous rdv-1") == true, "\(cancelMail.body ?? "")")

        // After the end, events are kept in the history and change nothing.
        try deployment.producer.xadd(queue: "appointments", payload: appointmentEvent("rdv-1", "attended"))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.appointment("rdv-1", "status") == "cancelled")
        #expect(try deployment.appointmentHistory("rdv-1").last == "rdv-1-attended:false:the appointment is already cancelled")

        // English for a customer who asked; no e-mail address: the confirmation goes by SMS.
        try deployment.producer.xadd(queue: "appointments", payload: booked("rdv-en", start: rfc3339(start), end: rfc3339(end), locale: "en"))
        try deployment.producer.xadd(queue: "appointments", payload: booked("rdv-sms", start: rfc3339(start), end: rfc3339(end), email: nil))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.waitUntilDelivered())
        let english = try #require(channels.smtp.messages().first { $0.subject?.hasPrefix("Your appointment at Salon Léa is confirmed") == true })
        #expect(english.subject?.hasSuffix(" at 10:00") == true && english.body?.contains("Hello Marie Dupont") == true, "\(english.body ?? "")")
        #expect(try deployment.appointmentMessages("rdv-sms") == ["appointment-booked-customer:sms:sent", "appointment-booked-shop:email:sent"])
        let sms = channels.http.requests(path: "/sms")
        try #require(sms.count == 1)
        let smsText = (try JSONSerialization.jsonObject(with: Data(sms[0].body.utf8)) as? [String: String])?["text"] ?? ""
        #expect(smsText.hasPrefix("Salon Léa : rendez-vous confirmé ") && smsText.contains(" à 10h00 (Coupe et brushing). Réf. rdv-sms."),
                "\(smsText)")

        #expect(try deployment.deadLetters().isEmpty)
        #expect(!daemon.log.contains("marie@example.fr"), "no e-mail address in the log")
        #expect(!daemon.log.contains("+33612345678"), "no phone number in the log")
    }

    @Test func eventsOutOfOrderAreRetriedOrKeptAsideAndReschedulingsConvergeOnTheLatest() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings)
        defer { daemon.stop() }
        let bookedAt = Date().addingTimeInterval(-600)
        let start = localTime(days: 5, hour: 14)
        let first = localTime(days: 6, hour: 9), second = localTime(days: 7, hour: 16, minute: 30)

        // The later rescheduling arrives before the booking: retried until the booking is in.
        try deployment.producer.xadd(queue: "appointments", payload: appointmentEvent(
            "rdv-2", "rescheduled", jobId: "move-2", at: rfc3339(bookedAt.addingTimeInterval(120)),
            extra: #","start":"\#(rfc3339(second))","end":"\#(rfc3339(second.addingTimeInterval(3600)))""#))
        let retried = try TestServers.withRedis { redis in
            try eventually(timeout: .seconds(20), every: .milliseconds(20)) {
                try redis.command("ZCARD", "\(deployment.prefix):appointments:retry").integer ?? 0 > 0
            }
        }
        #expect(retried, "the rescheduling of an appointment not booked yet waits in the retry set")
        #expect(try deployment.appointment("rdv-2", "status") == nil)
        try deployment.producer.xadd(queue: "appointments", payload: booked(
            "rdv-2", start: rfc3339(start), end: rfc3339(start.addingTimeInterval(2700)), at: rfc3339(bookedAt)))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.appointment("rdv-2", "starts_at = '\(rfc3339(second))'") == "t", "the retried rescheduling applied")

        // The earlier rescheduling arrives last: kept in the history, the later one stands.
        try deployment.producer.xadd(queue: "appointments", payload: appointmentEvent(
            "rdv-2", "rescheduled", jobId: "move-1", at: rfc3339(bookedAt.addingTimeInterval(60)),
            extra: #","start":"\#(rfc3339(first))","end":"\#(rfc3339(first.addingTimeInterval(3600)))""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.appointment("rdv-2", "starts_at = '\(rfc3339(second))' AND status = 'booked'") == "t")
        #expect(try deployment.appointmentHistory("rdv-2") == [
            "rdv-2-booked:true:", "move-2:true:", "move-1:false:a later booking or rescheduling is applied already",
        ])
        // The reminders are the later rescheduling's: the booking's were cancelled.
        #expect(try deployment.appointmentReminders("rdv-2") == ["appointment_evening:cancelled", "appointment_soon:cancelled",
                                                                 "appointment_evening:pending", "appointment_soon:pending"])
        #expect(try deployment.query("""
            SELECT count(*) FROM relais.reminders WHERE order_id = 'rdv-2' AND status = 'pending'
              AND due_at = '\(rfc3339(second.addingTimeInterval(-3600)))'
            """)[0][0] == "1", "the hour-before reminder is one hour before the new start")
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.appointmentMessages("rdv-2") == [
            "appointment-booked-customer:email:sent", "appointment-booked-shop:email:sent",
            "appointment-rescheduled-customer:email:sent", "appointment-rescheduled-customer:sms:sent",
        ], "one rescheduling notice, by e-mail and SMS")
        let moved = try #require(channels.smtp.messages().first { $0.subject?.hasPrefix("Votre rendez-vous chez Salon Léa est déplacé") == true })
        #expect(moved.body?.contains("Nouvel horaire : ") == true && moved.body?.contains(", de 16h30 à 17h30") == true, "\(moved.body ?? "")")

        // Cancelled by the shop: the customer is told, not the shop; a rescheduling after it is kept aside.
        try deployment.producer.xadd(queue: "appointments", payload: appointmentEvent(
            "rdv-2", "cancelled", at: rfc3339(bookedAt.addingTimeInterval(300)), extra: #","by":"shop","reason":"Salon fermé""#))
        try deployment.producer.xadd(queue: "appointments", payload: appointmentEvent(
            "rdv-2", "rescheduled", jobId: "move-3", at: rfc3339(bookedAt.addingTimeInterval(400)),
            extra: #","start":"\#(rfc3339(first))","end":"\#(rfc3339(first.addingTimeInterval(3600)))""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.appointment("rdv-2", "status || '|' || cancelled_by") == "cancelled|shop")
        #expect(try deployment.appointment("rdv-2", "starts_at = '\(rfc3339(second))'") == "t")
        #expect(try deployment.appointmentHistory("rdv-2").suffix(2) == ["rdv-2-cancelled:true:", "move-3:false:the appointment is already cancelled"])
        #expect(try deployment.query("SELECT count(*) FROM relais.reminders WHERE order_id = 'rdv-2' AND status = 'pending'")[0][0] == "0")
        #expect(try deployment.waitUntilDelivered())
        #expect(try deployment.appointmentMessages("rdv-2").suffix(2) == ["appointment-cancelled-customer:email:sent",
                                                                           "appointment-cancelled-customer:sms:sent"])
        let cancelled = try #require(channels.smtp.messages().first { $0.subject?.hasPrefix("Votre rendez-vous chez Salon Léa du ") == true })
        #expect(cancelled.body?.contains("Salon Léa a dû annuler votre rendez-vous") == true
                && cancelled.body?.contains("Motif : Salon fermé") == true, "\(cancelled.body ?? "")")
        #expect(try deployment.deadLetters().isEmpty)
    }

    @Test func badJobsAreDeadLetteredNamingTheField() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start(["RELAIS_MAX_ATTEMPTS": "2"])
        defer { daemon.stop() }
        let start = rfc3339(localTime(days: 3, hour: 10)), end = rfc3339(localTime(days: 3, hour: 11))
        let good = booked("rdv-x", start: start, end: end)
        let cases: [(id: String, payload: String, code: String, reason: String)] = [
            ("bad-end", booked("rdv-x", jobId: "bad-end", start: end, end: start), "invalid_field", "data.end: must be after start"),
            ("bad-zone", good.replacingOccurrences(of: #""id":"rdv-x-booked""#, with: #""id":"bad-zone""#)
                .replacingOccurrences(of: "Europe/Paris", with: "Europe/Lutece"),
             "invalid_field", "data.shop.timezone: must be an IANA time zone such as Europe/Paris"),
            ("bad-email", booked("rdv-x", jobId: "bad-email", start: start, end: end, email: "marie@"), "invalid_field",
             "data.customer.email: must be an e-mail address"),
            ("bad-service", good.replacingOccurrences(of: #""id":"rdv-x-booked""#, with: #""id":"bad-service""#)
                .replacingOccurrences(of: #""service":{"name":"Coupe et brushing","duration_minutes":45},"#, with: ""),
             "missing_field", "data.service: is required"),
            ("bad-by", appointmentEvent("rdv-x", "cancelled", jobId: "bad-by", extra: #","by":"salon""#), "invalid_field",
             "data.by: must be one of shop, customer, platform"),
            ("bad-type", appointmentEvent("rdv-x", "moved", jobId: "bad-type"), "unknown_type", "\"appointment.moved\""),
            ("never-booked", appointmentEvent("rdv-ghost", "attended", jobId: "never-booked"), "attempts_exhausted",
             "the appointment is not booked yet"),
        ]
        for entry in cases { try deployment.producer.xadd(queue: "appointments", payload: entry.payload) }
        #expect(try eventually(timeout: .seconds(30)) { try deployment.deadLetters().count == cases.count })
        let letters = Dictionary(uniqueKeysWithValues: try deployment.deadLetters().map { ($0["job_id"] ?? "", $0) })
        for entry in cases {
            let letter = letters[entry.id]
            #expect(letter?["queue"] == "appointments" && letter?["code"] == entry.code, "\(entry.id): \(letter ?? [:])")
            #expect(letter?["reason"]?.contains(entry.reason) == true, "\(entry.id): \(letter?["reason"] ?? "no letter")")
        }
        #expect(try deployment.query("SELECT count(*) FROM relais.appointments")[0][0] == "0", "no bad job took effect")
        #expect(try deployment.query("SELECT count(*) FROM relais.outbox")[0][0] == "0")
        #expect(daemon.process.isRunning)
        #expect(!daemon.log.contains("marie@"), "no e-mail address in the log")
    }

    /// The reminders' due times follow the shop's clock across DST changes (both zones'),
    /// and the hour-before reminder falling in quiet hours moves to their end.
    @Test func remindersAreDueOnTheShopsClockAcrossDSTChanges() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        // Paris springs forward on 28 March 2027: the eve is on winter time, the morning on
        // summer time, and 07:30 is in the quiet hours (20:00–08:00).
        try deployment.producer.xadd(queue: "appointments", payload: booked(
            "rdv-paris", start: "2027-03-28T08:30:00+02:00", end: "2027-03-28T09:15:00+02:00"))
        // New York falls back on 7 November 2027: the eve is on summer time (-04:00), the day on winter time.
        try deployment.producer.xadd(queue: "appointments", payload: booked(
            "rdv-ny", start: "2027-11-07T10:00:00-05:00", end: "2027-11-07T11:00:00-05:00", zone: "America/New_York"))
        #expect(try deployment.waitUntilDrained())
        let due = { (id: String) in
            try deployment.query("""
                SELECT kind || ' ' || to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM relais.reminders
                WHERE order_id = '\(id)' AND subject = 'appointment' ORDER BY due_at
                """).map { $0[0]! }
        }
        #expect(try due("rdv-paris") == ["appointment_evening 2027-03-27T17:00:00Z", "appointment_soon 2027-03-28T06:00:00Z"],
                "18:00 CET on the eve; 07:30 CEST moved to 08:00 CEST")
        #expect(try due("rdv-ny") == ["appointment_evening 2027-11-06T22:00:00Z", "appointment_soon 2027-11-07T14:00:00Z"],
                "18:00 EDT on the eve; 09:00 EST, one real hour before 10:00 EST")
    }

    /// A reminder goes out through the scheduler into the SMTP sink and the SMS gateway, at
    /// the end of the quiet hours (on the shop's clock) it was due in; a cancelled booking's
    /// and a rescheduled one's do not.
    @Test func theHourBeforeReminderIsSentAtTheEndOfTheQuietHoursItFellIn() throws {
        let zone = "America/New_York"
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        // A one-minute quiet period on the shop's clock, starting at the next whole minute
        // unless this one has just begun; the reminder (90 s before a start 45 s after the
        // quiet period) is due 15 s into it.
        let now = Date()
        let minuteStart = calendar.dateInterval(of: .minute, for: now)!.start
        let quietStart = now.timeIntervalSince(minuteStart) < 10 ? minuteStart : minuteStart.addingTimeInterval(60)
        let quietEnd = quietStart.addingTimeInterval(60)
        let clock = { (date: Date) in
            let parts = calendar.dateComponents([.hour, .minute], from: date)
            return String(format: "%02d:%02d", parts.hour!, parts.minute!)
        }
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings.merging([
            "RELAIS_QUIET_HOURS": "\(clock(quietStart))-\(clock(quietEnd))", "RELAIS_REMINDER_BEFORE_SLOT": "90s",
        ]) { $1 })
        defer { daemon.stop() }
        let start = quietEnd.addingTimeInterval(45), end = start.addingTimeInterval(1800)
        for id in ["rdv-soon", "rdv-gone", "rdv-moved"] {
            try deployment.producer.xadd(queue: "appointments", payload: booked(id, start: rfc3339(start), end: rfc3339(end), zone: zone))
        }
        try deployment.producer.xadd(queue: "appointments", payload: appointmentEvent("rdv-gone", "cancelled", extra: #","by":"customer""#))
        let later = start.addingTimeInterval(3 * 86_400)
        try deployment.producer.xadd(queue: "appointments", payload: appointmentEvent(
            "rdv-moved", "rescheduled", extra: #","start":"\#(rfc3339(later))","end":"\#(rfc3339(later.addingTimeInterval(1800)))""#))
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.query("""
            SELECT count(*) FROM relais.reminders WHERE order_id = 'rdv-soon' AND kind = 'appointment_soon' AND status = 'pending'
              AND due_at = '\(rfc3339(quietEnd))'
            """)[0][0] == "1", "due at the end of the quiet hours, not 90 s before the start")

        let sent = try eventually(timeout: .seconds(150), every: .milliseconds(200)) {
            try deployment.appointmentMessages("rdv-soon").contains("appointment-soon-customer:email:sent")
        }
        let state = try deployment.appointmentReminders("rdv-soon")
        try #require(sent, "the reminder went out: \(state)")
        let firedAt = try #require(Double(try deployment.query("""
            SELECT extract(epoch FROM created_at) FROM relais.notification_log
            WHERE subject_id = 'rdv-soon' AND template = 'appointment-soon-customer' AND channel = 'email'
            """)[0][0] ?? ""))
        #expect(firedAt >= quietEnd.timeIntervalSince1970, "not inside the quiet hours")
        #expect(firedAt < start.timeIntervalSince1970, "before the appointment")
        let mail = try #require(channels.smtp.waitForMessages(4).first { $0.subject?.hasPrefix("Votre rendez-vous chez Salon Léa à ") == true })
        #expect(mail.recipients == ["marie@example.fr"] && mail.body?.contains("commence bientôt") == true, "\(mail.body ?? "")")
        #expect(eventually(timeout: .seconds(10)) {
            channels.http.requests(path: "/sms").filter { $0.body.contains("rdv-soon") }.count == 1
        }, "and by SMS: it asks the customer to come")
        #expect(try deployment.waitUntilDelivered())

        #expect(try deployment.appointmentReminders("rdv-soon") == ["appointment_soon:sent"])
        #expect(try deployment.appointmentReminders("rdv-gone") == ["appointment_soon:cancelled"])
        #expect(try deployment.appointmentReminders("rdv-moved") == ["appointment_soon:cancelled", "appointment_evening:pending",
                                                                     "appointment_soon:pending"])
        #expect(try deployment.query("SELECT count(*) FROM relais.notification_log WHERE template = 'appointment-soon-customer'")[0][0] == "2",
                "one e-mail and one SMS, for rdv-soon only")
        #expect(try deployment.deadLetters().isEmpty)
    }
}

import Foundation
import RelaisContract
import RelaisDomain
import RelaisJobs
import Testing

private func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text)! }

private let decoder = EnvelopeDecoder(AppointmentCatalog.self)

/// The job `data` decodes to, or the rejection its dead letter would carry.
private func decode(_ type: String, _ data: String) -> Result<AppointmentJob, JobRejection> {
    let json = #"{"id":"j1","type":"\#(type)","data":\#(data)}"#
    switch decoder.decode(Array(json.utf8)) {
    case .success(let envelope): return .success(envelope.job)
    case .failure(let failure): return .failure(failure.rejection)
    }
}

private let bookedJSON = #"""
    {"appointment_id":"rdv-1","at":"2026-11-20T10:00:00+01:00",
     "shop":{"id":"s1","name":"Salon Léa","email":"salon@example.fr","webhook_url":"https://salon.example/hooks","timezone":"Europe/Paris","address":"12 rue des Lilas, 75011 Paris"},
     "service":{"name":"Coupe et brushing","duration_minutes":45},
     "start":"2026-11-28T10:00:00+01:00","end":"2026-11-28T10:45:00+01:00",
     "customer":{"name":"Marie Dupont","email":"marie@example.fr","phone":"+33612345678","locale":"fr"}}
    """#

/// A booking of `id` at `start` (45 minutes), booked at `bookedAt`, in `zone`.
private func booking(_ id: String = "rdv-1", start: String = "2026-11-28T10:00:00+01:00", bookedAt: String = "2026-11-20T10:00:00+01:00",
                     zone: String = "Europe/Paris", customerEmail: String? = "marie@example.fr") -> BookedAppointment {
    let begin = at(start)
    return BookedAppointment(
        appointmentId: id, at: at(bookedAt),
        shop: .init(id: "s1", name: "Salon Léa", email: "salon@example.fr", webhookURL: "https://salon.example/hooks", timeZone: zone),
        address: "12 rue des Lilas", service: "Coupe", durationMinutes: 45,
        start: begin, end: Timestamp(microseconds: begin.microseconds + 45 * 60_000_000),
        customer: .init(name: "Marie Dupont", email: customerEmail, phone: "+33612345678"))
}

private func stored(_ booking: BookedAppointment, status: AppointmentStatus = .booked) -> [ExactText: StoredAppointment] {
    [ExactText(booking.appointmentId): StoredAppointment(booking: booking, status: status, scheduledAt: booking.at)]
}

private let channels: Set<Channel> = [.email, .sms, .webhook]

private func plan(_ jobs: [(String, AppointmentJob)], stored: [ExactText: StoredAppointment] = [:],
                  now: String = "2026-11-20T10:00:00+01:00", rules: ReminderRules = ReminderRules()) -> AppointmentPlan {
    AppointmentPlan.make(jobs.map { (id: $0.0, type: type(of: $0.1), job: $0.1) }, stored: stored, now: at(now), channels: channels,
                         rules: rules)
}

private func type(of job: AppointmentJob) -> String {
    switch job {
    case .booked: "appointment.booked"
    case .rescheduled: "appointment.rescheduled"
    case .cancelled: "appointment.cancelled"
    case .attended: "appointment.attended"
    case .missed: "appointment.missed"
    }
}

/// `template:channel` of each message.
private func sent(_ plan: AppointmentPlan) -> [String] {
    plan.messages.map { "\($0.template):\($0.channel.rawValue)" }
}

@Suite("Appointment plan")
struct AppointmentPlanTests {
    @Test func aBookingConfirmsToBothSidesAndPlansTheEveningAndHourBeforeReminders() {
        let result = plan([("b1", .booked(booking()))])
        #expect(result.outcomes == [.applied])
        #expect(result.appointments.map(\.status) == [.booked])
        #expect(sent(result) == ["appointment-booked-customer:email", "appointment-booked-shop:email", "appointment-booked-shop:webhook"],
                "the confirmation asks nothing of the customer: no SMS beside the e-mail")
        #expect(result.reminders.planned.map(\.reminder) == [
            PlannedReminder(kind: .appointmentEvening, due: at("2026-11-27T18:00:00+01:00")),
            PlannedReminder(kind: .appointmentSoon, due: at("2026-11-28T09:00:00+01:00")),
        ])
        let facts = result.messages[0].facts
        #expect(facts.about == .appointment && facts.orderId == "rdv-1" && facts.items.isEmpty && facts.totalCents == 0)
        #expect(facts.appointment == AppointmentFacts(service: "Coupe", durationMinutes: 45, start: at("2026-11-28T10:00:00+01:00"),
                                                      end: at("2026-11-28T10:45:00+01:00"), address: "12 rue des Lilas", status: .booked))
        #expect(result.history.map(\.applied) == [true])
    }

    @Test func eveningAndSoonRemindersAreTheAppointmentsOwnKinds() {
        #expect(ReminderKind.appointmentEvening.rawValue == "appointment_evening")
        #expect(ReminderKind.appointmentSoon.rawValue == "appointment_soon")
        #expect(ReminderKind.appointmentEvening.template == .appointmentEveningCustomer)
        #expect(ReminderKind.appointmentSoon.template == .appointmentSoonCustomer)
        #expect(ReminderKind.appointmentEvening.subject == .appointment && ReminderKind.appointmentSoon.subject == .appointment)
        #expect(MessageTemplate.appointmentBookedShop.recipient == .shop && MessageTemplate.appointmentCancelledShop.recipient == .shop)
        #expect(MessageRouting.customerSMSTemplates.isSuperset(of: [.appointmentEveningCustomer, .appointmentSoonCustomer,
                                                                   .appointmentRescheduledCustomer, .appointmentCancelledCustomer]))
        #expect(!MessageRouting.customerSMSTemplates.contains(.appointmentBookedCustomer))
    }

    @Test func anyOtherEventOfAnAppointmentNotBookedYetIsRetried() {
        let start = at("2026-11-29T10:00:00+01:00"), end = at("2026-11-29T11:00:00+01:00")
        let result = plan([
            ("r1", .rescheduled(appointmentId: "rdv-1", at: at("2026-11-21T10:00:00+01:00"), start: start, end: end)),
            ("c1", .cancelled(appointmentId: "rdv-1", at: at("2026-11-21T10:00:00+01:00"), by: .shop, reason: nil)),
            ("a1", .attended(appointmentId: "rdv-1", at: at("2026-11-21T10:00:00+01:00"))),
            ("m1", .missed(appointmentId: "rdv-1", at: at("2026-11-21T10:00:00+01:00"))),
        ])
        #expect(result.outcomes == Array(repeating: .retry(reason: "the appointment is not booked yet"), count: 4))
        #expect(result.appointments.isEmpty && result.history.isEmpty && result.messages.isEmpty && result.reminders == ReminderChanges())
    }

    @Test func aSecondBookingOfAKnownAppointmentIsKeptButChangesNothing() {
        let other = booking(start: "2026-12-05T10:00:00+01:00", bookedAt: "2026-11-21T10:00:00+01:00")
        let result = plan([("b2", .booked(other))], stored: stored(booking()))
        #expect(result.outcomes == [.ignored(reason: "the appointment is already booked")])
        #expect(result.history.map(\.applied) == [false] && result.history.first?.note == "the appointment is already booked")
        #expect(result.appointments.isEmpty && result.messages.isEmpty && result.reminders == ReminderChanges())
        // In one batch: the first booking applies, the second is the one kept aside.
        let batch = plan([("b1", .booked(booking())), ("b2", .booked(other))])
        #expect(batch.outcomes == [.applied, .ignored(reason: "the appointment is already booked")])
        #expect(batch.appointments.map(\.booking.start) == [at("2026-11-28T10:00:00+01:00")])
    }

    @Test func aReschedulingMovesTheTimesReplansTheRemindersAndTellsTheCustomer() {
        let start = at("2026-12-02T15:00:00+01:00"), end = at("2026-12-02T15:45:00+01:00")
        let result = plan([("r1", .rescheduled(appointmentId: "rdv-1", at: at("2026-11-21T09:00:00+01:00"), start: start, end: end))],
                          stored: stored(booking()), now: "2026-11-21T09:00:00+01:00")
        #expect(result.outcomes == [.applied])
        #expect(result.appointments.first?.booking.start == start && result.appointments.first?.booking.end == end)
        #expect(result.appointments.first?.scheduledAt == at("2026-11-21T09:00:00+01:00"))
        #expect(result.reminders.cancellations.map(\.orderId) == ["rdv-1"])
        #expect(result.reminders.cancellations.map(\.kinds) == [[.appointmentEvening, .appointmentSoon]])
        #expect(result.reminders.planned.map(\.reminder) == [
            PlannedReminder(kind: .appointmentEvening, due: at("2026-12-01T18:00:00+01:00")),
            PlannedReminder(kind: .appointmentSoon, due: at("2026-12-02T14:00:00+01:00")),
        ])
        #expect(sent(result) == ["appointment-rescheduled-customer:email", "appointment-rescheduled-customer:sms"],
                "a change the customer must act on goes by SMS too; the shop made or knows it")
        let facts = result.messages[0].facts.appointment
        #expect(facts?.start == start && facts?.previousStart == at("2026-11-28T10:00:00+01:00")
                && facts?.previousEnd == at("2026-11-28T10:45:00+01:00"))
    }

    @Test func twoReschedulingsOutOfOrderEndOnTheLaterOne() {
        let early = at("2026-11-21T09:00:00+01:00"), late = at("2026-11-22T09:00:00+01:00")
        let first: AppointmentJob = .rescheduled(appointmentId: "rdv-1", at: early, start: at("2026-12-01T10:00:00+01:00"),
                                                 end: at("2026-12-01T11:00:00+01:00"))
        let second: AppointmentJob = .rescheduled(appointmentId: "rdv-1", at: late, start: at("2026-12-03T10:00:00+01:00"),
                                                  end: at("2026-12-03T11:00:00+01:00"))
        for order in [[("r1", first), ("r2", second)], [("r2", second), ("r1", first)]] {
            let result = plan(order, stored: stored(booking()), now: "2026-11-22T10:00:00+01:00")
            #expect(result.appointments.map(\.booking.start) == [at("2026-12-03T10:00:00+01:00")], "order \(order.map(\.0))")
            #expect(result.reminders.planned.allSatisfy { $0.reminder.due < at("2026-12-03T10:00:00+01:00")
                        && $0.reminder.due > at("2026-12-02T00:00:00+01:00") },
                    "only the later rescheduling's reminders stay planned: \(result.reminders.planned)")
        }
        // Across batches: the earlier one arrives after the later one was applied.
        var current = stored(booking())
        current[ExactText("rdv-1")]!.scheduledAt = late
        let result = plan([("r1", first)], stored: current)
        #expect(result.outcomes == [.ignored(reason: "a later booking or rescheduling is applied already")])
        #expect(result.history.map(\.applied) == [false] && result.messages.isEmpty && result.reminders == ReminderChanges())
        // Nor does one that happened before the booking itself.
        let beforeBooking = plan([("r0", .rescheduled(appointmentId: "rdv-1", at: at("2026-11-19T09:00:00+01:00"),
                                                      start: at("2026-12-01T10:00:00+01:00"), end: at("2026-12-01T11:00:00+01:00")))],
                                 stored: stored(booking()))
        #expect(beforeBooking.outcomes == [.ignored(reason: "a later booking or rescheduling is applied already")])
    }

    @Test("a cancellation tells the side that did not cancel", arguments: [
        (CancelledBy.customer, ["appointment-cancelled-shop:email", "appointment-cancelled-shop:webhook"]),
        (CancelledBy.shop, ["appointment-cancelled-customer:email", "appointment-cancelled-customer:sms"]),
        (CancelledBy.platform, ["appointment-cancelled-customer:email", "appointment-cancelled-customer:sms",
                                "appointment-cancelled-shop:email", "appointment-cancelled-shop:webhook"]),
    ])
    func cancellation(by: CancelledBy, messages: [String]) {
        let result = plan([("c1", .cancelled(appointmentId: "rdv-1", at: at("2026-11-21T09:00:00+01:00"), by: by, reason: "Fermeture"))],
                          stored: stored(booking()))
        #expect(result.outcomes == [.applied])
        #expect(result.appointments.first?.status == .cancelled && result.appointments.first?.cancelledBy == by)
        #expect(result.appointments.first?.cancelReason == "Fermeture")
        #expect(sent(result) == messages)
        #expect(result.messages.allSatisfy { $0.facts.cancelledBy == by && $0.facts.cancelReason == "Fermeture"
                    && $0.facts.appointment?.status == .cancelled })
        #expect(result.reminders.cancellations.map(\.orderId) == ["rdv-1"])
        #expect(result.reminders.cancellations.map(\.kinds) == [[.appointmentEvening, .appointmentSoon]])
        #expect(result.reminders.planned.isEmpty)
    }

    @Test func attendedAndMissedAreFinalEvenBeforeTheStartAndSendNothing() {
        for (job, status) in [(AppointmentJob.attended(appointmentId: "rdv-1", at: at("2026-11-21T09:00:00+01:00")), AppointmentStatus.attended),
                              (.missed(appointmentId: "rdv-1", at: at("2026-11-21T09:00:00+01:00")), .missed)] {
            let result = plan([("e1", job)], stored: stored(booking()))
            #expect(result.outcomes == [.applied])
            #expect(result.appointments.map(\.status) == [status])
            #expect(result.messages.isEmpty)
            #expect(result.reminders.cancellations.map(\.kinds) == [[.appointmentEvening, .appointmentSoon]])
        }
    }

    @Test func everyEventAfterAFinalStatusIsKeptButNotApplied() {
        let jobs: [(String, AppointmentJob)] = [
            ("r1", .rescheduled(appointmentId: "rdv-1", at: at("2026-11-25T09:00:00+01:00"), start: at("2026-12-01T10:00:00+01:00"),
                                end: at("2026-12-01T11:00:00+01:00"))),
            ("c1", .cancelled(appointmentId: "rdv-1", at: at("2026-11-25T09:00:00+01:00"), by: .customer, reason: nil)),
            ("a1", .attended(appointmentId: "rdv-1", at: at("2026-11-25T09:00:00+01:00"))),
            ("b2", .booked(booking(bookedAt: "2026-11-25T09:00:00+01:00"))),
        ]
        let result = plan(jobs, stored: stored(booking(), status: .cancelled))
        #expect(result.outcomes == Array(repeating: .ignored(reason: "the appointment is already cancelled"), count: 4))
        #expect(result.history.map(\.jobId) == ["r1", "c1", "a1", "b2"] && result.history.allSatisfy { !$0.applied })
        #expect(result.appointments.isEmpty && result.messages.isEmpty && result.reminders == ReminderChanges())
        // In one batch: cancelled, then a late rescheduling is kept aside.
        let batch = plan([("c1", .cancelled(appointmentId: "rdv-1", at: at("2026-11-21T09:00:00+01:00"), by: .shop, reason: nil)), jobs[0]],
                         stored: stored(booking()))
        #expect(batch.outcomes == [.applied, .ignored(reason: "the appointment is already cancelled")])
        #expect(batch.appointments.map(\.booking.start) == [at("2026-11-28T10:00:00+01:00")])
        #expect(batch.reminders.planned.isEmpty, "the rescheduling after the cancellation planned nothing")
    }

    @Test func anOrderThatEndsLeavesTheRemindersOfAnAppointmentWithTheSameIdAlone() {
        let order = PlacedOrder(orderId: "rdv-1", shop: .init(id: "s1", name: "Salon Léa"), customer: .init(name: "Marie"),
                                items: [.init(sku: "a", name: "A", quantity: 1, unitPriceCents: 100)], totalCents: 100,
                                placedAt: at("2026-11-20T10:00:00+01:00"))
        let ended = OrderPlan.make([("c1", "order.collected", .collected(orderId: "rdv-1", at: at("2026-11-21T10:00:00+01:00")))],
                                   stored: [ExactText("rdv-1"): StoredOrder(order: order, status: .ready)], channels: [])
        #expect(!ended.reminders.cancellations.isEmpty)
        #expect(ended.reminders.cancellations.allSatisfy { $0.kinds.allSatisfy { $0.subject == .order } },
                "\(ended.reminders.cancellations)")
    }

    @Test func aCustomerWithoutEmailGetsTheConfirmationBySMS() {
        let result = plan([("b1", .booked(booking(customerEmail: nil)))])
        #expect(sent(result) == ["appointment-booked-customer:sms", "appointment-booked-shop:email", "appointment-booked-shop:webhook"])
    }
}

@Suite("Appointment reminders in the shop's zone, across DST changes and quiet hours")
struct AppointmentReminderTimesTests {
    private func reminders(start: String, zone: String = "Europe/Paris", now: String, rules: ReminderRules = ReminderRules()) -> [PlannedReminder] {
        AppointmentPlan.reminders(of: booking(start: start, zone: zone), now: at(now), rules: rules)
    }

    @Test func onTheSpringForwardDayTheEveningIsSixOnTheEvesClockAndTheHourBeforeIsOneRealHour() {
        // 29 March 2026: Paris skips 02:00–03:00. The eve is still on winter time (+01:00).
        #expect(reminders(start: "2026-03-29T10:00:00+02:00", now: "2026-03-20T12:00:00+01:00") == [
            PlannedReminder(kind: .appointmentEvening, due: at("2026-03-28T18:00:00+01:00")),
            PlannedReminder(kind: .appointmentSoon, due: at("2026-03-29T09:00:00+02:00")),
        ])
        // The day after: the eve is the change day itself, on summer time.
        #expect(reminders(start: "2026-03-30T10:00:00+02:00", now: "2026-03-20T12:00:00+01:00").first
                == PlannedReminder(kind: .appointmentEvening, due: at("2026-03-29T18:00:00+02:00")))
    }

    @Test func onTheFallBackDayTheEveIsOnSummerTimeAndTheAppointmentOnWinterTime() {
        #expect(reminders(start: "2026-10-25T10:00:00+01:00", now: "2026-10-20T12:00:00+02:00") == [
            PlannedReminder(kind: .appointmentEvening, due: at("2026-10-24T18:00:00+02:00")),
            PlannedReminder(kind: .appointmentSoon, due: at("2026-10-25T09:00:00+01:00")),
        ])
    }

    @Test func theHourBeforeFallingInQuietHoursMovesToTheirEndOrIsDropped() {
        // 08:30 CEST on the spring change day: one hour before is 07:30, in the quiet hours
        // (20:00–08:00): sent at 08:00 CEST instead.
        #expect(reminders(start: "2026-03-29T08:30:00+02:00", now: "2026-03-20T12:00:00+01:00").last
                == PlannedReminder(kind: .appointmentSoon, due: at("2026-03-29T08:00:00+02:00")))
        // At 08:00, the end of the quiet hours is the start itself: no hour-before reminder.
        #expect(reminders(start: "2026-03-29T08:00:00+02:00", now: "2026-03-20T12:00:00+01:00").map(\.kind) == [.appointmentEvening])
        // An evening time inside the quiet hours moves to their end, the appointment's morning.
        var lateEvening = ReminderRules()
        lateEvening.eveningTime = LocalClockTime(hour: 21, minute: 0)
        #expect(reminders(start: "2026-10-25T11:00:00+01:00", now: "2026-10-20T12:00:00+02:00", rules: lateEvening).first
                == PlannedReminder(kind: .appointmentEvening, due: at("2026-10-25T08:00:00+01:00")))
    }

    @Test func theShopsZoneNotParisDecides() {
        // New York changes on 8 March 2026, three weeks before Paris.
        #expect(reminders(start: "2026-03-08T10:00:00-04:00", zone: "America/New_York", now: "2026-03-01T12:00:00-05:00") == [
            PlannedReminder(kind: .appointmentEvening, due: at("2026-03-07T18:00:00-05:00")),
            PlannedReminder(kind: .appointmentSoon, due: at("2026-03-08T09:00:00-04:00")),
        ])
    }

    @Test func aBookingLessThanADayAheadHasNoEveningReminderAndOneAlreadyStartedNone() {
        #expect(reminders(start: "2026-11-28T15:00:00+01:00", now: "2026-11-28T10:00:00+01:00").map(\.kind) == [.appointmentSoon])
        #expect(reminders(start: "2026-11-28T10:00:00+01:00", now: "2026-11-28T10:00:00+01:00").isEmpty)
    }
}

@Suite("Appointment jobs as the catalogue reads them")
struct AppointmentCatalogTests {
    @Test func aFullBookingDecodes() throws {
        let job = try decode("appointment.booked", bookedJSON).get()
        guard case .booked(let booking) = job else {
            Issue.record("not a booking: \(job)")
            return
        }
        #expect(booking.appointmentId == "rdv-1" && booking.service == "Coupe et brushing" && booking.durationMinutes == 45)
        #expect(booking.address == "12 rue des Lilas, 75011 Paris" && booking.shop.webhookURL == "https://salon.example/hooks")
        #expect(booking.start == at("2026-11-28T10:00:00+01:00") && booking.end == at("2026-11-28T10:45:00+01:00"))
        #expect(booking.customer.language == .fr && booking.customer.phone == "+33612345678")
    }

    @Test("each broken rule is rejected naming its field", arguments: [
        ("appointment.booked", #""end":"2026-11-28T10:45:00+01:00""#, #""end":"2026-11-28T09:45:00+01:00""#, "data.end", "must be after start"),
        ("appointment.booked", #""timezone":"Europe/Paris""#, #""timezone":"Europe/Pariss""#, "data.shop.timezone", "IANA time zone"),
        ("appointment.booked", #""email":"marie@example.fr""#, #""email":"marie@""#, "data.customer.email", "e-mail address"),
        ("appointment.booked", #""phone":"+33612345678""#, #""phone":"0612345678""#, "data.customer.phone", "E.164"),
        ("appointment.booked", #""locale":"fr""#, #""locale":"de""#, "data.customer.locale", "fr or en"),
        ("appointment.booked", #""duration_minutes":45"#, #""duration_minutes":0"#, "data.service.duration_minutes", "between 1 and 10080"),
        ("appointment.booked", #""name":"Coupe et brushing","#, "", "data.service.name", "is required"),
        ("appointment.booked", #""webhook_url":"https://salon.example/hooks""#, #""webhook_url":"ftp://salon.example""#,
         "data.shop.webhook_url", "http or https"),
        ("appointment.booked", #""address":"12 rue des Lilas, 75011 Paris""#, #""address":"\#(String(repeating: "a", count: 501))""#,
         "data.shop.address", "at most 500"),
        ("appointment.booked", #""at":"2026-11-20T10:00:00+01:00""#, #""at":"yesterday""#, "data.at", "RFC 3339"),
    ] as [(String, String, String, String, String)])
    func rejection(type: String, original: String, broken: String, field: String, says: String) throws {
        let data = bookedJSON.replacingOccurrences(of: original, with: broken)
        #expect(data != bookedJSON, "the fixture has \(original)")
        guard case .failure(let rejection) = decode(type, data) else {
            Issue.record("accepted with \(broken)")
            return
        }
        #expect(rejection.field == field, "\(rejection)")
        #expect(rejection.description.contains(says), "\(rejection)")
    }

    @Test func theOtherEventsNameTheirFields() throws {
        let base = #""appointment_id":"rdv-1","at":"2026-11-21T09:00:00+01:00""#
        let moved = decode("appointment.rescheduled", #"{\#(base),"start":"2026-12-01T10:00:00+01:00","end":"2026-12-01T10:00:00+01:00"}"#)
        #expect((try? moved.get()) == nil)
        if case .failure(let rejection) = moved { #expect(rejection.field == "data.end") }
        if case .failure(let rejection) = decode("appointment.cancelled", #"{\#(base),"by":"salon"}"#) {
            #expect(rejection.field == "data.by", "\(rejection)")
        } else { Issue.record("by: salon was accepted") }
        if case .failure(let rejection) = decode("appointment.attended", #"{"appointment_id":"rdv-1"}"#) {
            #expect(rejection.field == "data.at", "\(rejection)")
        } else { Issue.record("an attended without at was accepted") }
        if case .failure(let rejection) = decode("appointment.missed", #"{"at":"2026-11-21T09:00:00+01:00"}"#) {
            #expect(rejection.field == "data.appointment_id", "\(rejection)")
        } else { Issue.record("a missed without appointment_id was accepted") }
        #expect(try decode("appointment.cancelled", #"{\#(base),"by":"customer","reason":"Empêchement"}"#).get()
                == .cancelled(appointmentId: "rdv-1", at: at("2026-11-21T09:00:00+01:00"), by: .customer, reason: "Empêchement"))
        #expect(try decode("appointment.missed", #"{\#(base)}"#).get() == .missed(appointmentId: "rdv-1", at: at("2026-11-21T09:00:00+01:00")))
    }
}

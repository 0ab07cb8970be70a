import Foundation
import JSONReader
import PostgresClient
import RelaisDomain

/// Applies `appointments` jobs: the appointment, its history, the customer's reminders and
/// the outbox messages, in one transaction per batch, once per job id.
public final class AppointmentProcessor {
    private let appointments: AppointmentsRepository
    private let queue: String
    private let channels: Set<Channel>
    private let rules: ReminderRules
    private let now: @Sendable () -> Timestamp

    /// Connects to the database and checks the schema is the one this build expects.
    ///
    /// - Parameters:
    ///   - queue: the queue whose jobs it applies, the key of their idempotency ledger.
    ///   - channels: the delivery channels that are configured; messages for the others
    ///     go to the log channel.
    ///   - rules: when reminders are due.
    ///   - lockTimeout: how long a statement waits for a lock before the batch is retried.
    ///   - now: the clock reminders are planned against.
    public init(conninfo: String, queue: String, channels: Set<Channel>, rules: ReminderRules = ReminderRules(),
                lockTimeout: String = "5s", now: @escaping @Sendable () -> Timestamp = { Timestamp(Date()) }) throws {
        appointments = AppointmentsRepository(try ProcessorSupport.connect(conninfo, lockTimeout: lockTimeout))
        self.queue = queue
        self.channels = channels
        self.rules = rules
        self.now = now
    }

    /// Closes the connection.
    public func close() { appointments.db.close() }

    /// Commits the effects of `jobs` and returns their outcomes in the same order; throws
    /// only when PostgreSQL is unreachable or not set up.
    public func process(_ jobs: [QueuedJob<AppointmentJob>]) throws -> [JobOutcome] {
        try ProcessorSupport.commit(appointments.db, jobs, queue: queue, subject: \.appointmentId, lock: AppointmentSQL.lock,
                                    load: appointments.load) { [self] new, stored in
            let plan = AppointmentPlan.make(new.map { ($0.envelope.id, $0.envelope.type, $0.envelope.job) }, stored: stored,
                                            now: now(), channels: channels, rules: rules)
            try appointments.write(plan)
            return plan.outcomes
        }
    }
}

/// The appointments as their use cases read and write them, on one connection.
final class AppointmentsRepository {
    let db: PgConnection
    /// json-c, as the orders' repository: the `json` column keeps the text as written.
    private let encoder = JSONCEncoder()
    private let decoder = JSONDecoder()

    /// Works on `db`, connected by `ProcessorSupport.connect`.
    init(_ db: PgConnection) {
        self.db = db
    }

    /// The appointments with these ids that exist, with where a rescheduling moved them.
    ///
    /// Ids are compared byte for byte, as PostgreSQL compares them.
    func load(_ ids: Set<ExactText>) throws -> [ExactText: StoredAppointment] {
        guard !ids.isEmpty else { return [:] }
        var out: [ExactText: StoredAppointment] = [:]
        for row in try db.run(AppointmentSQL.load, [PgArray.text(ids.map(\.text))]).rows {
            guard let id = row[0], let status = row[1].flatMap(AppointmentStatus.init(rawValue:)), let details = row[2],
                  let start = row[3].flatMap(Int64.init), let end = row[4].flatMap(Int64.init),
                  let scheduledAt = row[5].flatMap(Int64.init)
            else { continue }
            var booking = try decoder.decode(BookedAppointment.self, from: Data(details.utf8))
            booking.start = Timestamp(microseconds: start)
            booking.end = Timestamp(microseconds: end)
            out[ExactText(id)] = StoredAppointment(booking: booking, status: status, scheduledAt: Timestamp(microseconds: scheduledAt),
                                                   cancelledBy: row[6].flatMap(CancelledBy.init(rawValue:)), cancelReason: row[7])
        }
        return out
    }

    /// Writes `plan`: history, appointments, messages and reminders.
    func write(_ plan: AppointmentPlan) throws {
        if !plan.history.isEmpty {
            let history = plan.history
            db.send(AppointmentSQL.history, [
                PgArray.text(history.map(\.orderId)), PgArray.text(history.map(\.jobId)),
                PgArray.text(history.map(\.type)), PgArray.integers(history.map(\.at.microseconds)),
                PgArray.booleans(history.map(\.applied)), PgArray.optionalText(history.map(\.note)),
            ])
        }
        if !plan.appointments.isEmpty {
            let rows = plan.appointments
            db.send(AppointmentSQL.upsert, [
                PgArray.text(rows.map(\.booking.appointmentId)), PgArray.text(rows.map(\.booking.shop.id)),
                PgArray.text(rows.map(\.booking.service)), PgArray.text(rows.map(\.status.rawValue)),
                PgArray.json(try rows.map { try encoder.encode($0.booking) }),
                PgArray.integers(rows.map(\.booking.start.microseconds)), PgArray.integers(rows.map(\.booking.end.microseconds)),
                PgArray.integers(rows.map(\.booking.at.microseconds)), PgArray.integers(rows.map(\.scheduledAt.microseconds)),
                PgArray.optionalText(rows.map(\.cancelledBy?.rawValue)), PgArray.optionalText(rows.map(\.cancelReason)),
            ])
        }
        try OutboxWrites.write(plan.messages, db, encoder)
        ReminderWrites.write(plan.reminders, db)
    }
}

/// The statements of the appointment use cases. Times travel as microseconds since the epoch.
enum AppointmentSQL {
    /// Takes a transaction-scoped advisory lock per appointment id, in a fixed order; the
    /// class key 7240 is the appointments' (orders take 7235, stock 7236–7238, quotes 7241).
    ///
    /// $1 text[] appointment ids (duplicates allowed).
    static let lock = PgStatement("appointments.lock", """
        SELECT count(pg_advisory_xact_lock(7240, k))
        FROM (SELECT DISTINCT hashtext(id) AS k FROM unnest($1::text[]) AS id ORDER BY 1) AS keys
        """)

    /// $1 text[] appointment ids.
    static let load = PgStatement("appointments.load", """
        SELECT appointment_id, status, booking::text,
               (extract(epoch FROM starts_at) * 1000000)::int8,
               (extract(epoch FROM ends_at) * 1000000)::int8,
               (extract(epoch FROM scheduled_at) * 1000000)::int8,
               cancelled_by, cancel_reason
        FROM relais.appointment_bookings WHERE appointment_id = ANY($1::text[])
        """)

    /// Inserts each appointment, or sets where an existing one stands (the booking's
    /// booking, shop and service never change).
    ///
    /// $1 text[] appointment ids (unique); $2 text[] shop ids; $3 text[] services;
    /// $4 text[] statuses; $5 JSON array of bookings (`PgArray.json`); $6 int8[] starts;
    /// $7 int8[] ends; $8 int8[] booked at; $9 int8[] scheduled at; $10 text[] cancelled by
    /// (NULL for none); $11 text[] cancellation reasons (NULL for none).
    static let upsert = PgStatement("appointments.upsert", """
        INSERT INTO relais.appointment_bookings AS a (appointment_id, shop_id, service, status, booking, starts_at, ends_at,
                                                      booked_at, scheduled_at, cancelled_by, cancel_reason)
        SELECT id, shop, service, status, booking,
               \(timestamp(fromMicros: "start_us")), \(timestamp(fromMicros: "end_us")),
               \(timestamp(fromMicros: "booked_us")), \(timestamp(fromMicros: "scheduled_us")), cancelled_by, reason
        FROM ROWS FROM (unnest($1::text[], $2::text[], $3::text[], $4::text[]), json_array_elements($5::json),
                        unnest($6::int8[], $7::int8[], $8::int8[], $9::int8[], $10::text[], $11::text[]))
            AS r(id, shop, service, status, booking, start_us, end_us, booked_us, scheduled_us, cancelled_by, reason)
        ON CONFLICT (appointment_id) DO UPDATE
        SET status = excluded.status, starts_at = excluded.starts_at, ends_at = excluded.ends_at,
            scheduled_at = excluded.scheduled_at, cancelled_by = excluded.cancelled_by,
            cancel_reason = excluded.cancel_reason, updated_at = now()
        """)

    /// $1 text[] appointment ids; $2 text[] job ids; $3 text[] types; $4 int8[] times; $5 bool[] applied; $6 text[] notes.
    static let history = PgStatement("appointments.history", """
        INSERT INTO relais.appointment_events (appointment_id, job_id, type, at, applied, note)
        SELECT id, job, type, \(timestamp(fromMicros: "at_us")), applied, note
        FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::bool[], $6::text[])
            AS e(id, job, type, at_us, applied, note)
        ON CONFLICT DO NOTHING
        """)
}

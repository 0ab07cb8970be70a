import Foundation
import JSONReader
import PostgresClient
import RelaisDomain

/// Applies `quotes` jobs to PostgreSQL: the quote's state and history, its messages and
/// its reminder, in one transaction per batch, once per job id.
public final class QuoteProcessor {
    private let quotes: QuotesRepository
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
    ///   - rules: when the reminder of a sent quote is due.
    ///   - lockTimeout: how long a statement waits for a lock before the batch is retried.
    ///   - now: the clock reminders are planned against.
    public init(conninfo: String, queue: String, channels: Set<Channel>, rules: ReminderRules = ReminderRules(),
                lockTimeout: String = "5s", now: @escaping @Sendable () -> Timestamp = { Timestamp(Date()) }) throws {
        quotes = QuotesRepository(try ProcessorSupport.connect(conninfo, lockTimeout: lockTimeout))
        self.queue = queue
        self.channels = channels
        self.rules = rules
        self.now = now
    }

    /// Closes the connection.
    public func close() { quotes.db.close() }

    /// Commits the effects of `jobs` and returns their outcomes in the same order; throws
    /// only when PostgreSQL is unreachable or not set up.
    public func process(_ jobs: [QueuedJob<QuoteJob>]) throws -> [JobOutcome] {
        try ProcessorSupport.commit(quotes.db, jobs, queue: queue, subject: \.quoteId, lock: QuoteSQL.lock,
                                    load: quotes.load) { [self] new, stored in
            let plan = QuotePlan.make(new.map { ($0.envelope.id, $0.envelope.type, $0.envelope.job) }, stored: stored,
                                      now: now(), channels: channels, rules: rules)
            try quotes.write(plan)
            return plan.outcomes
        }
    }
}

/// The quotes as the quote processor and the scheduler's `QuoteReminders` read and write them.
final class QuotesRepository {
    /// The connection, the processor's or the scheduler's.
    let db: PgConnection
    /// json-c, as `OrdersRepository`'s: the `json` columns keep the text as written.
    private let encoder = JSONCEncoder()
    private let decoder = JSONDecoder()

    /// The quotes on `db`, a connection of the caller's.
    init(_ db: PgConnection) {
        self.db = db
    }

    /// The quotes with these ids that exist (ids compared byte for byte, as PostgreSQL does).
    func load(_ ids: Set<ExactText>) throws -> [ExactText: StoredQuote] {
        guard !ids.isEmpty else { return [:] }
        var out: [ExactText: StoredQuote] = [:]
        let micros = { (text: String??) in text.flatMap { $0 }.flatMap(Int64.init).map(Timestamp.init(microseconds:)) }
        for row in try db.run(QuoteSQL.load, [PgArray.text(ids.map(\.text))]).rows {
            guard let id = row[0], let status = row[1].flatMap(QuoteStatus.init(rawValue:)), let details = row[2] else { continue }
            let request = try decoder.decode(RequestedQuote.self, from: Data(details.utf8))
            let offer = try row[3].flatMap { try decoder.decode(QuoteOffer.self, from: Data($0.utf8)) }
            out[ExactText(id)] = StoredQuote(request: request, status: status, offer: offer, sentAt: micros(row[4]),
                                             answeredAt: micros(row[5]), orderId: row[6], declineReason: row[7])
        }
        return out
    }

    /// Writes `plan`: history, quotes, messages and reminders.
    func write(_ plan: QuotePlan) throws {
        if !plan.history.isEmpty {
            db.send(QuoteSQL.history, [
                PgArray.text(plan.history.map(\.quoteId)), PgArray.text(plan.history.map(\.jobId)),
                PgArray.text(plan.history.map(\.type)), PgArray.integers(plan.history.map(\.at.microseconds)),
                PgArray.booleans(plan.history.map(\.applied)), PgArray.optionalText(plan.history.map(\.note)),
            ])
        }
        if !plan.quotes.isEmpty {
            let quotes = plan.quotes
            db.send(QuoteSQL.upsert, [
                PgArray.text(quotes.map(\.request.quoteId)), PgArray.text(quotes.map(\.request.shop.id)),
                PgArray.text(quotes.map(\.status.rawValue)), PgArray.json(try quotes.map { try encoder.encode($0.request) }),
                PgArray.optionalText(try quotes.map { try $0.offer.map { try encoder.encode($0) } }),
                PgArray.integers(quotes.map(\.request.at.microseconds)),
                PgArray.optionalIntegers(quotes.map(\.sentAt?.microseconds)),
                PgArray.optionalIntegers(quotes.map(\.offer?.amountCents)), PgArray.optionalText(quotes.map(\.offer?.currency)),
                PgArray.optionalIntegers(quotes.map(\.offer?.validUntil.microseconds)),
                PgArray.optionalIntegers(quotes.map(\.answeredAt?.microseconds)),
                PgArray.optionalText(quotes.map(\.orderId)), PgArray.optionalText(quotes.map(\.declineReason)),
            ])
        }
        try OutboxWrites.write(plan.messages, db, encoder)
        ReminderWrites.write(plan.reminders, db)
    }
}

/// The reminder of a sent quote that is still unanswered (`quote_expiring`).
final class QuoteReminders: ReminderSource {
    private let quotes: QuotesRepository
    private let channels: Set<Channel>
    private let rules: ReminderRules

    /// The reminders of quotes, on the scheduler's connection `db`.
    init(_ db: PgConnection, channels: Set<Channel>, rules: ReminderRules) {
        quotes = QuotesRepository(db)
        self.channels = channels
        self.rules = rules
    }

    /// Sends each due reminder of a quote still sent and valid, postpones one reached in
    /// the shop's quiet hours, and skips the others (`QuotePlan.reasonToSkip`).
    func decide(_ due: [DueReminder], now: Timestamp) throws -> [ReminderDecision] {
        let stored = try quotes.load(Set(due.map { ExactText($0.subjectId) }))
        return due.map { reminder in
            let found = stored[ExactText(reminder.subjectId)]
            if let skip = QuotePlan.reasonToSkip(found, due: reminder.due, now: now) { return .skip(skip) }
            let quote = found!
            // Late after downtime, a reminder may now fall in quiet hours: it waits for their end.
            guard let when = rules.outsideQuietHours(now, timeZone: quote.request.shop.timeZone, latest: quote.offer?.validUntil) else {
                return .skip("quiet hours until it is too late")
            }
            if when > now { return .postpone(when) }
            return .send(quote.messages(reminder.kind.template, facts: quote.facts(at: reminder.due), channels: channels))
        }
    }
}

/// The statements of the quote use cases. Times travel as microseconds since the epoch.
enum QuoteSQL {
    /// Takes a transaction-scoped advisory lock per quote id, in a fixed order: the events
    /// of one quote are applied by one consumer at a time, even before it exists. Its own
    /// class (7241; orders take 7235, stock 7236–7238, appointments 7240), so that a quote
    /// never waits for an order or an appointment of the same id.
    ///
    /// $1 text[] quote ids (duplicates allowed).
    static let lock = PgStatement("quotes.lock", """
        SELECT count(pg_advisory_xact_lock(7241, k))
        FROM (SELECT DISTINCT hashtext(id) AS k FROM unnest($1::text[]) AS id ORDER BY 1) AS keys
        """)

    /// $1 text[] quote ids.
    static let load = PgStatement("quotes.load", """
        SELECT quote_id, status, details::text, offer::text,
               (extract(epoch FROM sent_at) * 1000000)::int8,
               (extract(epoch FROM answered_at) * 1000000)::int8,
               order_id, decline_reason
        FROM relais.quotes WHERE quote_id = ANY($1::text[])
        """)

    /// Each quote as it stands after the batch: inserted when new (its request is written
    /// then and never again), its other columns replaced when not.
    ///
    /// $1 text[] quote ids; $2 text[] shop ids; $3 text[] statuses; $4 JSON array of the
    /// requests (`PgArray.json`); $5 text[] offers as JSON text (NULL: not sent); $6 int8[]
    /// requested at; $7 int8[] sent at; $8 int8[] amounts; $9 text[] currencies; $10 int8[]
    /// valid until; $11 int8[] answered at; $12 text[] order ids; $13 text[] decline
    /// reasons (NULL for none in $5 and $7–$13).
    static let upsert = PgStatement("quotes.upsert", """
        INSERT INTO relais.quotes AS q (quote_id, shop_id, status, details, offer, requested_at, sent_at, amount_cents,
                                        currency, valid_until, answered_at, order_id, decline_reason)
        SELECT id, shop, status, details, offer::json,
               \(timestamp(fromMicros: "requested_us")), \(timestamp(fromMicros: "sent_us")), amount, currency,
               \(timestamp(fromMicros: "valid_us")), \(timestamp(fromMicros: "answered_us")), order_id, reason
        FROM ROWS FROM (unnest($1::text[], $2::text[], $3::text[]), json_array_elements($4::json),
                        unnest($5::text[], $6::int8[], $7::int8[], $8::int8[], $9::text[], $10::int8[], $11::int8[],
                               $12::text[], $13::text[]))
            AS c(id, shop, status, details, offer, requested_us, sent_us, amount, currency, valid_us, answered_us,
                 order_id, reason)
        ON CONFLICT (quote_id) DO UPDATE SET
            status = excluded.status, offer = excluded.offer, sent_at = excluded.sent_at,
            amount_cents = excluded.amount_cents, currency = excluded.currency, valid_until = excluded.valid_until,
            answered_at = excluded.answered_at, order_id = excluded.order_id, decline_reason = excluded.decline_reason,
            updated_at = now()
        """)

    /// $1 text[] quote ids; $2 text[] job ids; $3 text[] types; $4 int8[] times; $5 bool[] applied; $6 text[] notes.
    static let history = PgStatement("quotes.history", """
        INSERT INTO relais.quote_events (quote_id, job_id, type, at, applied, note)
        SELECT id, job, type, \(timestamp(fromMicros: "at_us")), applied, note
        FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::bool[], $6::text[])
            AS e(id, job, type, at_us, applied, note)
        ON CONFLICT DO NOTHING
        """)
}

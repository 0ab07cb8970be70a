import PostgresClient

/// One step of the schema, applied once, in order, in its own transaction.
public struct Migration: Sendable {
    /// Its number; migrations apply in increasing order.
    public let version: Int
    /// A short name for people.
    public let name: String
    /// The SQL it runs.
    public let sql: String
}

/// The versioned schema of Relais (schema `relais`).
///
/// The views (`order_status`, `stock_available`, `notification_log`) are the stable
/// read model other services use; the tables behind them may change between versions.
public enum Schema {
    /// Every migration, oldest first. Append only: never edit one that has shipped.
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "stock and the idempotency ledger", sql: """
            CREATE TABLE relais.processed_jobs (
                queue        text        NOT NULL,
                job_id       text        NOT NULL,
                job_type     text        NOT NULL,
                processed_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (queue, job_id)
            );
            -- BRIN: rows arrive in time order, and this index only serves the hourly prune.
            CREATE INDEX processed_jobs_processed_at ON relais.processed_jobs USING brin (processed_at);
            COMMENT ON TABLE relais.processed_jobs IS
                'Idempotency ledger: one row per job that took effect, written in the same transaction as the effect.';

            CREATE TABLE relais.stock_items (
                shop_id     text        NOT NULL,
                sku         text        NOT NULL,
                on_hand     bigint      NOT NULL DEFAULT 0,
                reserved    bigint      NOT NULL DEFAULT 0,
                observed_at timestamptz,
                updated_at  timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (shop_id, sku)
            ) WITH (fillfactor = 50);
            -- Room in each page so that level updates (no indexed column changes) stay
            -- heap-only (HOT): no index entries to write for a catalogue's updates.

            CREATE TABLE relais.stock_adjustments (
                shop_id     text        NOT NULL,
                sku         text        NOT NULL,
                job_id      text        NOT NULL,
                at          timestamptz NOT NULL,
                delta       bigint      NOT NULL,
                recorded_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (shop_id, sku, job_id)
            );
            CREATE INDEX stock_adjustments_by_time ON relais.stock_adjustments (shop_id, sku, at);
            COMMENT ON TABLE relais.stock_adjustments IS
                'Adjustments, kept until an observation made after them counts them.';

            CREATE VIEW relais.stock_available AS
                SELECT shop_id, sku, on_hand, reserved, on_hand - reserved AS available, observed_at, updated_at
                FROM relais.stock_items;
            COMMENT ON VIEW relais.stock_available IS
                'Read model, stable: per shop and SKU, stock on hand, reserved by open orders, and available.';
            """),
        Migration(version: 2, name: "orders, their history and the outbox", sql: """
            CREATE TABLE relais.orders (
                order_id        text        PRIMARY KEY,
                shop_id         text        NOT NULL,
                status          text        NOT NULL CHECK (status IN ('placed', 'confirmed', 'ready', 'collected', 'cancelled', 'expired')),
                details         jsonb       NOT NULL,
                placed_at       timestamptz NOT NULL,
                updated_at      timestamptz NOT NULL DEFAULT now(),
                pickup_deadline timestamptz,
                slot_start      timestamptz,
                slot_end        timestamptz
            );
            CREATE INDEX orders_by_shop ON relais.orders (shop_id, placed_at);
            CREATE INDEX orders_to_expire ON relais.orders (pickup_deadline) WHERE status = 'ready';
            COMMENT ON COLUMN relais.orders.details IS
                'The order as order.placed gave it (shop, customer, items), with the wire''s field names.';

            CREATE TABLE relais.order_events (
                order_id    text        NOT NULL,
                job_id      text        NOT NULL,
                type        text        NOT NULL,
                at          timestamptz NOT NULL,
                applied     boolean     NOT NULL,
                note        text,
                recorded_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (order_id, job_id)
            );
            COMMENT ON TABLE relais.order_events IS
                'Every event of every order, applied or not (a late or backwards event is kept with a note).';

            CREATE TABLE relais.outbox (
                id              bigserial   PRIMARY KEY,
                order_id        text        NOT NULL,
                recipient       text        NOT NULL CHECK (recipient IN ('shop', 'customer')),
                channel         text        NOT NULL CHECK (channel IN ('email', 'sms', 'webhook', 'log')),
                destination     text,
                template        text        NOT NULL,
                facts           jsonb       NOT NULL,
                status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
                attempts        integer     NOT NULL DEFAULT 0,
                next_attempt_at timestamptz NOT NULL DEFAULT now(),
                created_at      timestamptz NOT NULL DEFAULT now(),
                sent_at         timestamptz,
                last_error      text
            );
            CREATE INDEX outbox_due ON relais.outbox (channel, next_attempt_at) WHERE status = 'pending';
            CREATE INDEX outbox_failed ON relais.outbox (channel) WHERE status = 'failed';
            CREATE INDEX outbox_by_order ON relais.outbox (order_id);
            CREATE INDEX outbox_created_at ON relais.outbox USING brin (created_at);
            COMMENT ON TABLE relais.outbox IS
                'Messages to send, written in the same transaction as the change that causes them; id is the message''s stable id.';

            CREATE VIEW relais.order_status AS
                SELECT order_id, shop_id, status, placed_at, updated_at, pickup_deadline, slot_start, slot_end
                FROM relais.orders;
            COMMENT ON VIEW relais.order_status IS 'Read model, stable: each order and where it stands.';

            CREATE VIEW relais.notification_log AS
                SELECT id, order_id, recipient, channel, template, status, attempts, created_at, sent_at, last_error
                FROM relais.outbox;
            COMMENT ON VIEW relais.notification_log IS 'Read model, stable: every message and its fate.';
            """),
        Migration(version: 3, name: "pickup reminders", sql: """
            CREATE TABLE relais.reminders (
                id         bigserial   PRIMARY KEY,
                order_id   text        NOT NULL,
                kind       text        NOT NULL CHECK (kind IN ('uncollected', 'evening', 'soon')),
                due_at     timestamptz NOT NULL,
                status     text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'cancelled', 'skipped')),
                created_at timestamptz NOT NULL DEFAULT now(),
                done_at    timestamptz,
                note       text
            );
            CREATE INDEX reminders_due ON relais.reminders (due_at) WHERE status = 'pending';
            CREATE INDEX reminders_pending_by_order ON relais.reminders (order_id) WHERE status = 'pending';
            COMMENT ON TABLE relais.reminders IS
                'The durable schedule: reminders planned by order.ready and pickup.booked, fired by the scheduler into the outbox.';
            """),
        // Written once and read back whole by relais, never queried inside: `json` keeps
        // the text as relais wrote it, where `jsonb` parsed and rebuilt it on every insert
        // (docs/performance.md). Rewrites both tables.
        Migration(version: 4, name: "orders' details and messages' facts stored as json text", sql: """
            ALTER TABLE relais.orders ALTER COLUMN details TYPE json USING details::json;
            ALTER TABLE relais.outbox ALTER COLUMN facts TYPE json USING facts::json;
            """),
        // Only pending rows need their shop: the claim is the one reader. Sent and failed
        // ones keep the default, so the migration writes no more than the backlog.
        Migration(version: 5, name: "messages' shop, for delivery in turns across shops", sql: """
            ALTER TABLE relais.outbox ADD COLUMN shop_id text NOT NULL DEFAULT '';
            UPDATE relais.outbox SET shop_id = coalesce(facts->>'shop_id', '') WHERE status = 'pending';
            CREATE INDEX outbox_due_by_shop ON relais.outbox (channel, shop_id, next_attempt_at) WHERE status = 'pending';
            DROP INDEX relais.outbox_due;
            COMMENT ON COLUMN relais.outbox.shop_id IS
                'The shop the message is about: delivery takes due messages shop by shop in turn.';
            """),
        // Nullable, no default: adding it rewrites nothing.
        Migration(version: 6, name: "when a message failed", sql: """
            ALTER TABLE relais.outbox ADD COLUMN failed_at timestamptz;
            COMMENT ON COLUMN relais.outbox.failed_at IS
                'When delivery gave the message up (status failed); NULL for one marked failed by hand or failed before version 6.';
            """),
        // Appointments and quotes have messages and reminders too. Their rows name the
        // appointment or quote in `order_id`, told apart by `subject`: the default keeps
        // every existing row an order's, and nothing is rewritten.
        Migration(version: 7, name: "messages and reminders about appointments and quotes", sql: """
            ALTER TABLE relais.outbox ADD COLUMN subject text NOT NULL DEFAULT 'order'
                CHECK (subject IN ('order', 'appointment', 'quote'));
            COMMENT ON COLUMN relais.outbox.subject IS
                'What the message is about: order, appointment or quote; order_id holds that one''s id.';
            ALTER TABLE relais.reminders ADD COLUMN subject text NOT NULL DEFAULT 'order'
                CHECK (subject IN ('order', 'appointment', 'quote'));
            COMMENT ON COLUMN relais.reminders.subject IS
                'What the reminder is about: order, appointment or quote; order_id holds that one''s id.';
            -- Each family has its own kinds; relais checks them when it plans one.
            ALTER TABLE relais.reminders DROP CONSTRAINT reminders_kind_check;
            CREATE OR REPLACE VIEW relais.notification_log AS
                SELECT id, CASE WHEN subject = 'order' THEN order_id END AS order_id, recipient, channel, template,
                       status, attempts, created_at, sent_at, last_error, subject, order_id AS subject_id
                FROM relais.outbox;
            COMMENT ON VIEW relais.notification_log IS
                'Read model, stable: every message and its fate; subject and subject_id say what it is about (order_id only for an order).';
            """),
        // NOT VALID: every existing row has one of the old statuses, which the new list
        // keeps; new rows are checked all the same.
        Migration(version: 8, name: "deliveries: shipped, at a relay point, delivered, returned", sql: """
            ALTER TABLE relais.orders DROP CONSTRAINT orders_status_check;
            ALTER TABLE relais.orders ADD CONSTRAINT orders_status_check CHECK (status IN (
                'placed', 'confirmed', 'ready', 'collected', 'cancelled', 'expired', 'shipped', 'delivered', 'returned')) NOT VALID;
            CREATE TABLE relais.deliveries (
                order_id        text        PRIMARY KEY,
                state           text        NOT NULL CHECK (state IN ('shipped', 'at_relay', 'delivered', 'collected', 'returned')),
                method          text        CHECK (method IN ('home', 'relay')),
                carrier         text,
                tracking_url    text,
                tracking_number text,
                relay           json,
                pickup_code     text,
                hold_until      timestamptz,
                updated_at      timestamptz NOT NULL DEFAULT now()
            );
            COMMENT ON TABLE relais.deliveries IS
                'Each shipped order''s delivery as the deliveries queue last moved it; relay is the relay point (name, address, opening_hours).';
            CREATE OR REPLACE VIEW relais.order_status AS
                SELECT o.order_id, o.shop_id, o.status, o.placed_at, o.updated_at, o.pickup_deadline, o.slot_start, o.slot_end,
                       d.state AS delivery_state, d.method AS delivery_method, d.carrier, d.tracking_url,
                       d.relay->>'name' AS relay_name, d.hold_until AS relay_hold_until
                FROM relais.orders AS o LEFT JOIN relais.deliveries AS d ON d.order_id = o.order_id;
            COMMENT ON VIEW relais.order_status IS
                'Read model, stable: each order and where it stands, with its delivery once shipped.';
            """),
        // Appointments keep their own table, history and read model; their messages and
        // reminders are the outbox's and the schedule's, with subject 'appointment' (version 7).
        Migration(version: 9, name: "appointments", sql: """
            CREATE TABLE relais.appointment_bookings (
                appointment_id text        PRIMARY KEY,
                shop_id        text        NOT NULL,
                service        text        NOT NULL,
                status         text        NOT NULL CHECK (status IN ('booked', 'cancelled', 'attended', 'missed')),
                booking        json        NOT NULL,
                starts_at      timestamptz NOT NULL,
                ends_at        timestamptz NOT NULL,
                booked_at      timestamptz NOT NULL,
                scheduled_at   timestamptz NOT NULL,
                cancelled_by   text        CHECK (cancelled_by IN ('shop', 'customer', 'platform')),
                cancel_reason  text,
                updated_at     timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX appointment_bookings_by_shop ON relais.appointment_bookings (shop_id, starts_at);
            COMMENT ON COLUMN relais.appointment_bookings.booking IS
                'The appointment as appointment.booked gave it (shop, address, service, customer), with the wire''s field names.';
            COMMENT ON COLUMN relais.appointment_bookings.scheduled_at IS
                'The at of the booking or rescheduling that set starts_at and ends_at: an earlier rescheduling changes nothing.';

            CREATE TABLE relais.appointment_events (
                appointment_id text        NOT NULL,
                job_id         text        NOT NULL,
                type           text        NOT NULL,
                at             timestamptz NOT NULL,
                applied        boolean     NOT NULL,
                note           text,
                recorded_at    timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (appointment_id, job_id)
            );
            COMMENT ON TABLE relais.appointment_events IS
                'Every event of every appointment, applied or not (a late or final-state event is kept with a note).';

            CREATE VIEW relais.appointments AS
                SELECT appointment_id, shop_id, service, status, starts_at, ends_at, booked_at, updated_at, cancelled_by
                FROM relais.appointment_bookings;
            COMMENT ON VIEW relais.appointments IS 'Read model, stable: each appointment and where it stands.';
            """),
        // The quotes of the `quotes` queue. The request and the last applied offer are
        // kept whole as relais wrote them (`json`, read back whole); what other services
        // query is in columns and in the view.
        Migration(version: 10, name: "quotes", sql: """
            CREATE TABLE relais.quotes (
                quote_id       text        PRIMARY KEY,
                shop_id        text        NOT NULL,
                status         text        NOT NULL CHECK (status IN ('requested', 'sent', 'accepted', 'declined', 'expired')),
                details        json        NOT NULL,
                offer          json,
                requested_at   timestamptz NOT NULL,
                sent_at        timestamptz,
                amount_cents   bigint,
                currency       text,
                valid_until    timestamptz,
                answered_at    timestamptz,
                order_id       text,
                decline_reason text,
                updated_at     timestamptz NOT NULL DEFAULT now()
            );
            CREATE INDEX quotes_by_shop ON relais.quotes (shop_id, requested_at);
            CREATE INDEX quotes_by_order ON relais.quotes (order_id) WHERE order_id IS NOT NULL;
            COMMENT ON COLUMN relais.quotes.details IS
                'The request as quote.requested gave it (shop, customer, request, desired_date), with the wire''s field names.';
            COMMENT ON COLUMN relais.quotes.offer IS
                'The last applied quote.sent (amount_cents, currency, lines, valid_until, url); NULL until sent.';

            CREATE TABLE relais.quote_events (
                quote_id    text        NOT NULL,
                job_id      text        NOT NULL,
                type        text        NOT NULL,
                at          timestamptz NOT NULL,
                applied     boolean     NOT NULL,
                note        text,
                recorded_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (quote_id, job_id)
            );
            COMMENT ON TABLE relais.quote_events IS
                'Every event of every quote, applied or not (a late, earlier or after-the-end event is kept with a note).';

            CREATE VIEW relais.quote_status AS
                SELECT quote_id, shop_id, status, requested_at, sent_at, amount_cents, currency, valid_until, answered_at,
                       order_id, updated_at
                FROM relais.quotes;
            COMMENT ON VIEW relais.quote_status IS
                'Read model, stable: each quote and where it stands; order_id is the order placed from an accepted quote.';
            """),
    ]

    /// The schema version this build of Relais expects.
    public static var expectedVersion: Int { migrations.last?.version ?? 0 }
}

/// Where the database's schema stands relative to this build.
public enum SchemaState: Sendable, Equatable {
    /// At the expected version.
    case current(Int)
    /// Older than this build: `relais migrate` brings it up to date.
    case behind(found: Int, expected: Int)
    /// Newer than this build: an older binary against a newer schema.
    case ahead(found: Int, expected: Int)

    /// What to tell an operator.
    public var explanation: String {
        switch self {
        case .current(let v): "database schema is at version \(v), as expected"
        case .behind(let found, let expected):
            "database schema is at version \(found) but this relais needs version \(expected): run `relais migrate`"
        case .ahead(let found, let expected):
            "database schema is at version \(found), newer than the version \(expected) this relais knows: run a newer relais"
        }
    }
}

/// Applies migrations under an advisory lock so that two instances never race.
///
/// The lock is the transaction's (`pg_advisory_xact_lock`), taken again by each step:
/// a session's lock would stay behind on whatever server connection a pooler in
/// transaction mode ran it on, and block the next `relais migrate` for ever.
public struct Migrator: Sendable {
    /// The advisory lock key: the bytes of "relais" as a number.
    static let lockKey = "7235447962969971"

    /// Creates a migrator.
    public init() {}

    /// The schema's state on `db`.
    public func state(_ db: PgConnection) throws -> SchemaState {
        let found = try currentVersion(db)
        let expected = Schema.expectedVersion
        if found < expected { return .behind(found: found, expected: expected) }
        if found > expected { return .ahead(found: found, expected: expected) }
        return .current(found)
    }

    /// The highest applied version, 0 for an empty database.
    public func currentVersion(_ db: PgConnection) throws -> Int {
        let exists = try db.query("SELECT to_regclass('relais.schema_migrations') IS NOT NULL", name: "schema exists").scalar
        guard exists == "t" else { return 0 }
        let version = try db.query("SELECT coalesce(max(version), 0) FROM relais.schema_migrations", name: "schema version").scalar
        return Int(version ?? "0") ?? 0
    }

    /// Applies every pending migration in order, up to `target` (this build's version
    /// unless told; a lower one makes the older schemas an upgrade starts from), and
    /// returns the versions applied.
    ///
    /// Refuses a database that is ahead of this build.
    @discardableResult
    public func migrate(_ db: PgConnection, upTo target: Int = Schema.expectedVersion) throws -> [Int] {
        let found = try db.transaction { () throws -> Int in
            try lock(db)
            try db.execute("""
                CREATE SCHEMA IF NOT EXISTS relais;
                CREATE TABLE IF NOT EXISTS relais.schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                );
                """, name: "migration table")
            return try currentVersion(db)
        }
        if found > Schema.expectedVersion {
            throw MigrationError(state: .ahead(found: found, expected: Schema.expectedVersion))
        }
        var applied: [Int] = []
        for migration in Schema.migrations where migration.version > found && migration.version <= target {
            // Another instance may have applied it since: looked at again under the lock.
            let done = try db.transaction { () throws -> Bool in
                try lock(db)
                guard try currentVersion(db) < migration.version else { return false }
                try db.execute(migration.sql, name: "migration \(migration.version)")
                try db.query("INSERT INTO relais.schema_migrations (version, name) VALUES ($1, $2)",
                             [String(migration.version), migration.name], name: "record migration")
                return true
            }
            if done { applied.append(migration.version) }
        }
        return applied
    }

    /// Takes the migration lock until the end of the transaction.
    private func lock(_ db: PgConnection) throws {
        try db.query("SELECT pg_advisory_xact_lock($1)", [Self.lockKey], name: "migration lock")
    }
}

/// The schema is not where this build needs it.
public struct MigrationError: Error, CustomStringConvertible, Sendable {
    /// Where the schema stands.
    public let state: SchemaState
    public var description: String { state.explanation }
}

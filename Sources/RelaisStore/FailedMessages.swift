import PostgresClient

/// The outbox's messages that delivery gave up on (`status = 'failed'`), for operators:
/// listed, and put back to be sent again.
///
/// A message fails for good after a permanent refusal (an HTTP 4xx, a rejected
/// recipient) or its last attempt (`delivery_max_attempts`); an operator may also mark
/// one failed by hand. Resending keeps the message's id, so that a receiver that did
/// get an earlier attempt can still drop the duplicate.
public enum FailedMessages {
    /// One failed message, without its destination (an e-mail address, a phone number or
    /// a webhook URL) or its facts: nothing that names a person.
    public struct Message: Sendable, Equatable {
        /// The message's stable id (`relais.outbox.id`).
        public let id: Int64
        /// The channel: `email`, `sms`, `webhook` or `log`.
        public let channel: String
        /// Who it was for: `shop` or `customer`.
        public let recipient: String
        /// The template, such as `order-placed-customer`.
        public let template: String
        /// The shop it is about.
        public let shopId: String
        /// The order it is about.
        public let orderId: String
        /// How many sends were attempted.
        public let attempts: Int
        /// Why the last attempt failed, as delivery recorded it (delivery's reasons hold no
        /// personal data; one set by hand might: redact before showing it).
        public let lastError: String?
        /// When it was written to the outbox (RFC 3339, UTC).
        public let createdAt: String
        /// When delivery gave it up (RFC 3339, UTC); nil for one marked failed by hand or
        /// failed before schema version 6.
        public let failedAt: String?
    }

    /// The failed messages, most recently failed first, of `channel` (every channel when
    /// nil), at most `limit`.
    public static func list(_ db: PgConnection, channel: String?, limit: Int) throws -> [Message] {
        try db.run(FailedMessagesSQL.list, [channel, String(max(0, limit))]).rows.compactMap(message)
    }

    /// Puts failed messages back as pending, due now, with their attempts counted from
    /// zero again: the delivery worker sends them on its next claim. Returns how many.
    ///
    /// `id` picks one message (nil: every failed one), `channel` restricts to one
    /// channel (nil: every channel). A message that is not failed is left alone: 0
    /// tells the caller that `id` is unknown or not failed.
    @discardableResult
    public static func resend(_ db: PgConnection, id: Int64?, channel: String?) throws -> Int {
        try db.run(FailedMessagesSQL.resend, [id.map(String.init), channel]).affected
    }

    private static func message(_ row: [String?]) -> Message? {
        guard row.count == 10, let id = row[0].flatMap(Int64.init), let channel = row[1], let recipient = row[2],
              let template = row[3], let orderId = row[5], let createdAt = row[8] else { return nil }
        return Message(id: id, channel: channel, recipient: recipient, template: template, shopId: row[4] ?? "",
                       orderId: orderId, attempts: row[6].flatMap(Int.init) ?? 0, lastError: row[7],
                       createdAt: createdAt, failedAt: row[9])
    }
}

enum FailedMessagesSQL {
    /// The columns `FailedMessages.message` reads, in its order. A message failed before
    /// schema version 5 has no `shop_id` of its own: its facts say which shop.
    static let columns = """
        id, channel, recipient, template, coalesce(nullif(shop_id, ''), facts->>'shop_id', ''), order_id, attempts, last_error,
        \(utc("created_at")), \(utc("failed_at"))
        """

    /// $1 channel or NULL for all; $2 the most rows.
    static let list = PgStatement("failed-messages.list", """
        SELECT \(columns) FROM relais.outbox
        WHERE status = 'failed' AND ($1::text IS NULL OR channel = $1)
        ORDER BY failed_at DESC NULLS LAST, id DESC
        LIMIT $2::int
        """)

    /// $1 the message id or NULL for all; $2 channel or NULL for all. The shop is filled
    /// in from the facts when the row has none (failed before schema version 5), so that
    /// delivery's turns across shops count it with its shop.
    static let resend = PgStatement("failed-messages.resend", """
        UPDATE relais.outbox
        SET status = 'pending', attempts = 0, next_attempt_at = now(), failed_at = NULL,
            shop_id = CASE WHEN shop_id = '' THEN coalesce(facts->>'shop_id', '') ELSE shop_id END
        WHERE status = 'failed' AND ($1::int8 IS NULL OR id = $1::int8) AND ($2::text IS NULL OR channel = $2)
        """)
}

/// `column` (a timestamptz) as RFC 3339 text in UTC with milliseconds, or NULL.
func utc(_ column: String) -> String {
    #"to_char(\#(column) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"#
}

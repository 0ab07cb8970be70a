import JSONReader
import PostgresClient
import RelaisDomain

/// Messages into the outbox, for every family: written in the transaction of the change
/// that causes them.
enum OutboxWrites {
    /// Puts `messages` in the outbox on `db`; each row's subject and shop come from its facts.
    static func write(_ messages: [OrderPlan.PlannedMessage], _ db: PgConnection, _ encoder: JSONCEncoder) throws {
        guard !messages.isEmpty else { return }
        // The messages of one event (the shop's e-mail and webhook, the customer's e-mail)
        // share their facts and come one after another: each facts value is encoded and
        // sent once, and each message names it by its place in that list.
        var facts: [String] = []
        var factsIndex: [Int64] = []
        factsIndex.reserveCapacity(messages.count)
        for (index, message) in messages.enumerated() {
            if index == 0 || message.facts != messages[index - 1].facts {
                facts.append(try encoder.encode(message.facts))
            }
            factsIndex.append(Int64(facts.count))
        }
        db.send(insert, [
            PgArray.text(messages.map(\.orderId)), PgArray.text(messages.map(\.recipient.rawValue)),
            PgArray.text(messages.map(\.channel.rawValue)), PgArray.optionalText(messages.map(\.destination)),
            PgArray.text(messages.map(\.template)), PgArray.integers(factsIndex), PgArray.json(facts),
        ])
    }

    /// $1 text[] subject ids (`MessageFacts.orderId`); $2 text[] recipients; $3 text[] channels;
    /// $4 text[] destinations; $5 text[] templates; $6 int8[] each message's facts, by place
    /// (from 1) in $7; $7 JSON array of the distinct facts (`PgArray.json`). Messages get
    /// their ids in the order given.
    static let insert = PgStatement("outbox.insert", """
        INSERT INTO relais.outbox (order_id, recipient, channel, destination, template, facts, shop_id, subject)
        SELECT m.id, m.recipient, m.channel, m.destination, m.template, f.facts, coalesce(f.facts->>'shop_id', ''),
               coalesce(f.facts->>'subject', 'order')
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[])
                WITH ORDINALITY AS m(id, recipient, channel, destination, template, facts_at, position)
            JOIN json_array_elements($7::json) WITH ORDINALITY AS f(facts, at) ON f.at = m.facts_at
        ORDER BY m.position
        """)
}

/// Reminders into the durable schedule, for every family; each reminder's subject is its kind's.
enum ReminderWrites {
    /// Cancels, then plans: a cancellation never touches a reminder planned in the same batch.
    static func write(_ changes: ReminderChanges, _ db: PgConnection) {
        if !changes.cancellations.isEmpty {
            var subjectIds: [String] = [], kinds: [String] = [], subjects: [String] = []
            for cancellation in changes.cancellations {
                for kind in cancellation.kinds {
                    subjectIds.append(cancellation.orderId)
                    kinds.append(kind.rawValue)
                    subjects.append(kind.subject.rawValue)
                }
            }
            db.send(ReminderSQL.cancel, [PgArray.text(subjectIds), PgArray.text(kinds), PgArray.text(subjects)])
        }
        if !changes.planned.isEmpty {
            db.send(ReminderSQL.plan, [
                PgArray.text(changes.planned.map(\.orderId)), PgArray.text(changes.planned.map(\.reminder.kind.rawValue)),
                PgArray.integers(changes.planned.map(\.reminder.due.microseconds)),
                PgArray.text(changes.planned.map(\.reminder.kind.subject.rawValue)),
            ])
        }
    }
}

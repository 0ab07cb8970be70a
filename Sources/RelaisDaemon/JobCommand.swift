import ArgumentParser
import Foundation
import RelaisJobs
import RelaisLogging
import RelaisStore

/// `relais job ID`: everything Relais knows of one job.
struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Trace one job by its id: ledger record, order, history, reminders, messages, dead letter, retry.",
        discussion: """
            Looks in PostgreSQL (the idempotency ledger, the order histories) and in Redis (the \
            dead letters, the retry sets, and the first 10,000 entries of each queue's stream). \
            For a job about an order, shows the order, its whole history, its reminders and its \
            messages with their delivery status. No personal data is printed: no address, no \
            phone number, no job payload. Exit status 65 when there is no trace of the job.
            """)

    @Argument(help: "The job's id (the envelope's `id`, its idempotency key).") var id: String
    @Flag(help: "Print the result as JSON.") var json = false

    /// A dead letter of the job, without its payload (it may name the customer).
    struct Letter: Encodable {
        let entryId: String
        let queue: String
        let code: String
        let reason: String
        let attempts: Int?
        let failedAt: String
    }

    /// A waiting retry of the job.
    struct Retry: Encodable {
        let queue: String
        let attempt: Int?
        let entryId: String
        let dueAt: String
    }

    /// An entry of the job still in its stream.
    struct Queued: Encodable {
        let queue: String
        let entryId: String
        let attempt: Int?
    }

    /// A message, its last error redacted.
    struct Message: Encodable {
        let id: Int64
        let recipient: String
        let channel: String
        let template: String
        let status: String
        let attempts: Int
        let createdAt: String
        let sentAt: String?
        let failedAt: String?
        let nextAttemptAt: String?
        let lastError: String?
    }

    /// An order's story.
    struct Story: Encodable {
        let orderId: String
        let order: JobTrace.Order?
        let history: [JobTrace.OrderEvent]
        let reminders: [JobTrace.Reminder]
        let messages: [Message]
    }

    /// The whole trace, as `--json` prints it.
    struct Trace: Encodable {
        let jobId: String
        let ledger: [JobTrace.LedgerRecord]
        let deadLetters: [Letter]
        let retries: [Retry]
        let queued: [Queued]
        let streamsSearchedWhole: Bool
        let orders: [Story]
    }

    func run() throws {
        let configuration = try loadConfiguration()
        let redis = try connectRedis(configuration)
        defer { redis.close() }
        let found = try ConsoleActions.whereabouts(redis: redis, settings: configuration.queue, jobId: id)
        let db = try connectPostgres(configuration)
        defer { db.close() }
        let stored = try JobTrace.find(db, jobId: id, queues: JobFamilies.queues, orderIds: found.orderIds)
        guard stored.jobIsKnown || !found.deadLetters.isEmpty || !found.retries.isEmpty || !found.queued.isEmpty else {
            throw fail(ControlCharacters.escaped("no trace of job \(id)"), ExitStatus.dataError)
        }
        let trace = Trace(
            jobId: id, ledger: stored.ledger,
            deadLetters: found.deadLetters.map {
                Letter(entryId: $0.entryId, queue: $0.queue, code: $0.code, reason: $0.reason, attempts: $0.attempts, failedAt: $0.failedAt)
            },
            retries: found.retries.map {
                Retry(queue: $0.queue, attempt: $0.attempt, entryId: $0.entryId, dueAt: ConsoleOutput.utc(milliseconds: $0.dueMilliseconds))
            },
            queued: found.queued.map { Queued(queue: $0.queue, entryId: $0.entryId, attempt: $0.attempt) },
            streamsSearchedWhole: found.streamsSearchedWhole,
            orders: stored.orders.map { story in
                Story(orderId: story.orderId, order: story.order, history: story.history, reminders: story.reminders,
                      messages: story.messages.map {
                          Message(id: $0.id, recipient: $0.recipient, channel: $0.channel, template: $0.template, status: $0.status,
                                  attempts: $0.attempts, createdAt: $0.createdAt, sentAt: $0.sentAt, failedAt: $0.failedAt,
                                  nextAttemptAt: $0.nextAttemptAt, lastError: $0.lastError.map(Redaction.redact))
                      })
            })
        if json {
            ConsoleOutput.json(trace)
        } else {
            printHuman(trace)
        }
    }

    private func printHuman(_ trace: Trace) {
        // Escaped: ids, reasons and notes hold what producers wrote.
        func line(_ text: String) { print(ControlCharacters.escaped(Redaction.redact(text))) }
        line("job \(trace.jobId)")
        if trace.ledger.isEmpty {
            line("ledger: not recorded (it has not taken effect, or its record was pruned)")
        }
        for record in trace.ledger {
            line("ledger: took effect on queue \(record.queue) as \(record.jobType) at \(record.processedAt)")
        }
        for letter in trace.deadLetters {
            line("dead letter \(letter.entryId): queue \(letter.queue), \(letter.code) after \(letter.attempts.map(String.init) ?? "?") attempts at \(letter.failedAt): \(letter.reason)")
        }
        for retry in trace.retries {
            line("retry: waiting in \(retry.queue) for attempt \(retry.attempt.map(String.init) ?? "?"), due at \(retry.dueAt) (failed entry \(retry.entryId))")
        }
        for entry in trace.queued {
            line("queued: entry \(entry.entryId) of \(entry.queue)" + (entry.attempt.map { ", attempt \($0)" } ?? "") + ", not finished yet")
        }
        if !trace.streamsSearchedWhole { line("(the streams were searched up to their first 10,000 entries)") }
        for story in trace.orders {
            print("")
            if let order = story.order {
                line("order \(order.orderId) of shop \(order.shopId): \(order.status), placed at \(order.placedAt), updated at \(order.updatedAt)"
                     + (order.pickupDeadline.map { ", pickup by \($0)" } ?? "")
                     + (order.slotStart.map { ", slot \($0)–\(order.slotEnd ?? "?")" } ?? ""))
            } else {
                line("order \(story.orderId): not placed")
            }
            if !story.history.isEmpty {
                print("  history")
                ConsoleOutput.table(["AT", "TYPE", "JOB ID", "APPLIED", "NOTE"], story.history.map {
                    [$0.at, $0.type, ($0.jobId == trace.jobId ? "*" : "") + $0.jobId, $0.applied ? "yes" : "no", $0.note ?? ""]
                }, indent: "    ")
            }
            if !story.reminders.isEmpty {
                print("  reminders")
                ConsoleOutput.table(["ID", "KIND", "DUE AT", "STATUS", "DONE AT", "NOTE"], story.reminders.map {
                    [String($0.id), $0.kind, $0.dueAt, $0.status, $0.doneAt ?? "-", $0.note ?? ""]
                }, indent: "    ")
            }
            if !story.messages.isEmpty {
                print("  messages")
                ConsoleOutput.table(["ID", "CHANNEL", "RECIPIENT", "TEMPLATE", "STATUS", "ATTEMPTS", "WHEN", "LAST ERROR"], story.messages.map {
                    [String($0.id), $0.channel, $0.recipient, $0.template, $0.status, String($0.attempts),
                     $0.sentAt ?? $0.failedAt ?? $0.nextAttemptAt.map { "next \($0)" } ?? "-", $0.lastError ?? ""]
                }, indent: "    ")
            }
        }
    }
}

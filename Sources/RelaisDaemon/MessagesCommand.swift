import ArgumentParser
import Foundation
import PostgresClient
import RelaisDomain
import RelaisLogging
import RelaisStore

/// Connects to PostgreSQL for a one-shot command, or exits with "unavailable".
func connectPostgres(_ configuration: RelaisConfiguration) throws -> PgConnection {
    do { return try PgConnection(configuration.databaseURL, callTimeout: .seconds(30)) } catch {
        throw fail("cannot reach PostgreSQL: \(error)", ExitStatus.unavailable)
    }
}

/// `relais messages`: the messages delivery gave up on, and sending them again.
struct Messages: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the outbox's failed messages, or put them back to be sent again.",
        subcommands: [Failed.self, Resend.self])

    /// A failed message as `messages failed --json` prints it: no destination, no facts.
    struct Row: Encodable {
        let id: Int64
        let channel: String
        let recipient: String
        let template: String
        let shopId: String
        let orderId: String
        let attempts: Int
        let lastError: String?
        let createdAt: String
        let failedAt: String?

        init(_ message: FailedMessages.Message) {
            id = message.id
            channel = message.channel
            recipient = message.recipient
            template = message.template
            shopId = message.shopId
            orderId = message.orderId
            attempts = message.attempts
            // Delivery's reasons hold no personal data; one written by hand might.
            lastError = message.lastError.map(Redaction.redact)
            createdAt = message.createdAt
            failedAt = message.failedAt
        }
    }

    static func validateChannel(_ channel: String?) throws {
        if let channel, Channel(rawValue: channel) == nil {
            throw ValidationError("unknown channel \(channel): \(Channel.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    struct Failed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the messages that failed for good, most recently failed first.",
            discussion: """
                A message fails for good when its receiver refuses it (an HTTP 4xx, a rejected \
                recipient) or after delivery_max_attempts. The recipient's address is never shown: \
                RECIPIENT says whether it was for the shop or the customer.
                """)
        @Option(help: "Only this channel: email, sms, webhook, log.", completion: .list(Channel.allCases.map(\.rawValue)))
        var channel: String?
        @Option(help: "How many to list.") var limit = 50
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws { try Messages.validateChannel(channel) }

        func run() throws {
            let configuration = try loadConfiguration()
            let db = try connectPostgres(configuration)
            defer { db.close() }
            let rows = try FailedMessages.list(db, channel: channel, limit: max(0, limit)).map(Row.init)
            if json {
                ConsoleOutput.json(rows)
                return
            }
            if rows.isEmpty {
                print("no failed messages" + (channel.map { " on \($0)" } ?? ""))
                return
            }
            ConsoleOutput.table(["ID", "CHANNEL", "RECIPIENT", "TEMPLATE", "SHOP", "ORDER", "ATTEMPTS", "FAILED AT", "LAST ERROR"], rows.map {
                [String($0.id), $0.channel, $0.recipient, $0.template, $0.shopId, $0.orderId, String($0.attempts),
                 $0.failedAt ?? "-", $0.lastError ?? "-"]
            })
        }
    }

    struct Resend: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put failed messages back as pending, due now, with their attempts reset.",
            discussion: """
                The delivery worker sends them again on its next round, under the same message id, \
                so that a receiver that did get an earlier attempt can drop the duplicate. \
                Exit status 65 when ID is unknown or not failed.
                """)
        @Argument(help: "The message id (from `relais messages failed`).") var id: Int64?
        @Flag(help: "Resend every failed message (of --channel, if given).") var all = false
        @Option(help: "Only this channel: email, sms, webhook, log.", completion: .list(Channel.allCases.map(\.rawValue)))
        var channel: String?

        func validate() throws {
            guard (id != nil) != all else { throw ValidationError("give one message id or --all") }
            try Messages.validateChannel(channel)
        }

        func run() throws {
            let configuration = try loadConfiguration()
            let db = try connectPostgres(configuration)
            defer { db.close() }
            let count = try FailedMessages.resend(db, id: id, channel: channel)
            if let id, count == 0 {
                throw fail("no failed message \(id)" + (channel.map { " on \($0)" } ?? "") + " (unknown, or not failed)", ExitStatus.dataError)
            }
            print("resent \(count) \(count == 1 ? "message" : "messages"): pending, due now")
        }
    }
}

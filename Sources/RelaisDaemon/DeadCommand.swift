import ArgumentParser
import Foundation
import RelaisLogging
import RedisClient
import RelaisQueue

/// `relais dead`: inspect, replay and purge dead letters.
struct Dead: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect, replay and purge the dead-letter stream (<prefix>:dead).",
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    /// A dead letter as read from the stream.
    struct Letter: Encodable {
        let entryId: String
        let queue: String
        let code: String
        let reason: String
        let attempts: String
        let failedAt: String
        let jobId: String?
        let jobType: String?
        let job: String?

        init(_ entry: StreamEntry, withJob: Bool) {
            let f = entry.fields ?? [:]
            func text(_ key: String) -> String? { f[key].map { String(decoding: $0, as: UTF8.self) } }
            entryId = entry.id
            queue = text("queue") ?? "?"
            code = text("code") ?? "?"
            reason = text("reason") ?? ""
            attempts = text("attempts") ?? "?"
            failedAt = text("failed_at") ?? "?"
            jobId = text("job_id")
            jobType = text("job_type")
            job = withJob ? text("job") : nil
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters, newest first.")
        @Option(help: "How many to list.") var limit = 50
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            let dead = configuration.queue.deadLetterStream
            let entries = StreamReplies.range(try redis.command("XREVRANGE", dead, "+", "-", "COUNT", String(limit)))
            let letters = entries.map { Letter($0, withJob: false) }
            if json {
                printJSON(letters)
                return
            }
            if letters.isEmpty { print("no dead letters in \(dead)") }
            for l in letters {
                // Escaped: the letter holds what a producer wrote, which must not drive the terminal.
                print(ControlCharacters.escaped("\(l.entryId)  \(l.queue)  \(l.code)  \(l.jobType ?? "-")  \(l.jobId ?? "-")  \(l.failedAt)"))
                print(ControlCharacters.escaped("    \(l.reason)"))
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dead letter with its original job.")
        @Argument(help: "The dead letter's entry id (from `relais dead list`).") var id: String
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            guard let entry = StreamReplies.range(try redis.command("XRANGE", configuration.queue.deadLetterStream, id, id)).first else {
                throw fail("no dead letter \(id)", ExitStatus.dataError)
            }
            let letter = Letter(entry, withJob: true)
            if json {
                printJSON(letter)
                return
            }
            // Escaped: the letter holds what a producer wrote, which must not drive the terminal.
            print(ControlCharacters.escaped("entry     \(letter.entryId)"))
            print(ControlCharacters.escaped("queue     \(letter.queue)"))
            print(ControlCharacters.escaped("code      \(letter.code)"))
            print(ControlCharacters.escaped("reason    \(letter.reason)"))
            print(ControlCharacters.escaped("attempts  \(letter.attempts)"))
            print(ControlCharacters.escaped("failed at \(letter.failedAt)"))
            print(ControlCharacters.escaped("job id    \(letter.jobId ?? "-")"))
            print(ControlCharacters.escaped("job type  \(letter.jobType ?? "-")"))
            print(ControlCharacters.escaped("job       \(letter.job ?? "(none)")"))
        }
    }

    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put dead letters back on their queue, optionally with a corrected job.",
            discussion: "The dead letter is removed in the same Redis transaction that re-adds the job, so it is never in both places or neither.")
        @Argument(help: "The dead letter's entry id.") var id: String?
        @Flag(help: "Replay every dead letter.") var all = false
        @Option(help: "A corrected job (the whole envelope) as JSON, or @path; only with one id.") var job: String?

        func validate() throws {
            guard (id != nil) != all else { throw ValidationError("give one dead letter id or --all") }
            if job != nil && all { throw ValidationError("--job replaces one job: give an id, not --all") }
        }

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            let dead = configuration.queue.deadLetterStream
            var replayed = 0
            var cursor = "-"
            repeat {
                let entries: [StreamEntry]
                if let id {
                    entries = StreamReplies.range(try redis.command("XRANGE", dead, id, id))
                    guard !entries.isEmpty else { throw fail("no dead letter \(id)", ExitStatus.dataError) }
                } else {
                    entries = StreamReplies.range(try redis.command("XRANGE", dead, cursor, "+", "COUNT", "500"))
                    if let last = entries.last { cursor = "(" + last.id }
                }
                for entry in entries {
                    let fields = entry.fields ?? [:]
                    guard let queue = fields["queue"].map({ String(decoding: $0, as: UTF8.self) }),
                          RelaisQueues.names.contains(queue) else {
                        StandardError.write("relais: skipping \(entry.id): its queue is not one of this relais\n")
                        continue
                    }
                    var payload = fields["job"] ?? []
                    if let job {
                        payload = try readPayload(job)
                    }
                    let stream = configuration.queue.keys(queue).stream
                    let replies = try redis.pipeline(binary: [
                        ["MULTI"].map { Array($0.utf8) },
                        ["XADD", stream, "*", "job"].map { Array($0.utf8) } + [payload],
                        ["XDEL", dead, entry.id].map { Array($0.utf8) },
                        ["EXEC"].map { Array($0.utf8) },
                    ])
                    guard case .array = replies.last else { throw fail("replay of \(entry.id) failed", ExitStatus.software) }
                    replayed += 1
                    print("replayed \(entry.id) to \(stream)")
                }
                if id != nil || entries.isEmpty { break }
            } while true
            if all { print("replayed \(replayed) dead letters") }
        }

        private func readPayload(_ option: String) throws -> [UInt8] {
            if option.hasPrefix("@") {
                guard let data = FileManager.default.contents(atPath: String(option.dropFirst())) else {
                    throw fail("cannot read \(option.dropFirst())", ExitStatus.noInput)
                }
                return Array(data)
            }
            return Array(option.utf8)
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete the given dead letters, or all of them with --all.")
        @Argument(help: "Entry ids to delete.") var ids: [String] = []
        @Flag(help: "Delete every dead letter.") var all = false

        func validate() throws {
            guard ids.isEmpty == all else { throw ValidationError("give dead letter ids or --all") }
        }

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            let dead = configuration.queue.deadLetterStream
            if all {
                let count = try redis.command("XLEN", dead).integer ?? 0
                try redis.command("DEL", dead)
                print("purged \(count) dead letters")
            } else {
                let count = try redis.command(arguments: ["XDEL", dead] + ids).integer ?? 0
                print("purged \(count) dead letters")
            }
        }
    }
}

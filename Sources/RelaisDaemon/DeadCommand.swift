import ArgumentParser
import Foundation
import RelaisJobs
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
            discussion: """
                Each letter is re-added to its queue and removed from the dead letters in one \
                Lua script, which removes it only once the job is on the queue: it is never \
                in neither place. --all replays the letters there when it starts, once each: \
                the ones a running daemon dead-letters again meanwhile wait for the next replay. \
                A --job replacement is checked as `relais validate` would (exit 65 if refused).
                """)
        @Argument(help: "The dead letter's entry id.") var id: String?
        @Flag(help: "Replay every dead letter.") var all = false
        @Option(help: "A corrected job (the whole envelope) as JSON, or @path; only with one id.") var job: String?

        func validate() throws {
            guard (id != nil) != all else { throw ValidationError("give one dead letter id or --all") }
            if job != nil && all { throw ValidationError("--job replaces one job: give an id, not --all") }
        }

        /// Re-adds a letter's job to its queue and deletes the letter, in one step.
        ///
        /// KEYS[1] the dead-letter stream, KEYS[2] the queue's stream; ARGV[1] the letter's
        /// entry id, ARGV[2] the job. Returns the new entry's id, or nil when the letter is
        /// gone (replayed or purged meanwhile). A failing XADD (a key of the wrong type, no
        /// memory) raises before the XDEL runs, so the letter stays.
        static let replayScript = """
            if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return false end
            local id = redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
            redis.call('XDEL', KEYS[1], ARGV[1])
            return id
            """

        func run() throws {
            let configuration = try loadConfiguration()
            let replacement = try job.map(readPayload)
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            let dead = configuration.queue.deadLetterStream
            // A daemon that is running dead-letters a replayed bad job again, after this
            // id: --all stops here rather than follow its own letters forever.
            let end: String
            if let id {
                end = id
            } else if let last = StreamReplies.range(try redis.command("XREVRANGE", dead, "+", "-", "COUNT", "1")).first {
                end = last.id
            } else {
                print("replayed 0 dead letters")
                return
            }
            var replayed = 0
            var cursor = id ?? "-"
            while true {
                let entries = StreamReplies.range(try redis.command("XRANGE", dead, cursor, end, "COUNT", "500"))
                if let id, entries.isEmpty { throw fail("no dead letter \(id)", ExitStatus.dataError) }
                for entry in entries {
                    let fields = entry.fields ?? [:]
                    guard let queue = fields["queue"].map({ String(decoding: $0, as: UTF8.self) }),
                          JobFamilies.queues.contains(queue) else {
                        StandardError.write("relais: skipping \(entry.id): its queue is not one of this relais\n")
                        continue
                    }
                    var payload = fields["job"] ?? []
                    if let replacement {
                        if let rejection = JobFamilies.validate(queue: queue, payload: replacement) {
                            throw fail("the replacement job is refused (\(rejection.code.rawValue)): \(rejection.message); nothing was replayed",
                                       ExitStatus.dataError)
                        }
                        payload = replacement
                    }
                    let stream = configuration.queue.keys(queue).stream
                    let reply = try redis.pipeline(binary: [
                        ["EVAL", Self.replayScript, "2", dead, stream, entry.id].map { Array($0.utf8) } + [payload],
                    ]).first
                    switch reply {
                    case .bulk?:
                        replayed += 1
                        print("replayed \(entry.id) to \(stream)")
                    case .null?:
                        StandardError.write("relais: skipping \(entry.id): it left the dead letters meanwhile\n")
                    case .error(let message)?:
                        throw fail("replay of \(entry.id) to \(stream) failed, the dead letter is kept: \(message)"
                                   + (all ? " (\(replayed) replayed before it)" : ""), ExitStatus.software)
                    default:
                        throw fail("replay of \(entry.id) to \(stream): unexpected reply, the dead letter is kept", ExitStatus.software)
                    }
                }
                guard id == nil, let last = entries.last, last.id != end else { break }
                cursor = "(" + last.id
            }
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

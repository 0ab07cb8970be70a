import ArgumentParser
import Foundation
import RelaisDomain
import RelaisJobs
import RelaisLogging
import RedisClient
import RelaisQueue

/// `relais dead`: inspect, replay and purge dead letters.
struct Dead: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inspect, replay and purge the dead-letter stream (<prefix>:dead).",
        subcommands: [List.self, Show.self, Replay.self, Purge.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dead letters, newest first.",
            discussion: "--queue and --code filter while reading the stream, so --limit counts the letters that match.")
        @Option(help: "How many to list.") var limit = 50
        @Option(help: "Only the letters of this queue.", completion: .list(JobFamilies.queues)) var queue: String?
        @Option(help: "Only the letters with this reason code, such as invalid_field.", completion: .list(ReasonCode.allCases.map(\.rawValue)))
        var code: String?
        @Flag(help: "Print the result as JSON.") var json = false

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            let letters = try ConsoleActions.deadLetters(redis: redis, settings: configuration.queue, queue: queue, code: code,
                                                         limit: max(0, limit))
            if json {
                ConsoleOutput.json(letters)
                return
            }
            if letters.isEmpty {
                print("no dead letters in \(configuration.queue.deadLetterStream)" + (queue != nil || code != nil ? " that match" : ""))
                return
            }
            let rows = letters.map { (l: DeadLetter) -> [String] in
                let attempts = l.attempts.map { String($0) } ?? "?"
                return [l.entryId, l.queue, l.code, l.jobType ?? "-", l.jobId ?? "-", attempts, l.failedAt, l.reason]
            }
            ConsoleOutput.table(["ENTRY", "QUEUE", "CODE", "TYPE", "JOB ID", "ATTEMPTS", "FAILED AT", "REASON"], rows)
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
            guard let letter = try ConsoleActions.deadLetter(redis: redis, settings: configuration.queue, entryId: id) else {
                throw fail("no dead letter \(id)", ExitStatus.dataError)
            }
            if json {
                ConsoleOutput.json(letter)
                return
            }
            // Escaped: the letter holds what a producer wrote, which must not drive the terminal.
            print(ControlCharacters.escaped("entry     \(letter.entryId)"))
            print(ControlCharacters.escaped("queue     \(letter.queue)"))
            print(ControlCharacters.escaped("code      \(letter.code)"))
            print(ControlCharacters.escaped("reason    \(letter.reason)"))
            print(ControlCharacters.escaped("attempts  \(letter.attempts.map(String.init) ?? "?")"))
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
                    let outcome: ConsoleActions.Replay
                    do {
                        outcome = try ConsoleActions.replay(entry, redis: redis, settings: configuration.queue, replacement: replacement)
                    } catch let error as ConsoleActionError {
                        switch error.kind {
                        case .notFound, .refused: throw fail(error.message, ExitStatus.dataError)
                        case .redis: throw fail(error.message + (all ? " (\(replayed) replayed before it)" : ""), ExitStatus.software)
                        }
                    }
                    switch outcome {
                    case .replayed(let stream, _):
                        replayed += 1
                        print("replayed \(entry.id) to \(stream)")
                    case .gone:
                        StandardError.write("relais: skipping \(entry.id): it left the dead letters meanwhile\n")
                    case .notOurQueue:
                        StandardError.write("relais: skipping \(entry.id): its queue is not one of this relais\n")
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

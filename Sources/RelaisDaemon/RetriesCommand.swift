import ArgumentParser
import Foundation
import RedisClient
import RelaisJobs
import RelaisLogging

/// `relais retries`: the jobs waiting to be tried again, and running them now.
struct Retries: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the jobs waiting for a retry (<prefix>:<queue>:retry), or run them now.",
        subcommands: [List.self, Run.self])

    /// A waiting retry as `retries list --json` prints it.
    struct Row: Encodable {
        let queue: String
        let jobId: String?
        let jobType: String?
        let attempt: Int?
        let entryId: String
        let dueAt: String
        let dueInSeconds: Double

        init(_ retry: WaitingRetry, nowMs: Int64) {
            queue = retry.queue
            jobId = retry.jobId
            jobType = retry.jobType
            attempt = retry.attempt
            entryId = retry.entryId
            dueAt = ConsoleOutput.utc(milliseconds: retry.dueMilliseconds)
            dueInSeconds = Double(retry.dueMilliseconds.subtractingReportingOverflow(nowMs).partialValue) / 1000
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the jobs waiting for a retry, soonest due first.",
            discussion: "The type is read from the job's payload; `-` when the payload is not JSON. ATTEMPT is the attempt the job will make.")
        @Option(help: ArgumentHelp("Only this queue: \(JobFamilies.queues.joined(separator: ", ")).", valueName: "queue"),
                completion: .list(JobFamilies.queues)) var queue: String?
        @Option(help: "How many to list.") var limit = 50
        @Flag(help: "Print the result as JSON.") var json = false

        func validate() throws {
            if let queue, !JobFamilies.queues.contains(queue) { throw ValidationError("unknown queue \(queue)") }
        }

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            let retries = try ConsoleActions.listRetries(redis: redis, settings: configuration.queue, queue: queue, limit: max(0, limit))
            let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
            let rows = retries.map { Row($0, nowMs: nowMs) }
            if json {
                ConsoleOutput.json(rows)
                return
            }
            if rows.isEmpty {
                print("no job is waiting for a retry")
                return
            }
            ConsoleOutput.table(["QUEUE", "JOB ID", "TYPE", "ATTEMPT", "DUE AT", "DUE", "ENTRY"], rows.map {
                [$0.queue, $0.jobId ?? "-", $0.jobType ?? "-", $0.attempt.map(String.init) ?? "?", $0.dueAt,
                 ConsoleOutput.relative(seconds: $0.dueInSeconds), $0.entryId]
            })
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move waiting retries to their queue's stream now.",
            discussion: """
                Each retry is added to its stream (with its attempt number) and removed from the \
                retry set in one Lua script, as the daemon does when it falls due: a job is never \
                in neither place, nor in both. JOB_ID is the job's id or the id of the stream entry \
                that failed. Exit status 65 when no retry of JOB_ID is waiting.
                """)
        @Argument(help: "The job id (the envelope's id) or the original entry id.") var jobId: String?
        @Flag(help: "Run every waiting retry.") var all = false
        @Option(help: ArgumentHelp("Only this queue: \(JobFamilies.queues.joined(separator: ", ")).", valueName: "queue"),
                completion: .list(JobFamilies.queues)) var queue: String?

        func validate() throws {
            guard (jobId != nil) != all else { throw ValidationError("give one job id or --all") }
            if let queue, !JobFamilies.queues.contains(queue) { throw ValidationError("unknown queue \(queue)") }
        }

        func run() throws {
            let configuration = try loadConfiguration()
            let redis = try connectRedis(configuration)
            defer { redis.close() }
            let runs: [ConsoleActions.RetryRun]
            do {
                runs = try ConsoleActions.runRetries(redis: redis, settings: configuration.queue, queue: queue, jobId: jobId)
            } catch let error as ConsoleActionError {
                switch error.kind {
                case .notFound, .refused: throw fail(error.message, ExitStatus.dataError)
                case .redis: throw fail(error.message + " (\(error.done) run before it)", ExitStatus.software)
                }
            }
            var moved = 0
            for run in runs {
                switch run {
                case .moved(let retry, let stream, let entryId):
                    moved += 1
                    print(ControlCharacters.escaped("ran \(retry.jobId ?? "-") (attempt \(retry.attempt.map(String.init) ?? "?")) now: \(stream) \(entryId)"))
                case .gone(let retry):
                    print(ControlCharacters.escaped("\(retry.jobId ?? retry.entryId) had already left the retry set (it fell due)"))
                }
            }
            print("ran \(moved) \(moved == 1 ? "retry" : "retries") now")
        }
    }
}

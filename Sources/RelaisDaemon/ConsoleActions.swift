import Foundation
import RedisClient
import RelaisDomain
import RelaisJobs
import RelaisQueue

/// The operator's actions and look-ups on Redis, shared by the command line and the
/// status page: each takes a connection and the queue settings and returns what it found
/// or did, printing nothing and exiting nothing.
///
/// The callers own the connection and run these on a thread of their own (they block on
/// Redis).
enum ConsoleActions {
    // MARK: Retries

    /// Up to `limit` jobs waiting for a retry, soonest due first, in `queue` (every queue
    /// of this relais when nil).
    static func listRetries(redis: RedisConnection, settings: QueueSettings, queue: String?, limit: Int) throws -> [WaitingRetry] {
        guard limit > 0 else { return [] }
        var all: [WaitingRetry] = []
        for name in queues(queue) {
            let reply = try redis.command("ZRANGE", settings.keys(name).retry, "0", String(limit - 1), "WITHSCORES")
            all += WaitingRetry.parse(reply, queue: name)
        }
        return Array(all.sorted { ($0.dueMilliseconds, $0.queue) < ($1.dueMilliseconds, $1.queue) }.prefix(limit))
    }

    /// The jobs waiting for a retry whose payload's `id`, or original entry id, is `jobId`
    /// (every one when nil), in `queue` (every queue when nil). Reads each retry set whole,
    /// 500 members at a time.
    static func findRetries(redis: RedisConnection, settings: QueueSettings, queue: String?, jobId: String?) throws -> [WaitingRetry] {
        var found: [WaitingRetry] = []
        for name in queues(queue) {
            let key = settings.keys(name).retry
            var start = 0
            while true {
                let page = WaitingRetry.parse(try redis.command("ZRANGE", key, String(start), String(start + 499), "WITHSCORES"), queue: name)
                found += page.filter { jobId == nil || $0.jobId == jobId || $0.entryId == jobId }
                guard page.count == 500 else { break }
                start += 500
            }
        }
        return found
    }

    /// Moves one waiting retry to its queue's stream now, with its attempt number, and
    /// removes it from the retry set, as the housekeeper does when it falls due.
    ///
    /// KEYS[1] the retry sorted set, KEYS[2] the stream; ARGV[1] the member
    /// (`<attempt>|<original entry id>|<payload>`). Returns the new entry's id, or nil
    /// when the member is gone (moved by the housekeeper meanwhile). A failing XADD raises
    /// before the ZREM runs: the job is never in neither place, nor in both.
    static let runRetryScript = """
        if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return false end
        local first = string.find(ARGV[1], '|', 1, true)
        local second = first and string.find(ARGV[1], '|', first + 1, true)
        if not second then return redis.error_reply('ERR not a retry member') end
        local id = redis.call('XADD', KEYS[2], '*', 'job', string.sub(ARGV[1], second + 1), 'attempt', string.sub(ARGV[1], 1, first - 1))
        redis.call('ZREM', KEYS[1], ARGV[1])
        return id
        """

    /// What became of one retry that was asked to run now.
    enum RetryRun: Sendable, Equatable {
        /// Added to `stream` as entry `entryId`.
        case moved(WaitingRetry, stream: String, entryId: String)
        /// It had left the retry set meanwhile (fell due and was moved by a daemon).
        case gone(WaitingRetry)
    }

    /// Runs now the retries of `jobId` (its payload's `id` or its original entry id), or
    /// every waiting retry when `jobId` is nil, in `queue` (every queue when nil).
    ///
    /// Throws `ConsoleActionError.notFound` when `jobId` is given and no retry of it is
    /// waiting, `.redis` when a move fails (the moves before it stand, the one that failed
    /// stays in its retry set).
    static func runRetries(redis: RedisConnection, settings: QueueSettings, queue: String?, jobId: String?) throws -> [RetryRun] {
        let chosen = try findRetries(redis: redis, settings: settings, queue: queue, jobId: jobId)
        if let jobId, chosen.isEmpty {
            throw ConsoleActionError(.notFound, "no retry of job \(jobId) is waiting" + (queue.map { " in queue \($0)" } ?? ""))
        }
        var runs: [RetryRun] = []
        for retry in chosen {
            let keys = settings.keys(retry.queue)
            let reply = try redis.pipeline(binary: [
                ["EVAL", runRetryScript, "2", keys.retry, keys.stream].map { Array($0.utf8) } + [retry.member],
            ]).first
            switch reply {
            case .bulk(let id)?:
                runs.append(.moved(retry, stream: keys.stream, entryId: String(decoding: id, as: UTF8.self)))
            case .null?:
                runs.append(.gone(retry))
            case .error(let message)?:
                throw ConsoleActionError(.redis, "moving the retry of \(retry.jobId ?? retry.entryId) to \(keys.stream) failed, "
                                         + "it stays in \(keys.retry): \(message)", done: runs.count)
            default:
                throw ConsoleActionError(.redis, "moving the retry of \(retry.jobId ?? retry.entryId) to \(keys.stream): "
                                         + "unexpected reply, it stays in \(keys.retry)", done: runs.count)
            }
        }
        return runs
    }

    // MARK: Dead letters

    /// Up to `limit` dead letters, newest first, of `queue` and with reason `code` (any
    /// when nil). Filters while paging through the stream, so `limit` counts letters that
    /// match. `withJob` includes each letter's job.
    static func deadLetters(redis: RedisConnection, settings: QueueSettings, queue: String?, code: String?, limit: Int,
                            withJob: Bool = false) throws -> [DeadLetter] {
        var letters: [DeadLetter] = []
        var end = "+"
        while letters.count < limit {
            let page = StreamReplies.range(try redis.command("XREVRANGE", settings.deadLetterStream, end, "-", "COUNT", "500"))
            for entry in page {
                let letter = DeadLetter(entry, withJob: withJob)
                if let queue, letter.queue != queue { continue }
                if let code, letter.code != code { continue }
                letters.append(letter)
                if letters.count == limit { break }
            }
            guard page.count == 500, let last = page.last else { break }
            end = "(" + last.id
        }
        return letters
    }

    /// The dead letter `entryId` with its job, or nil when there is none.
    static func deadLetter(redis: RedisConnection, settings: QueueSettings, entryId: String) throws -> DeadLetter? {
        StreamReplies.range(try redis.command("XRANGE", settings.deadLetterStream, entryId, entryId)).first
            .map { DeadLetter($0, withJob: true) }
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

    /// What became of a dead letter asked to be replayed.
    enum Replay: Sendable, Equatable {
        /// Its job is on `stream` as entry `entryId`, and the letter is deleted.
        case replayed(stream: String, entryId: String)
        /// The letter left the dead letters meanwhile (replayed or purged).
        case gone
        /// Its queue is not one of this relais: nothing was done.
        case notOurQueue
    }

    /// Replays the dead letter `entryId`: its job (or `replacement`, the whole corrected
    /// envelope) goes back on its queue and the letter is deleted, atomically.
    ///
    /// Throws `ConsoleActionError.notFound` when there is no such letter, `.refused` when
    /// `replacement` would be dead-lettered (checked as `relais validate` checks), and
    /// `.redis` when the job cannot be added (the letter is kept).
    static func replayDeadLetter(redis: RedisConnection, settings: QueueSettings, entryId: String,
                                 replacement: [UInt8]? = nil) throws -> Replay {
        guard let entry = StreamReplies.range(try redis.command("XRANGE", settings.deadLetterStream, entryId, entryId)).first else {
            throw ConsoleActionError(.notFound, "no dead letter \(entryId)")
        }
        return try replay(entry, redis: redis, settings: settings, replacement: replacement)
    }

    /// Replays one dead letter already read from the stream; see `replayDeadLetter`.
    static func replay(_ letter: StreamEntry, redis: RedisConnection, settings: QueueSettings, replacement: [UInt8]?) throws -> Replay {
        let fields = letter.fields ?? [:]
        guard let queue = fields["queue"].map({ String(decoding: $0, as: UTF8.self) }), JobFamilies.queues.contains(queue) else {
            return .notOurQueue
        }
        var payload = fields["job"] ?? []
        if let replacement {
            if let rejection = JobFamilies.validate(queue: queue, payload: replacement) {
                throw ConsoleActionError(.refused, "the replacement job is refused (\(rejection.code.rawValue)): \(rejection.message); nothing was replayed")
            }
            payload = replacement
        }
        let dead = settings.deadLetterStream
        let stream = settings.keys(queue).stream
        let reply = try redis.pipeline(binary: [
            ["EVAL", replayScript, "2", dead, stream, letter.id].map { Array($0.utf8) } + [payload],
        ]).first
        switch reply {
        case .bulk(let id)?:
            return .replayed(stream: stream, entryId: String(decoding: id, as: UTF8.self))
        case .null?:
            return .gone
        case .error(let message)?:
            throw ConsoleActionError(.redis, "replay of \(letter.id) to \(stream) failed, the dead letter is kept: \(message)")
        default:
            throw ConsoleActionError(.redis, "replay of \(letter.id) to \(stream): unexpected reply, the dead letter is kept")
        }
    }

    // MARK: One job's whereabouts

    /// Where job `jobId` is in Redis: its dead letters, its waiting retries, and its
    /// entries still in a queue's stream (unprocessed or being processed).
    ///
    /// The dead letters and retry sets are read whole; each stream only up to
    /// `streamScanLimit` entries (`streamsSearchedWhole` says whether they were all read):
    /// a stream that long is a backlog, and searching it is not cheap.
    static func whereabouts(redis: RedisConnection, settings: QueueSettings, jobId: String,
                            streamScanLimit: Int = 10_000) throws -> JobWhereabouts {
        var dead: [DeadLetter] = []
        var end = "+"
        while true {
            let page = StreamReplies.range(try redis.command("XREVRANGE", settings.deadLetterStream, end, "-", "COUNT", "1000"))
            dead += page.filter { $0.fields?["job_id"].map { String(decoding: $0, as: UTF8.self) } == jobId }
                .map { DeadLetter($0, withJob: true) }
            guard page.count == 1000, let last = page.last else { break }
            end = "(" + last.id
        }
        let retries = try findRetries(redis: redis, settings: settings, queue: nil, jobId: jobId)
        var entries: [QueuedEntry] = []
        var whole = true
        for name in JobFamilies.queues {
            let stream = settings.keys(name).stream
            var start = "-"
            var read = 0
            while true {
                let want = min(1000, streamScanLimit - read)
                if want == 0 {
                    if try !StreamReplies.range(redis.command("XRANGE", stream, start, "+", "COUNT", "1")).isEmpty { whole = false }
                    break
                }
                let page = StreamReplies.range(try redis.command("XRANGE", stream, start, "+", "COUNT", String(want)))
                read += page.count
                for entry in page {
                    guard let job = entry.fields?["job"], JobSummary(job).id == jobId else { continue }
                    let attempt = entry.fields?["attempt"].flatMap { Int(String(decoding: $0, as: UTF8.self)) }
                    entries.append(QueuedEntry(queue: name, entryId: entry.id, attempt: attempt, payload: job))
                }
                guard page.count == want, let last = page.last else { break }
                start = "(" + last.id
            }
        }
        return JobWhereabouts(deadLetters: dead, retries: retries, queued: entries, streamsSearchedWhole: whole)
    }

    private static func queues(_ queue: String?) -> [String] {
        queue.map { [$0] } ?? JobFamilies.queues
    }
}

/// Why a console action did not do what it was asked.
struct ConsoleActionError: Error, CustomStringConvertible {
    /// What kind of failure, for the caller to map to an exit status or an HTTP status.
    enum Kind: Sendable, Equatable {
        /// What was named does not exist (exit 65).
        case notFound
        /// What was given would be refused (exit 65).
        case refused
        /// Redis refused a write; nothing of that step was done (exit 70).
        case redis
    }

    /// The kind of failure.
    let kind: Kind
    /// What to tell the operator; holds no payload data.
    let message: String
    /// How many items the action had done before it failed.
    let done: Int

    /// Creates an error.
    init(_ kind: Kind, _ message: String, done: Int = 0) {
        self.kind = kind
        self.message = message
        self.done = done
    }

    var description: String { message }
}

/// A job waiting in a queue's retry set (`<prefix>:<queue>:retry`).
struct WaitingRetry: Sendable, Equatable {
    /// The queue.
    let queue: String
    /// The sorted set's member as stored: `<attempt>|<original entry id>|<payload>`.
    let member: [UInt8]
    /// The attempt number the job will carry when it runs, nil when unreadable.
    let attempt: Int?
    /// The id of the stream entry whose handling failed.
    let entryId: String
    /// When it is due, in milliseconds since the epoch.
    let dueMilliseconds: Int64
    /// The payload's `id` and `type`, nil when the payload is not a JSON object with them.
    let jobId: String?
    /// See `jobId`.
    let jobType: String?
    /// The order the payload's `data.order_id` names.
    let orderId: String?

    /// Reads a `ZRANGE … WITHSCORES` reply of a retry set.
    static func parse(_ reply: RedisReply, queue: String) -> [WaitingRetry] {
        let flat = reply.elements
        var out: [WaitingRetry] = []
        var i = 0
        while i + 1 < flat.count {
            defer { i += 2 }
            guard case .bulk(let member) = flat[i] else { continue }
            let score = flat[i + 1].string.flatMap(Double.init) ?? 0
            out.append(WaitingRetry(queue: queue, member: member, score: score))
        }
        return out
    }

    private init(queue: String, member: [UInt8], score: Double) {
        self.queue = queue
        self.member = member
        let bar = UInt8(ascii: "|")
        let parts = member.split(separator: bar, maxSplits: 2, omittingEmptySubsequences: false)
        attempt = parts.count == 3 ? Int(String(decoding: parts[0], as: UTF8.self)) : nil
        entryId = parts.count == 3 ? String(decoding: parts[1], as: UTF8.self) : "?"
        let payload = parts.count == 3 ? Array(parts[2]) : []
        // Scores are set by the consumer from a clock; a hand-made one may be anything.
        dueMilliseconds = score.isFinite && abs(score) < 9e15 ? Int64(score) : 0
        let summary = JobSummary(payload)
        jobId = summary.id
        jobType = summary.type
        orderId = summary.orderId
    }
}

/// A job's entry still in its queue's stream.
struct QueuedEntry: Sendable, Equatable {
    /// The queue.
    let queue: String
    /// The stream entry's id.
    let entryId: String
    /// The attempt it carries (a retry's), nil for a first attempt.
    let attempt: Int?
    /// The job as the producer wrote it.
    let payload: [UInt8]
}

/// Where a job is in Redis; see `ConsoleActions.whereabouts`.
struct JobWhereabouts: Sendable {
    /// Its dead letters, newest first.
    let deadLetters: [DeadLetter]
    /// Its waiting retries.
    let retries: [WaitingRetry]
    /// Its entries still in a stream.
    let queued: [QueuedEntry]
    /// Whether every stream was searched to its end.
    let streamsSearchedWhole: Bool

    /// The orders the payloads found name (`data.order_id`).
    var orderIds: [String] {
        var ids: [String] = []
        let named = deadLetters.compactMap { $0.job.flatMap { JobSummary(Array($0.utf8)).orderId } }
            + retries.compactMap(\.orderId) + queued.compactMap { JobSummary($0.payload).orderId }
        for id in named where !ids.contains(id) { ids.append(id) }
        return ids
    }
}

/// A dead letter as read from `<prefix>:dead`, typed: what the commands print and the
/// page shows.
struct DeadLetter: Sendable, Equatable, Encodable {
    /// The letter's entry id in the dead-letter stream.
    let entryId: String
    /// The queue the job came from.
    let queue: String
    /// The reason's code, such as `invalid_field`.
    let code: String
    /// Why, in words, naming the field.
    let reason: String
    /// How many attempts were made; nil when the letter does not say a number.
    let attempts: Int?
    /// When it was dead-lettered (RFC 3339).
    let failedAt: String
    /// The job's `id`, when it had one.
    let jobId: String?
    /// The job's `type`, when it had one.
    let jobType: String?
    /// The job as the producer wrote it (only when asked for).
    let job: String?

    /// Reads a dead letter's fields; `withJob` keeps its job.
    init(_ entry: StreamEntry, withJob: Bool) {
        let f = entry.fields ?? [:]
        func text(_ key: String) -> String? { f[key].map { String(decoding: $0, as: UTF8.self) } }
        // The fields the status page shows are read as the page reads them.
        let summary = DeadLetterSummary(entry)
        entryId = summary.entryId
        queue = summary.queue
        code = summary.code
        reason = summary.reason
        attempts = text("attempts").flatMap { Int($0) }
        failedAt = summary.failedAt
        jobId = summary.jobId
        jobType = summary.jobType
        job = withJob ? text("job") : nil
    }

    private enum CodingKeys: String, CodingKey {
        case entryId, queue, code, reason, attempts, failedAt, jobId, jobType, job
    }

    /// Every field, `attempts` as a number (null when unreadable) and `job` as JSON when
    /// it parses as JSON, else as the string it is.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(entryId, forKey: .entryId)
        try c.encode(queue, forKey: .queue)
        try c.encode(code, forKey: .code)
        try c.encode(reason, forKey: .reason)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(failedAt, forKey: .failedAt)
        try c.encode(jobId, forKey: .jobId)
        try c.encode(jobType, forKey: .jobType)
        if let job {
            if let value = JSONValue(parsing: Array(job.utf8)) {
                try c.encode(value, forKey: .job)
            } else {
                try c.encode(job, forKey: .job)
            }
        }
    }
}

/// The `id`, `type` and `data.order_id` of a job's payload, each nil when the payload is
/// not a JSON object or lacks it (the payload is a producer's bytes, anything at all).
struct JobSummary: Sendable, Equatable {
    /// The idempotency key.
    let id: String?
    /// The job type.
    let type: String?
    /// The order it is about.
    let orderId: String?

    /// Reads `payload`.
    init(_ payload: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(payload))) as? [String: Any] else {
            (id, type, orderId) = (nil, nil, nil)
            return
        }
        id = object["id"] as? String
        type = object["type"] as? String
        orderId = (object["data"] as? [String: Any])?["order_id"] as? String
    }
}

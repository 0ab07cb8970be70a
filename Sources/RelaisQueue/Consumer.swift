import Foundation
import Logging
import RedisClient
import RelaisDomain
import RelaisLogging
import RelaisWorkers

/// What every consumer thread of the engine shares, whatever its queue.
public struct ConsumerContext: Sendable {
    let endpoint: RedisEndpoint
    let settings: QueueSettings
    let shared: ConsumerShared
    let stop: StopSignal
    let logger: Logger
    let metrics: QueueMetrics
    let tunables: EngineTunables
    let epoch: HandlerEpoch
    let pauses: PauseBoard
}

/// A failure of the handler's backing store: the batch stays pending.
private struct StoreUnavailable: Error {
    let underlying: any Error
}

/// One consumer of one queue's stream, running on a thread of its own.
///
/// Each round it reads the entries it already holds (at start and after a failure),
/// takes over entries other consumers left idle, or reads new entries; hands their jobs
/// to the family's handler, which reads, validates and applies them; and then, in one
/// Redis script, writes dead letters and retries, acknowledges and deletes the batch,
/// so that the stream holds only unfinished work. An entry is acknowledged only after
/// its effect was committed: a crash at any point leaves it pending, to be read again,
/// and the family's idempotency ledger makes the second reading a duplicate.
struct Consumer: Sendable {
    let family: JobFamily
    let context: ConsumerContext

    private var settings: QueueSettings { context.settings }
    private var keys: QueueKeys { context.shared.queue }
    private var name: String { context.shared.name }
    private var logger: Logger { context.logger }
    /// How often a paused consumer looks whether its queue was resumed.
    static var pausePoll: Duration { .milliseconds(100) }
    /// The longest wait, in microseconds, that `relais_job_wait_seconds` records.
    static var longestWait: Int64 { 7 * 86_400 * 1_000_000 }

    /// The consumer loop; returns when the stop signal is set.
    func run() {
        var redis: RedisConnection?
        var handler: (any JobHandler)?
        var backoff = Backoff()
        var readingHistory = true
        var nextClaim = ContinuousClock.now
        var claimCursor = "0-0"
        var readCount = context.tunables.batchSize
        var handlerEpoch = context.epoch.current
        // Batches halve with each store failure in a row: a batch that cannot commit is
        // read again whole, and fewer entries then count a delivery towards poison.
        var storeFailures = 0
        defer {
            redis?.close()
            handler?.close()
            _ = context.shared.set(.stopped)
        }

        while !context.stop.isSet {
            context.shared.beat()
            if redis == nil {
                do {
                    // Held before the group is made, so that the catch below closes it
                    // whatever fails.
                    redis = try RedisConnection(context.endpoint, timeout: settings.blockTimeout + .seconds(10))
                    try ensureGroup(redis!)
                    readingHistory = true
                } catch {
                    redis?.close()
                    redis = nil
                    wait(.waitingForRedis("\(error)"), &backoff)
                    continue
                }
            }
            if handlerEpoch != context.epoch.current {
                handlerEpoch = context.epoch.current
                handler?.close()
                handler = nil
            }
            if handler == nil {
                do {
                    handler = try family.makeHandler()
                } catch {
                    wait(.waitingForStore("\(error)"), &backoff)
                    continue
                }
            }
            if context.pauses.isPaused(keys.queue) {
                if context.shared.set(.paused) {
                    logger.info("consumer paused", metadata: ["job.queue": "\(keys.queue)", "consumer": "\(name)"])
                }
                // What was read before the pause stays pending: read again from the history after it.
                readingHistory = true
                context.stop.sleep(Self.pausePoll)
                continue
            }
            if context.shared.set(.running) {
                logger.info("consumer running", metadata: ["job.queue": "\(keys.queue)", "consumer": "\(name)"])
            }

            do {
                let fetched: Fetched
                let count = max(1, readCount >> min(storeFailures, 16))
                if readingHistory {
                    fetched = try readHistory(redis!, count: count)
                    if fetched.entries.isEmpty { readingHistory = false }
                } else if ContinuousClock.now >= nextClaim {
                    fetched = try claimIdle(redis!, cursor: &claimCursor, count: count)
                    // Keep claiming while there is more; otherwise look again in half the idle time.
                    nextClaim = claimCursor == "0-0" || fetched.entries.isEmpty ? .now + settings.claimIdle / 2 : .now
                } else {
                    fetched = try readNew(redis!, count: count)
                }
                guard !fetched.entries.isEmpty else {
                    backoff.reset()
                    continue
                }
                // Paused while the read waited: the batch stays pending, untouched, until the resume.
                guard !context.pauses.isPaused(keys.queue) else { continue }
                let bytes = fetched.entries.reduce(0) { $0 + ($1.fields?["job"]?.count ?? 0) }
                readCount = max(1, min(context.tunables.batchSize, settings.maxBatchBytes / max(1, bytes / fetched.entries.count)))
                try handle(fetched, redis: redis!, handler: handler!)
                storeFailures = 0
                // Only a finished round ends a run of failures: a connection that fails at
                // its first batch keeps backing off.
                backoff.reset()
            } catch let error as StoreUnavailable {
                logger.warning("store unavailable, batch left pending",
                               metadata: ["job.queue": "\(keys.queue)", "consumer": "\(name)", "error": "\(error.underlying)"])
                handler?.close()
                handler = nil
                readingHistory = true
                storeFailures += 1
                wait(.waitingForStore("\(error.underlying)"), &backoff)
            } catch {
                logger.warning("Redis failed, reconnecting",
                               metadata: ["job.queue": "\(keys.queue)", "consumer": "\(name)", "error": "\(error)"])
                redis?.close()
                redis = nil
                wait(.waitingForRedis("\(error)"), &backoff)
            }
        }
    }

    private func wait(_ state: ConsumerState, _ backoff: inout Backoff) {
        if context.shared.set(state) {
            logger.warning("consumer waiting", metadata: ["job.queue": "\(keys.queue)", "consumer": "\(name)", "state": "\(state)"])
        }
        context.stop.sleep(backoff.next())
    }

    // MARK: Reading

    private func ensureGroup(_ redis: RedisConnection) throws {
        let result = Result { () throws(RedisError) -> RedisReply in
            try redis.command("XGROUP", "CREATE", keys.stream, settings.group, "0", "MKSTREAM")
        }
        // BUSYGROUP: the group exists, the normal case after the first start.
        if case .failure(let error) = result, !(error.kind == .server && error.message.hasPrefix("BUSYGROUP")) {
            throw error
        }
    }

    private func readHistory(_ redis: RedisConnection, count: Int) throws -> Fetched {
        let reply = try redis.command("XREADGROUP", "GROUP", settings.group, name, "COUNT", String(count), "STREAMS", keys.stream, "0")
        let entries = StreamReplies.readGroup(reply)
        return Fetched(entries: entries, deliveries: try deliveryCounts(redis, entries))
    }

    private func claimIdle(_ redis: RedisConnection, cursor: inout String, count: Int) throws -> Fetched {
        let idle = Int64(settings.claimIdle.seconds * 1000)
        let reply = try redis.command("XAUTOCLAIM", keys.stream, settings.group, name, String(idle), cursor, "COUNT", String(count))
        let (next, entries) = StreamReplies.autoClaim(reply)
        cursor = next
        if !entries.isEmpty {
            logger.notice("claimed idle jobs", metadata: ["job.queue": "\(keys.queue)", "consumer": "\(name)", "count": "\(entries.count)"])
        }
        return Fetched(entries: entries, deliveries: try deliveryCounts(redis, entries))
    }

    private func readNew(_ redis: RedisConnection, count: Int) throws -> Fetched {
        let block = Int64(settings.blockTimeout.seconds * 1000)
        let reply = try redis.command("XREADGROUP", "GROUP", settings.group, name, "COUNT", String(count),
                                      "BLOCK", String(block), "STREAMS", keys.stream, ">")
        return Fetched(entries: StreamReplies.readGroup(reply))
    }

    private func deliveryCounts(_ redis: RedisConnection, _ entries: [StreamEntry]) throws -> [String: Int64] {
        guard let first = entries.first?.id, let last = entries.last?.id else { return [:] }
        let reply = try redis.command("XPENDING", keys.stream, settings.group, first, last, String(entries.count * 2), name)
        var counts: [String: Int64] = [:]
        for line in StreamReplies.pending(reply) { counts[line.id] = line.deliveries }
        return counts
    }

    // MARK: Handling a batch

    private func handle(_ fetched: Fetched, redis: RedisConnection, handler: any JobHandler) throws {
        let started = ContinuousClock.now
        let pickedUp = Timestamp(Date())
        context.shared.inFlight.withLock { $0 = (fetched.entries.map(\.id), started) }
        defer { context.shared.inFlight.withLock { $0.ids = [] } }

        var items: [BatchItem] = []
        var jobs: [StreamJob] = []
        var jobItem: [Int] = []
        items.reserveCapacity(fetched.entries.count)
        for entry in fetched.entries {
            let fields = entry.fields
            let attempt = settings.retry.attempt(fromField: fields?["attempt"])
            guard let fields else {
                // Deleted from the stream while still pending: nothing to do but acknowledge it.
                items.append(BatchItem(entry: entry, payload: nil, attempt: attempt, outcome: .duplicate))
                continue
            }
            guard let payload = fields["job"] else {
                items.append(BatchItem(entry: entry, payload: nil, attempt: attempt,
                                       outcome: .dead(JobRejection(.missingJob, "the stream entry has no \"job\" field")),
                                       otherFields: fields))
                continue
            }
            guard payload.count <= settings.maxPayloadBytes else {
                let rejection = JobRejection(.tooLarge, "payload is \(payload.count) bytes, the limit is \(settings.maxPayloadBytes)")
                items.append(BatchItem(entry: entry, payload: payload, attempt: attempt, outcome: .dead(rejection)))
                continue
            }
            // New entries have no delivery counts: only history and claims are looked up.
            let deliveries = fetched.deliveries.isEmpty ? 1 : fetched.deliveries[entry.id] ?? 1
            jobItem.append(items.count)
            jobs.append(StreamJob(entryId: entry.id, payload: payload, attempt: attempt,
                                  excessDeliveries: deliveries > Int64(settings.maxDeliveries) ? deliveries : nil))
            items.append(BatchItem(entry: entry, payload: payload, attempt: attempt, outcome: nil))
        }

        if !jobs.isEmpty {
            let handled: [HandledJob]
            do {
                handled = try handler.handle(jobs)
            } catch {
                throw StoreUnavailable(underlying: error)
            }
            precondition(handled.count == jobs.count, "a JobHandler returns one result per job")
            for (index, result) in zip(jobItem, handled) {
                items[index].outcome = result.outcome
                items[index].jobId = result.id
                items[index].type = result.type
                items[index].enqueuedAt = result.enqueuedAt
            }
        }

        let settled = try settle(items, redis: redis)
        let elapsed = ContinuousClock.now - started
        let finished = items.indices.filter { !settled.unwritten.contains($0) }
        StandardError.gathering {
            report(finished.map { items[$0] }, finished.map { settled.outcomes[$0] }, pickedUp: pickedUp, elapsed: elapsed)
        }
        context.shared.progressed(jobs: finished.count)
        if let failure = settled.failure { throw failure }
    }

    /// Records dead letters and retries and acknowledges and deletes the batch, in one
    /// script that Redis runs atomically (`settleScript`).
    ///
    /// Each dead letter and retry is written first and its result checked: an entry whose
    /// record could not be written (the key has the wrong type, Redis is out of memory)
    /// is not acknowledged. It stays pending and comes back, and the consumer reports the
    /// failure and backs off. Being one script, a record and its acknowledgement are both
    /// done or neither: a connection lost meanwhile never writes a dead letter twice.
    private func settle(_ items: [BatchItem], redis: RedisConnection) throws -> Settled {
        var arguments: [[UInt8]] = ["EVAL", Self.settleScript, "3", keys.stream, keys.dead, keys.retry,
                                    settings.group, String(settings.deadLetterMaxLength)].bytes
        arguments.reserveCapacity(arguments.count + items.count * 2)
        var finals: [JobOutcome] = []
        finals.reserveCapacity(items.count)
        let now = Date()
        let failedAt = Timestamp(now).description
        for item in items {
            var outcome = item.outcome ?? .duplicate
            var record: [[UInt8]] = ["A".bytes, item.entry.id.bytes]
            if case .retry(let reason) = outcome {
                switch settings.retry.decide(afterAttempt: item.attempt, random: Double.random(in: 0..<1)) {
                case .retry(let delay):
                    let due = Int64((now.timeIntervalSince1970 + delay.seconds) * 1000)
                    let member = Array("\(item.attempt + 1)|\(item.entry.id)|".utf8) + (item.payload ?? [])
                    record = ["R".bytes, item.entry.id.bytes, String(due).bytes, member]
                case .giveUp:
                    outcome = .dead(JobRejection(.attemptsExhausted, "gave up after \(item.attempt) attempts: \(reason)"))
                }
            }
            if case .dead(let rejection) = outcome {
                let fields = deadLetter(item, rejection, failedAt: failedAt)
                record = ["D".bytes, item.entry.id.bytes, String(fields.count / 2).bytes] + fields
            }
            arguments += record
            finals.append(outcome)
        }

        var unwritten = IndexSet()
        var failure: RedisError?
        // The reply lists the entries left pending: [position (1-based), error, …].
        let failed = try redis.pipeline(binary: [arguments])[0]
        if case .error(let message) = failed { throw RedisError(.server, command: "EVAL", message: message) }
        let pairs = failed.elements
        for i in stride(from: 0, to: pairs.count - 1, by: 2) {
            guard let position = pairs[i].integer, (1...Int64(items.count)).contains(position) else { continue }
            let index = Int(position) - 1
            unwritten.insert(index)
            failure = failure ?? RedisError(.server, command: finals[index].label == "retry" ? "ZADD" : "XADD",
                                            message: pairs[i + 1].string ?? "failed")
        }
        if let failure {
            logger.error("could not record a dead letter or retry, the entries stay pending", metadata: [
                "job.queue": "\(keys.queue)", "consumer": "\(name)", "count": "\(unwritten.count)", "error": "\(failure)",
            ])
        }
        return Settled(outcomes: finals, unwritten: unwritten, failure: failure)
    }

    /// Settles a batch: writes its dead letters and retries, then acknowledges and deletes
    /// the entries whose records were written. Atomic, as every Redis script.
    ///
    /// KEYS[1] the stream, KEYS[2] the dead-letter stream, KEYS[3] the retry sorted set.
    /// ARGV[1] the consumer group, ARGV[2] the dead-letter stream's approximate length;
    /// then one record per entry: `A <id>` (acknowledge only), `R <id> <due ms> <member>`
    /// (retry), or `D <id> <n> <field> <value> …` (dead letter of n fields). Returns, for
    /// each entry left pending, its position (1-based) and the error.
    ///
    /// Nothing is written unless the acknowledgement can follow: Redis does not roll a
    /// script back, so an `XACK` failing after the writes (the group deleted meanwhile,
    /// the key replaced) would leave letters written for entries that stay pending, to be
    /// written again when they come back. The script first checks that the group exists
    /// on the stream, and otherwise returns the error, writing nothing.
    static var settleScript: String {
        """
        local group = redis.pcall('XPENDING', KEYS[1], ARGV[1])
        if type(group) == 'table' and group.err then return redis.error_reply(group.err) end
        local acked, failed, position, i = {}, {}, 0, 3
        while i <= #ARGV do
          local kind, id = ARGV[i], ARGV[i + 1]
          position = position + 1
          i = i + 2
          local reply = nil
          if kind == 'R' then
            reply = redis.pcall('ZADD', KEYS[3], ARGV[i], ARGV[i + 1])
            i = i + 2
          elseif kind == 'D' then
            local n = tonumber(ARGV[i])
            local command = {'XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*'}
            for j = i + 1, i + 2 * n do command[#command + 1] = ARGV[j] end
            i = i + 1 + 2 * n
            reply = redis.pcall(unpack(command))
          end
          if type(reply) == 'table' and reply.err then
            failed[#failed + 1] = position
            failed[#failed + 1] = reply.err
          else
            acked[#acked + 1] = id
          end
        end
        if #acked > 0 then
          redis.call('XACK', KEYS[1], ARGV[1], unpack(acked))
          redis.call('XDEL', KEYS[1], unpack(acked))
        end
        return failed
        """
    }

    /// The field/value pairs of `item`'s dead letter: why, when, and the entry as it was,
    /// so that an operator can fix and replay it. An entry without a `job` field keeps
    /// its fields.
    private func deadLetter(_ item: BatchItem, _ rejection: JobRejection, failedAt: String) -> [[UInt8]] {
        var fields: [[UInt8]] = ["queue", keys.queue, "code", rejection.code.rawValue, "reason", rejection.message,
                                 "attempts", String(item.attempt), "failed_at", failedAt, "entry_id", item.entry.id].bytes
        if let id = item.jobId { fields += ["job_id", id].bytes }
        if let type = item.type { fields += ["job_type", type].bytes }
        if let payload = item.payload {
            fields += ["job".bytes, payload]
        } else if let otherFields = item.otherFields {
            // The letter's own field names stay Relais's: the entry's go under `entry.`.
            for (field, value) in otherFields.sorted(by: { $0.key < $1.key }) { fields += [Array("entry.\(field)".utf8), value] }
        }
        return fields
    }

    /// One line per job (fields in key order, see `FieldLogger`) and the job metrics.
    ///
    /// A job that says when it was enqueued gets two ages: `job.wait_ms` from then until
    /// a consumer picked it up, `job.latency_ms` until its effect was committed and it
    /// was acknowledged.
    private func report(_ items: [BatchItem], _ outcomes: [JobOutcome], pickedUp: Timestamp, elapsed: Duration) {
        let nowMicros = Timestamp(Date()).microseconds
        let duration = milliseconds(Int64(elapsed.seconds * 1_000_000))
        let types = family.types
        let lines = FieldLogger(logger)
        var counts: [(type: String, outcome: String, count: Int)] = []
        var fields: [(key: String, value: String)] = []
        fields.reserveCapacity(10)
        var waits: [Int64] = []
        for (item, outcome) in zip(items, outcomes) {
            let typeLabel = item.type.flatMap { types.contains($0) ? $0 : nil } ?? "unknown"
            if let index = counts.firstIndex(where: { $0.type == typeLabel && $0.outcome == outcome.label }) {
                counts[index].count += 1
            } else {
                counts.append((typeLabel, outcome.label, 1))
            }
            fields.removeAll(keepingCapacity: true)
            fields.append(("job.attempt", String(item.attempt)))
            if case .dead(let rejection) = outcome { fields.append(("job.code", rejection.code.rawValue)) }
            fields.append(("job.duration_ms", duration))
            fields.append(("job.entry", item.entry.id))
            fields.append(("job.id", item.jobId ?? "-"))
            if let enqueued = item.enqueuedAt { fields.append(("job.latency_ms", milliseconds(nowMicros.saturatingMinus(enqueued.microseconds)))) }
            fields.append(("job.outcome", outcome.label))
            fields.append(("job.queue", keys.queue))
            let level: Logger.Level, message: String
            switch outcome {
            case .done:
                (level, message) = (.info, "job done")
            case .duplicate:
                (level, message) = (.info, "job duplicate")
            case .retry(let reason):
                (level, message) = (.notice, "job retry scheduled")
                fields.append(("job.reason", reason))
            case .dead(let rejection):
                (level, message) = (.warning, "job dead-lettered")
                fields.append(("job.reason", rejection.message))
                context.metrics.deadLetter(queue: keys.queue, reason: rejection.code.rawValue)
            }
            fields.append(("job.type", typeLabel))
            if let enqueued = item.enqueuedAt {
                let wait = pickedUp.microseconds.saturatingMinus(enqueued.microseconds)
                // `enqueued_at` is the producer's clock: a wait below zero or above a
                // week is a wrong clock, logged but kept out of the histogram.
                if (0...Self.longestWait).contains(wait) { waits.append(wait) }
                fields.append(("job.wait_ms", milliseconds(wait)))
            }
            lines.log(level, message, fields: fields)
        }
        for c in counts { context.metrics.job(queue: keys.queue, type: c.type, outcome: c.outcome, count: c.count) }
        context.metrics.duration(queue: keys.queue, elapsed, count: items.count)
        context.metrics.waited(queue: keys.queue, microseconds: waits)
    }
}

/// Entries read from the stream.
private struct Fetched {
    var entries: [StreamEntry]
    /// Delivery counts of re-delivered entries (history and claims); new entries have 1.
    var deliveries: [String: Int64] = [:]
}

/// What `settle` did: each item's final outcome, the items left pending because their
/// dead letter or retry could not be written, and the first such failure.
private struct Settled {
    let outcomes: [JobOutcome]
    let unwritten: IndexSet
    let failure: RedisError?
}

/// An entry of a batch, and what became of it.
private struct BatchItem {
    let entry: StreamEntry
    let payload: [UInt8]?
    let attempt: Int
    var outcome: JobOutcome?
    var jobId: String? = nil
    var type: String? = nil
    var enqueuedAt: Timestamp? = nil
    /// The entry's fields, kept for the dead letter of an entry that has no `job` field.
    var otherFields: [String: [UInt8]]? = nil
}

extension Int64 {
    /// `self - other`, held at the bounds instead of trapping.
    func saturatingMinus(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other < 0 ? .max : .min) : difference
    }
}

/// Microseconds as milliseconds with two decimals (`1234` → `1.23`), without `String(format:)`,
/// which costs more than the rest of a log line.
func milliseconds(_ micros: Int64) -> String {
    let sign = micros < 0 ? "-" : ""
    let value = micros == .min ? Int64.max / 10 : abs(micros) / 10
    let fraction = value % 100
    return "\(sign)\(value / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}

extension Array where Element == String {
    var bytes: [[UInt8]] { map { [UInt8]($0.utf8) } }
}

import Foundation
import RelaisTestSupport
import Testing

/// The output of a `--json` command, parsed.
private func parsed(_ result: CommandResult) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(result.output.utf8))
}

/// `value` is a JSON number, not a string holding one.
private func isNumber(_ value: Any?) -> Bool {
    value is NSNumber && !(value is String)
}

/// Adds a dead letter to `<prefix>:dead` as the consumer writes one; returns its entry id.
private func addLetter(_ deployment: Deployment, queue: String, code: String, jobId: String, job: String, attempts: String = "3") throws -> String {
    try deployment.producer.run(["XADD", "\(deployment.prefix):dead", "*", "queue", queue, "code", code,
                                 "reason", "data.delta: must be an integer", "attempts", attempts, "failed_at", "2026-11-28T12:00:00Z",
                                 "entry_id", "1764331200000-0", "job_id", jobId, "job_type", "stock.adjust", "job", job])
}

@Suite("The operator's console commands, through the binary", .serialized)
struct ConsoleCommandsEndToEndTests {
    // MARK: retries

    /// A retry is put in the set exactly as the consumer's settle script writes it
    /// (`<attempt>|<original entry id>|<payload>`, scored by its due time in ms), due in an
    /// hour so that no daemon moves it meanwhile: making a real transient failure needs a
    /// PostgreSQL that fails on cue.
    @Test func retriesAreListedAndRunNowOntoTheirStreamOnce() throws {
        let deployment = try Deployment()
        let env = try deployment.environment()
        let prefix = deployment.prefix
        let p = deployment.producer
        let payload = #"{"id":"rt-1","type":"stock.adjust","data":{"shop_id":"rt","sku":"a","delta":3,"at":"2026-11-28T12:00:00Z"}}"#
        let dueMs = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        try p.run(["ZADD", "\(prefix):stock:retry", String(dueMs), "2|1764331200000-0|\(payload)"])
        try p.run(["ZADD", "\(prefix):orders:retry", String(dueMs + 1000), "4|1764331200001-0|not json"])

        let list = try Daemon.command(["retries", "list"], environment: env, timeout: .seconds(30))
        #expect(list.status == 0, "\(list.errors)")
        let lines = list.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("QUEUE") == true && lines.first?.contains("JOB ID") == true, "a header row: \(list.output)")
        #expect(lines.count == 3, "\(list.output)")
        #expect(lines[1].contains("stock") && lines[1].contains("rt-1") && lines[1].contains("stock.adjust") && lines[1].contains(" 2 "),
                "the soonest first, with its type and attempt: \(list.output)")
        #expect(lines[1].contains("in 59m") || lines[1].contains("in 1h"), "due in about an hour: \(lines[1])")
        #expect(lines[2].contains("orders") && lines[2].contains(" - "), "a payload that is not JSON has no type: \(lines[2])")

        let json = try Daemon.command(["retries", "list", "--queue", "stock", "--json"], environment: env, timeout: .seconds(30))
        let rows = try #require(try parsed(json) as? [[String: Any]])
        #expect(rows.count == 1, "only the stock queue: \(json.output)")
        #expect(rows.first?["job_id"] as? String == "rt-1" && rows.first?["job_type"] as? String == "stock.adjust")
        #expect(isNumber(rows.first?["attempt"]) && rows.first?["attempt"] as? Int == 2, "\(json.output)")
        #expect((rows.first?["due_in_seconds"] as? Double ?? 0) > 3000, "\(json.output)")
        #expect(rows.first?["due_at"] as? String == Date(timeIntervalSince1970: Double(dueMs) / 1000)
            .formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)))

        let trace = try Daemon.command(["job", "rt-1"], environment: env, timeout: .seconds(30))
        #expect(trace.status == 0 && trace.output.contains("retry: waiting in stock for attempt 2"), "\(trace.output)\(trace.errors)")

        // Run by job id: on the stream with its attempt, out of the retry set, in one step.
        let run = try Daemon.command(["retries", "run", "rt-1"], environment: env, timeout: .seconds(30))
        #expect(run.status == 0, "\(run.errors)")
        #expect(run.output.contains("ran rt-1 (attempt 2) now: \(prefix):stock ") && run.output.hasSuffix("ran 1 retry now\n"), "\(run.output)")
        #expect(try p.run(["ZCARD", "\(prefix):stock:retry"]) == "0", "out of the retry set")
        let entry = try p.run(["XRANGE", "\(prefix):stock", "-", "+"])
        #expect(entry.contains(payload) && entry.contains("attempt\n2"), "on the stream as the housekeeper adds it: \(entry)")
        #expect(try p.run(["XLEN", "\(prefix):stock"]) == "1")

        let again = try Daemon.command(["retries", "run", "rt-1"], environment: env, timeout: .seconds(30))
        #expect(again.status == 65 && again.errors.contains("no retry of job rt-1"), "\(again.status) \(again.errors)")
        #expect(try p.run(["XLEN", "\(prefix):stock"]) == "1", "not added twice")

        // A daemon takes the job; --all runs the rest (the payload that is not JSON gets dead-lettered).
        let daemon = try deployment.start()
        defer { daemon.stop() }
        #expect(try eventually { try deployment.onHand(shop: "rt") == ["a": 3] }, "the job ran")
        let all = try Daemon.command(["retries", "run", "--all", "--queue", "orders"], environment: env, timeout: .seconds(30))
        #expect(all.status == 0 && all.output.hasSuffix("ran 1 retry now\n"), "\(all.output)\(all.errors)")
        #expect(try deployment.waitUntilDrained())
        #expect(try deployment.deadLetters().map { $0["queue"] } == ["orders"], "the orders retry ran and was dead-lettered")
        #expect(try deployment.deadLetters().first?["attempts"] == "4", "with its attempt number")
        let none = try Daemon.command(["retries", "list"], environment: env, timeout: .seconds(30))
        #expect(none.output == "no job is waiting for a retry\n", "\(none.output)")
    }

    /// A real retry: the stock table is locked, the daemon's transaction times out
    /// (a transient failure) and the job waits an hour (`RELAIS_RETRY_BASE`); `run` makes
    /// it take effect now.
    @Test func aJobRetriedAfterALockTimeoutRunsNowWhenAsked() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start(["RELAIS_RETRY_BASE": "1h", "RELAIS_RETRY_MAX": "1h"])
        defer { daemon.stop() }
        let env = try deployment.environment()
        try TestServers.withDatabase(deployment.databaseURL) { holder in
            try holder.execute("BEGIN; LOCK TABLE relais.stock_items IN ACCESS EXCLUSIVE MODE", name: "hold")
            try deployment.producer.xadd(queue: "stock", payload:
                #"{"id":"locked-1","type":"stock.adjust","data":{"shop_id":"lk","sku":"a","delta":5,"at":"2026-11-28T12:00:00Z"}}"#)
            #expect(try eventually(timeout: .seconds(30)) { try deployment.producer.run(["ZCARD", "\(deployment.prefix):stock:retry"]) == "1" },
                    "the lock timeout made the job wait for a retry")
            try holder.execute("ROLLBACK", name: "release")
        }
        let list = try Daemon.command(["retries", "list", "--json"], environment: env, timeout: .seconds(30))
        let rows = try #require(try parsed(list) as? [[String: Any]])
        #expect(rows.count == 1 && rows.first?["job_id"] as? String == "locked-1" && rows.first?["attempt"] as? Int == 2, "\(list.output)")
        #expect((rows.first?["due_in_seconds"] as? Double ?? 0) > 1700, "due in an hour, less up to half at random: \(list.output)")
        #expect(try deployment.onHand(shop: "lk").isEmpty, "not taken effect yet")

        let run = try Daemon.command(["retries", "run", "locked-1"], environment: env, timeout: .seconds(30))
        #expect(run.status == 0 && run.output.hasSuffix("ran 1 retry now\n"), "\(run.output)\(run.errors)")
        #expect(try eventually { try deployment.onHand(shop: "lk") == ["a": 5] }, "the job ran now, not in an hour")
        #expect(try deployment.waitUntilDrained())
        let trace = try Daemon.command(["job", "locked-1"], environment: env, timeout: .seconds(30))
        #expect(trace.output.contains("ledger: took effect on queue stock as stock.adjust") && !trace.output.contains("retry:"),
                "\(trace.output)")
    }

    // MARK: failed messages and the job's trace

    /// Failed messages are made by the real delivery path: the shop's webhook answers 404,
    /// a permanent refusal.
    @Test func failedMessagesAreListedWithoutPersonalDataAndSentAgain() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        try channels.http.setStatus(path: "/webhook", status: 404)
        let daemon = try deployment.start(channels.settings)
        defer { daemon.stop() }
        let env = try deployment.environment()
        for order in ["fm-1", "fm-2"] {
            try deployment.producer.xadd(queue: "orders", payload: placed(order, items: [("a", "A", 1, 100)],
                                                                          webhook: channels.http.url("/webhook")))
        }
        #expect(try eventually(timeout: .seconds(30)) {
            try ["fm-1", "fm-2"].allSatisfy { try deployment.messages($0).contains("order-placed-shop:webhook:failed") }
        })
        #expect(try deployment.waitUntilDelivered())

        let list = try Daemon.command(["messages", "failed"], environment: env, timeout: .seconds(30))
        #expect(list.status == 0, "\(list.errors)")
        let lines = list.output.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("ID") == true && lines.first?.contains("LAST ERROR") == true, "a header row: \(list.output)")
        #expect(lines.count == 3, "two failed webhooks: \(list.output)")
        #expect(lines.dropFirst().allSatisfy { $0.contains("webhook") && $0.contains("order-placed-shop") && $0.contains("boul")
                && $0.contains("404") }, "\(list.output)")
        for secret in ["@", "+336", "lea", "example.fr"] { #expect(!list.output.contains(secret), "no personal data: \(list.output)") }

        let json = try Daemon.command(["messages", "failed", "--json"], environment: env, timeout: .seconds(30))
        let rows = try #require(try parsed(json) as? [[String: Any]])
        #expect(rows.count == 2)
        #expect(rows.allSatisfy { isNumber($0["id"]) && $0["attempts"] as? Int == 1 && $0["failed_at"] is String && $0["order_id"] is String },
                "\(json.output)")
        #expect(!json.output.contains("@"), "no address: \(json.output)")
        let fm1 = try #require(rows.first { $0["order_id"] as? String == "fm-1" }?["id"] as? Int)
        let other = try Daemon.command(["messages", "failed", "--channel", "email"], environment: env, timeout: .seconds(30))
        #expect(other.output == "no failed messages on email\n", "\(other.output)")

        let unknown = try Daemon.command(["messages", "resend", "999999"], environment: env, timeout: .seconds(30))
        #expect(unknown.status == 65 && unknown.errors.contains("no failed message 999999"), "\(unknown.status) \(unknown.errors)")

        // The webhook works again: one message by id, then the rest.
        try channels.http.setStatus(path: "/webhook", status: 200)
        let one = try Daemon.command(["messages", "resend", String(fm1)], environment: env, timeout: .seconds(30))
        #expect(one.status == 0 && one.output == "resent 1 message: pending, due now\n", "\(one.output)\(one.errors)")
        #expect(try eventually(timeout: .seconds(15)) { try deployment.messages("fm-1").contains("order-placed-shop:webhook:sent") })
        #expect(try deployment.messages("fm-2").contains("order-placed-shop:webhook:failed"), "only the one asked for")
        let hooks = channels.http.requests(path: "/webhook")
        let ids = hooks.compactMap { $0.headers["webhook-id"] }
        #expect(hooks.count == 3 && ids.filter { $0 == ids.last }.count == 2, "sent again under the same message id: \(ids)")
        let row = try deployment.query("SELECT attempts, failed_at IS NULL FROM relais.outbox WHERE id = \(fm1)")
        #expect(row.first == ["1", "t"], "attempts counted from zero again: \(row)")

        let notFailed = try Daemon.command(["messages", "resend", String(fm1)], environment: env, timeout: .seconds(30))
        #expect(notFailed.status == 65, "a sent message is not resent: \(notFailed.output)")
        let rest = try Daemon.command(["messages", "resend", "--all"], environment: env, timeout: .seconds(30))
        #expect(rest.output == "resent 1 message: pending, due now\n", "\(rest.output)\(rest.errors)")
        #expect(try eventually(timeout: .seconds(15)) { try deployment.messages("fm-2").contains("order-placed-shop:webhook:sent") })

        // The trace of the order's first job: ledger, order, history, messages; no personal data.
        let trace = try Daemon.command(["job", "fm-1-placed"], environment: env, timeout: .seconds(30))
        #expect(trace.status == 0, "\(trace.errors)")
        #expect(trace.output.contains("ledger: took effect on queue orders as order.placed"), "\(trace.output)")
        #expect(trace.output.contains("order fm-1 of shop boul: placed"), "\(trace.output)")
        #expect(trace.output.contains("*fm-1-placed") && trace.output.contains("order-placed-shop"), "\(trace.output)")
        for secret in ["@", "+336", "Léa", "Dubois", "example.fr"] { #expect(!trace.output.contains(secret), "no personal data: \(trace.output)") }
        let traceJSON = try #require(try parsed(try Daemon.command(["job", "fm-1-placed", "--json"], environment: env)) as? [String: Any])
        #expect((traceJSON["ledger"] as? [[String: Any]])?.first?["queue"] as? String == "orders", "\(traceJSON)")
        let story = try #require((traceJSON["orders"] as? [[String: Any]])?.first)
        #expect((story["order"] as? [String: Any])?["status"] as? String == "placed")
        #expect((story["history"] as? [[String: Any]])?.map { $0["job_id"] as? String } == ["fm-1-placed"])
        let messages = story["messages"] as? [[String: Any]] ?? []
        #expect(messages.contains { $0["channel"] as? String == "webhook" && $0["status"] as? String == "sent" && isNumber($0["attempts"]) },
                "\(messages)")
        #expect(messages.count >= 3, "the shop's e-mail and webhook, the customer's e-mail: \(messages)")
    }

    /// `relais job` finds a dead-lettered job, and says so when there is no trace at all.
    @Test func aDeadLetteredJobIsTracedAndAnUnknownOneIsNot() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        let env = try deployment.environment()
        try deployment.producer.xadd(queue: "orders", payload: #"{"id":"bad-order","type":"order.ready","data":{"order_id":"lost-1","at":"yesterday"}}"#)
        #expect(try deployment.waitUntilDrained())

        let trace = try Daemon.command(["job", "bad-order"], environment: env, timeout: .seconds(30))
        #expect(trace.status == 0, "\(trace.errors)")
        #expect(trace.output.contains("ledger: not recorded"), "\(trace.output)")
        #expect(trace.output.contains("dead letter ") && trace.output.contains("queue orders") && trace.output.contains("data.at"), "\(trace.output)")
        #expect(trace.output.contains("order lost-1: not placed"), "the order its payload names: \(trace.output)")
        let json = try #require(try parsed(try Daemon.command(["job", "bad-order", "--json"], environment: env)) as? [String: Any])
        #expect((json["dead_letters"] as? [[String: Any]])?.count == 1, "\(json)")
        #expect(!trace.output.contains("yesterday") && json["job"] == nil, "the payload is not printed")

        let unknown = try Daemon.command(["job", "nobody-knows"], environment: env, timeout: .seconds(30))
        #expect(unknown.status == 65 && unknown.errors.contains("no trace of job nobody-knows"), "\(unknown.status) \(unknown.errors)")
    }

    // MARK: dead list

    /// A header row, filters that page through the stream so that `--limit` counts matching
    /// letters, and typed JSON: attempts a number, the job an object when it is JSON.
    @Test func deadListFiltersWhilePagingAndPrintsTypedJSON() throws {
        let deployment = try Deployment()
        let env = try deployment.environment()
        let jsonJob = #"{"id":"o-9","type":"order.ready","data":{"order_id":"o","at":"2026-11-28T12:00:00Z"},"camelKey":1.5,"n":12}"#
        let wanted = try addLetter(deployment, queue: "orders", code: "invalid_field", jobId: "o-9", job: jsonJob)
        let notJSON = try addLetter(deployment, queue: "orders", code: "malformed_json", jobId: "o-10", job: "{not json", attempts: "x")
        // More letters of another queue after them than one page of the stream holds.
        try deployment.producer.run(["EVAL", """
            for i = 1, 600 do redis.call('XADD', KEYS[1], '*', 'queue', 'stock', 'code', 'invalid_field', 'reason', 'r',
              'attempts', '1', 'failed_at', '2026-11-28T12:00:00Z', 'job_id', 's-' .. i, 'job_type', 'stock.adjust', 'job', '{}') end
            """, "1", "\(deployment.prefix):dead"])

        let human = try Daemon.command(["dead", "list", "--limit", "3"], environment: env, timeout: .seconds(30))
        let lines = human.output.split(separator: "\n").map(String.init)
        #expect(lines.count == 4 && lines[0].hasPrefix("ENTRY") && lines[0].contains("CODE") && lines[0].contains("REASON"),
                "a header row and three letters: \(human.output)")

        let filtered = try Daemon.command(["dead", "list", "--queue", "orders", "--code", "invalid_field", "--limit", "1", "--json"],
                                          environment: env, timeout: .seconds(30))
        let letters = try #require(try parsed(filtered) as? [[String: Any]])
        #expect(letters.map { $0["entry_id"] as? String } == [wanted], "found past 600 letters that do not match: \(filtered.output)")
        #expect(isNumber(letters.first?["attempts"]) && letters.first?["attempts"] as? Int == 3, "\(filtered.output)")
        let orders = try #require(try parsed(try Daemon.command(["dead", "list", "--queue", "orders", "--json"], environment: env)) as? [[String: Any]])
        #expect(orders.map { $0["entry_id"] as? String } == [notJSON, wanted], "\(orders)")
        #expect(orders.first?["attempts"] is NSNull, "an attempts field that is not a number is null")
        let codes = try #require(try parsed(try Daemon.command(["dead", "list", "--code", "malformed_json", "--json"], environment: env)) as? [[String: Any]])
        #expect(codes.count == 1 && codes.first?["job_id"] as? String == "o-10")
        let stock = try #require(try parsed(try Daemon.command(["dead", "list", "--queue", "stock", "--limit", "1000", "--json"], environment: env)) as? [[String: Any]])
        #expect(stock.count == 600)

        let shown = try #require(try parsed(try Daemon.command(["dead", "show", wanted, "--json"], environment: env)) as? [String: Any])
        let job = try #require(shown["job"] as? [String: Any], "the job as an object: \(shown)")
        #expect(job["camelKey"] as? Double == 1.5 && job["n"] as? Int == 12 && (job["data"] as? [String: Any])?["order_id"] as? String == "o",
                "keys as written, numbers as numbers: \(job)")
        let raw = try #require(try parsed(try Daemon.command(["dead", "show", notJSON, "--json"], environment: env)) as? [String: Any])
        #expect(raw["job"] as? String == "{not json", "a job that is not JSON stays a string: \(raw)")
    }
}

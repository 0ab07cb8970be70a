import Foundation
import RelaisTestSupport
import Testing

/// `/status` as JSON, the parts these tests read.
private struct Status: Decodable {
    struct Queue: Decodable {
        let length: Int
        let pending: Int
        let paused: Bool
        let liveConsumers: Int
    }
    struct Instance: Decodable {
        let name: String
        let liveConsumers: Int
    }
    struct DeadCount: Decodable {
        let queue: String
        let code: String
        let count: Int
    }
    let version: String
    let queues: [String: Queue]
    let instances: [Instance]
    let staleConsumers: Int
    let deadLetters: Int
    let deadLettersByCode: [DeadCount]

    static func of(_ daemon: Daemon) -> Status? {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(Status.self, from: Data(daemon.get("/status").body.utf8))
    }
}

/// An HTTP exchange with the daemon through curl, keeping cookies in `jar`.
private struct Browsing {
    let port: Int
    let jar = FileManager.default.temporaryDirectory.appendingPathComponent("cookies-\(TestServers.randomSuffix())").path

    /// POSTs `form` (URL-encoded) to `path`; returns the status and body.
    func post(_ path: String, _ form: [String: String], origin: String? = nil) throws -> (status: Int, body: String) {
        var arguments = ["-s", "-m", "5", "-b", jar, "-c", jar, "-w", "\n%{http_code}", "-X", "POST"]
        for (key, value) in form.sorted(by: { $0.key < $1.key }) { arguments += ["--data-urlencode", "\(key)=\(value)"] }
        if let origin { arguments += ["-H", "Origin: \(origin)"] }
        return split(try Command.run("curl", arguments + ["http://127.0.0.1:\(port)\(path)"]))
    }

    /// GETs `path` with the cookies.
    func get(_ path: String) throws -> (status: Int, body: String) {
        split(try Command.run("curl", ["-s", "-m", "5", "-b", jar, "-c", jar, "-w", "\n%{http_code}", "http://127.0.0.1:\(port)\(path)"]))
    }

    private func split(_ output: String) -> (status: Int, body: String) {
        guard let newline = output.lastIndex(of: "\n") else { return (Int(output) ?? 0, "") }
        return (Int(output[output.index(after: newline)...]) ?? 0, String(output[..<newline]))
    }
}

/// The CSRF token in the page's forms.
private func csrf(in html: String) -> String? {
    guard let range = html.range(of: #"name="csrf" value=""#) else { return nil }
    let rest = html[range.upperBound...]
    return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
}

/// The fields Redis holds for the paused queues under `prefix`.
private func pausedQueues(_ prefix: String) throws -> [String] {
    try TestServers.withRedis { redis in
        try redis.command("HKEYS", "\(prefix):paused").elements.compactMap(\.string).sorted()
    }
}

@Suite("The operator's console: pausing queues, the status page, its actions, the metrics", .serialized)
struct ConsoleEndToEndTests {
    /// Two instances share the queues. A pause given on the command line reaches both;
    /// orders written after that wait in the stream while stock jobs go through, and all
    /// of them are taken after the resume. An instance killed with -9 stops being listed
    /// and its consumers leave the groups once they hold nothing.
    @Test func aPausedQueueTakesNoJobOnAnyInstanceWhileTheOthersDoAndAllAfterTheResume() throws {
        let deployment = try Deployment()
        let alpha = try deployment.start(["RELAIS_INSTANCE": "alpha", "RELAIS_WORKERS": "2"])
        defer { alpha.stop() }
        let beta = try Daemon(environment: try deployment.environment([
            "RELAIS_INSTANCE": "beta", "RELAIS_WORKERS": "2", "RELAIS_HTTP_ADDRESS": "127.0.0.1:\(freePort())",
        ]))
        defer { beta.stop() }
        #expect(beta.waitUntilReady(), "beta:\n\(beta.log)")
        let cli = try deployment.environment()
        #expect(eventually(timeout: .seconds(10)) { Status.of(alpha)?.instances.map(\.name) == ["alpha", "beta"] },
                "\(alpha.get("/status").body)")

        let pause = try Daemon.command(["queues", "pause", "orders"], environment: cli)
        #expect(pause.status == 0 && pause.output.contains("paused orders on every instance"), "\(pause.output)\(pause.errors)")
        #expect(try pausedQueues(deployment.prefix) == ["orders"])
        // Every instance says it obeys; from then on, no consumer of either takes an order.
        #expect(eventually(timeout: .seconds(5)) { alpha.log.contains("queue paused") && beta.log.contains("queue paused") },
                "alpha:\n\(alpha.log)\nbeta:\n\(beta.log)")
        let orders = (1...30).map { n in placed("pause-\(n)", items: [("baguette", "Baguette", 1, 120)]) }
        try deployment.producer.xaddMany(queue: "orders", payloads: orders)
        try deployment.producer.xaddMany(queue: "stock", payloads: (1...30).map { adjust("adj-\($0)", shop: "boul", sku: "pain", delta: 1) })
        #expect(try eventually(timeout: .seconds(30)) { try deployment.onHand(shop: "boul")["pain"] == 30 }, "\(alpha.log)")
        #expect(eventually(timeout: .seconds(10)) {
            Status.of(alpha).map { $0.queues["orders"]?.paused == true && $0.queues["orders"]?.length == 30 && $0.queues["stock"]?.length == 0 }
                ?? false
        }, "\(alpha.get("/status").body)")
        #expect(eventually(timeout: .seconds(5)) { Status.of(beta)?.queues["orders"]?.paused == true })
        #expect(try deployment.query("SELECT count(*) FROM relais.order_status")[0][0] == "0", "an order was taken while paused")
        let shown = try Daemon.command(["queues"], environment: cli)
        #expect(shown.output.split(separator: "\n").contains { $0.hasPrefix("orders") && $0.contains("paused") && $0.contains(" 30 ") },
                "\(shown.output)")

        let resume = try Daemon.command(["queues", "resume", "orders"], environment: cli)
        #expect(resume.status == 0 && resume.output.contains("resumed orders"), "\(resume.output)\(resume.errors)")
        #expect(try eventually(timeout: .seconds(30)) {
            try deployment.query("SELECT count(*) FROM relais.order_status")[0][0] == "30"
        }, "\(alpha.log)")
        #expect(try deployment.waitUntilDrained())
        #expect(alpha.log.contains("queue resumed") && beta.log.contains("queue resumed"))
        #expect(try pausedQueues(deployment.prefix).isEmpty)
        let unknown = try Daemon.command(["queues", "pause", "ordres"], environment: cli)
        #expect(unknown.status == 64 && unknown.errors.contains("no queue ordres"), "\(unknown.errors)")

        // Beta dies holding nothing: it leaves the list, its consumers stop counting, and
        // they are removed from the groups.
        beta.process.terminate()
        kill(beta.process.processIdentifier, SIGKILL)
        #expect(eventually(timeout: .seconds(30)) {
            guard let status = Status.of(alpha) else { return false }
            return status.instances.map(\.name) == ["alpha"] && status.queues["orders"]?.liveConsumers == 2
        }, "\(alpha.get("/status").body)")
        let consumers = { () throws -> [String] in
            try TestServers.withRedis { redis in
                try ["orders", "stock", "pickups"].flatMap { queue in
                    try redis.command("XINFO", "CONSUMERS", "\(deployment.prefix):\(queue)", "relais").elements
                        .compactMap { $0.elements.count > 1 ? $0.elements[1].string : nil }
                }
            }
        }
        let gone = try eventually(timeout: .seconds(60), every: .seconds(1)) { try consumers().allSatisfy { $0.hasPrefix("alpha-") } }
        #expect(gone, "\((try? consumers()) ?? [])\n\(alpha.log)")
        #expect(alpha.log.contains("removed the consumer of a gone instance"))
        #expect(eventually(timeout: .seconds(5)) { Status.of(alpha)?.staleConsumers == 0 })
    }

    /// The page in a real browser, read-only without a token: the counts match what was
    /// enqueued, the paused queue is shown as paused, the dead letter is listed with its
    /// code, nothing is fetched from elsewhere, no form can change anything, and the
    /// metrics say the same with a HELP line for every family.
    @Test func theStatusPageInABrowserShowsWhatIsWaitingAndIsReadOnlyWithoutAToken() throws {
        let deployment = try Deployment()
        let daemon = try deployment.start()
        defer { daemon.stop() }
        let cli = try deployment.environment()
        #expect(try Daemon.command(["queues", "pause", "stock"], environment: cli).status == 0)
        #expect(eventually(timeout: .seconds(5)) { daemon.log.contains("queue paused") })
        try deployment.producer.xaddMany(queue: "stock", payloads: (1...7).map { adjust("seven-\($0)", shop: "boul", sku: "pain", delta: 1) })
        try deployment.producer.xadd(queue: "orders", payload: #"{"id":"bad-order-1","type":"order.placed","data":{"order_id":"x"}}"#)
        #expect(eventually(timeout: .seconds(15)) {
            guard let s = Status.of(daemon) else { return false }
            return s.queues["stock"]?.length == 7 && s.deadLettersByCode.count == 1
        }, "\(daemon.get("/status").body)")
        let status = try #require(Status.of(daemon))
        let code = try #require(status.deadLettersByCode.first).code
        #expect(status.deadLettersByCode.first?.queue == "orders" && status.deadLettersByCode.first?.count == 1)

        let url = "http://127.0.0.1:\(daemon.httpPort)/"
        let page = try PageFacts.read(try Browser.dom(url))
        #expect(page.title == "Relais · test")
        #expect(page.queues["stock"]?.state == "paused" && page.queues["stock"]?.length == 7, "\(page.queues)")
        #expect(page.queues["orders"]?.state == "running" && page.queues["orders"]?.length == 0)
        #expect(Set(page.queues.keys) == ["orders", "stock", "pickups", "appointments"])
        #expect(page.deadTotal == 1)
        #expect(page.deadByCode.map { "\($0.queue) \($0.code) \($0.count)" } == ["orders \(code) 1"])
        #expect(page.latestDead.map(\.job) == ["bad-order-1"])
        #expect(page.instances["test"] == 4 * page.queues.count, "one consumer per queue and worker (4): \(page.instances)")
        #expect(page.checks.values.allSatisfy { $0 == "ok" } && page.checks.count == 5, "\(page.checks)")
        #expect(page.readiness == "ready")
        #expect(page.readOnly && !page.signInForm && page.forms.isEmpty, "\(page.forms)")
        #expect(page.scripts == 0 && page.remote.isEmpty)
        let screenshot = Browser.artifacts + "/console-read-only.png"
        try Browser.screenshot(url, to: screenshot)
        let png = try #require(FileManager.default.contents(atPath: screenshot))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000, "the screenshot at \(screenshot)")
        print("console: screenshot of the read-only page at \(screenshot)")

        // Without a token nothing can be changed over HTTP either.
        let http = Browsing(port: daemon.httpPort)
        #expect(try http.post("/actions/resume", ["queue": "stock"]).status == 403)
        #expect(try http.post("/login", ["token": "anything-at-all-123"]).status == 403)
        #expect(try pausedQueues(deployment.prefix) == ["stock"])

        // The metrics: a HELP for every family, and the same figures.
        let metrics = daemon.get("/metrics").body
        let families = metrics.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        let helped = Set(metrics.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.map { $0.split(separator: " ")[2] })
        #expect(families.count >= 20 && families.allSatisfy(helped.contains), "without HELP: \(families.filter { !helped.contains($0) })")
        for line in [#"relais_queue_paused{queue="stock"} 1.0"#, #"relais_queue_paused{queue="orders"} 0.0"#,
                     #"relais_queue_length{queue="stock"} 7.0"#, #"relais_dead_letters_stored{queue="orders",code="\#(code)"} 1.0"#,
                     #"relais_build_info{version="\#(status.version)"} 1.0"#, "relais_ready 1.0", #"relais_consumers_live{queue="stock"} 4.0"#] {
            #expect(metrics.contains(line + "\n"), "no \(line) in\n\(metrics)")
        }
        let resident = metrics.split(separator: "\n").first { $0.hasPrefix("process_resident_memory_bytes ") }
        #expect((resident.flatMap { Double($0.split(separator: " ")[1]) } ?? 0) > 1_000_000, "\(resident ?? "none")")
        #expect(metrics.contains("\nprocess_open_fds ") && metrics.contains("\nprocess_cpu_seconds_total "))
        // Every metric the shipped alert rules read is one this daemon exposes.
        let rulesPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/prometheus/relais-rules.yml").path
        let rules = try String(contentsOfFile: rulesPath, encoding: .utf8)
        let read = Set(rules.matches(of: /\b(?:relais|process)_[a-z_]+/).map { String($0.output) })
        #expect(read.count >= 10 && read.subtracting(families.map(String.init)).isEmpty,
                "read by the rules, not exposed: \(read.subtracting(families.map(String.init)).sorted())")

        #expect(try Daemon.command(["queues", "resume", "stock"], environment: cli).status == 0)
        #expect(try eventually(timeout: .seconds(20)) { try deployment.onHand(shop: "boul")["pain"] == 7 })
        // A job that says when it was enqueued is timed, in buckets up to an hour.
        let enqueued = try Daemon.command(["enqueue", "--queue", "stock", "--type", "stock.adjust", "--data",
                                           #"{"shop_id":"boul","sku":"pain","delta":1,"at":"2026-11-28T09:30:00+01:00"}"#], environment: cli)
        #expect(enqueued.status == 0, "\(enqueued.errors)")
        #expect(eventually(timeout: .seconds(10)) {
            daemon.get("/metrics").body.contains(#"relais_job_wait_seconds_bucket{queue="stock",le="3600.0"} 1"#)
        })
        #expect(try eventually(timeout: .seconds(10)) {
            let page = try PageFacts.read(try Browser.dom(url))
            return page.queues["stock"]?.state == "running" && page.queues["stock"]?.length == 0
        })
    }

    /// With an operator token: the page offers to sign in and nothing else; a wrong token,
    /// a form without the session's CSRF token and a form from another origin are all
    /// refused and change nothing; a signed-in operator pauses and resumes a queue, and
    /// each action is logged.
    @Test func withATokenASignedInOperatorActsAndEverythingElseIsRefused() throws {
        let token = "console-token-\(TestServers.randomSuffix())-0123456789"
        let deployment = try Deployment()
        let daemon = try deployment.start(["RELAIS_OPERATOR_TOKEN": token])
        defer { daemon.stop() }
        let url = "http://127.0.0.1:\(daemon.httpPort)/"
        let signedOut = try PageFacts.read(try Browser.dom(url))
        #expect(signedOut.signInForm && !signedOut.readOnly && signedOut.actions.isEmpty, "\(signedOut.forms)")

        let http = Browsing(port: daemon.httpPort)
        #expect(try http.post("/login", ["token": token + "x"]).status == 403)
        #expect(try http.post("/actions/pause", ["queue": "orders"]).status == 403, "not signed in")
        #expect(daemon.log.contains("console sign-in refused") && !daemon.log.contains(token))
        #expect(try http.post("/login", ["token": token]).status == 303)
        let signedInHTML = try http.get("/").body
        let signedIn = try PageFacts.read(signedInHTML)
        #expect(signedIn.notice == "signed in")
        #expect(Set(signedIn.actions) == ["/actions/pause"], "\(signedIn.forms)")
        #expect(signedIn.forms.allSatisfy { $0.action == "/login" || $0.csrf })
        let csrfToken = try #require(csrf(in: signedInHTML))

        #expect(try http.post("/actions/pause", ["queue": "orders"]).status == 403, "no CSRF token")
        #expect(try http.post("/actions/pause", ["queue": "orders", "csrf": csrfToken + "A"]).status == 403, "a wrong one")
        #expect(try http.post("/actions/pause", ["queue": "orders", "csrf": csrfToken], origin: "http://elsewhere.example").status == 403)
        #expect(try pausedQueues(deployment.prefix).isEmpty, "a refused form changed something")
        #expect(try http.post("/actions/pause", ["queue": "nope", "csrf": csrfToken]).status == 400)

        #expect(try http.post("/actions/pause", ["queue": "orders", "csrf": csrfToken], origin: url.dropLast().description).status == 303)
        #expect(try pausedQueues(deployment.prefix) == ["orders"])
        #expect(try PageFacts.read(try http.get("/").body).notice == "paused orders on every instance")
        #expect(try eventually(timeout: .seconds(5)) {
            let page = try PageFacts.read(try http.get("/").body)
            return page.queues["orders"]?.state == "paused" && page.actions.contains("/actions/resume") && page.notice == nil
        })
        #expect(try http.post("/actions/resume", ["queue": "orders", "csrf": csrfToken]).status == 303)
        #expect(try pausedQueues(deployment.prefix).isEmpty)
        #expect(daemon.log.contains(#"action=pause"#) && daemon.log.contains(#"result="paused orders on every instance""#), "\(daemon.log)")
        #expect(daemon.log.contains(#"action=resume"#))

        let screenshot = Browser.artifacts + "/console-sign-in.png"
        try Browser.screenshot(url, to: screenshot)
        #expect(FileManager.default.fileExists(atPath: screenshot))

        #expect(try http.post("/logout", ["csrf": csrfToken]).status == 303)
        #expect(try http.post("/actions/pause", ["queue": "orders", "csrf": csrfToken]).status == 403, "signed out")
    }

    /// A signed-in operator replays a dead letter, runs a queue's retries and resends a
    /// channel's failed messages from the page's forms; each takes effect and is logged.
    @Test func aSignedInOperatorReplaysRetriesAndResendsFromThePage() throws {
        let token = "console-token-\(TestServers.randomSuffix())-0123456789"
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        try channels.http.setStatus(path: "/webhook", status: 404)
        let daemon = try deployment.start(channels.settings.merging(["RELAIS_OPERATOR_TOKEN": token]) { $1 })
        defer { daemon.stop() }
        try deployment.producer.xadd(queue: "orders", payload: placed("page-1", items: [("a", "A", 1, 100)],
                                                                      webhook: channels.http.url("/webhook")))
        try deployment.producer.xadd(queue: "orders", payload: #"{"id":"page-bad","type":"order.placed","data":{}}"#)
        // A retry as a consumer writes it, due in an hour.
        let due = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
        _ = try TestServers.withRedis { redis in
            try redis.command("ZADD", "\(deployment.prefix):stock:retry", String(due), "2|1-1|" + adjust("page-retry", shop: "boul", sku: "pain", delta: 5))
        }
        #expect(try eventually(timeout: .seconds(30)) { try deployment.messages("page-1").contains("order-placed-shop:webhook:failed") })

        let http = Browsing(port: daemon.httpPort)
        #expect(try http.post("/login", ["token": token]).status == 303)
        var page = try PageFacts.read(try http.get("/").body)
        #expect(try eventually(timeout: .seconds(10)) {
            page = try PageFacts.read(try http.get("/").body)
            return Set(page.actions).isSuperset(of: ["/actions/replay", "/actions/retry", "/actions/resend"])
        }, "\(page.forms)")
        let html = try http.get("/").body
        let csrfToken = try #require(csrf(in: html))
        let letter = try #require(page.latestDead.first { $0.job == "page-bad" }).entry

        #expect(try http.post("/actions/replay", ["entry": letter, "csrf": csrfToken]).status == 303)
        #expect(try PageFacts.read(try http.get("/").body).notice?.hasPrefix("replayed dead letter \(letter) to \(deployment.prefix):orders") == true)
        // The job went back on its queue and, still bad, was dead-lettered again as a new letter.
        #expect(try eventually(timeout: .seconds(10)) {
            let letters = try deployment.deadLetters()
            return letters.count == 1 && letters[0]["job_id"] == "page-bad" && letters[0]["entry_id"] != nil
        })
        #expect(try TestServers.withRedis { try $0.command("XRANGE", "\(deployment.prefix):dead", letter, letter).elements.isEmpty })

        #expect(try http.post("/actions/retry", ["queue": "stock", "all": "1", "csrf": csrfToken]).status == 303)
        #expect(try PageFacts.read(try http.get("/").body).notice == "ran 1 retry of stock now")
        #expect(try eventually(timeout: .seconds(10)) { try deployment.onHand(shop: "boul")["pain"] == 5 })

        try channels.http.setStatus(path: "/webhook", status: 200)
        #expect(try http.post("/actions/resend", ["channel": "webhook", "all": "1", "csrf": csrfToken]).status == 303)
        #expect(try PageFacts.read(try http.get("/").body).notice == "put 1 failed message of webhook back to be sent now")
        #expect(try eventually(timeout: .seconds(15)) { try deployment.messages("page-1").contains("order-placed-shop:webhook:sent") })
        #expect(try http.post("/actions/resend", ["id": "999999", "csrf": csrfToken]).status == 303)
        #expect(try PageFacts.read(try http.get("/").body).notice == "message 999999 is not a failed message")

        for action in ["replay", "retry", "resend"] { #expect(daemon.log.contains("action=\(action)"), "\(daemon.log)") }
    }
}

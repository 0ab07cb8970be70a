// relais-bench: drives a real `relais serve` from an empty queue and prints what it
// sustains, next to what Redis and PostgreSQL themselves sustain on the same machine.
//
// Run it with scripts/bench, which starts the servers and builds in release mode.
// Environment: RELAIS_BIN, BENCH_REDIS_URL, BENCH_DATABASE_URL (maintenance db),
// BENCH_PG_BIN (the directory of pgbench), optional BENCH_SCALE (1 = default sizes) and
// BENCH_DATA_DIR (where PostgreSQL's data is, for the disk's fdatasync latency).

import Foundation
import PostgresClient
import RedisClient
import RelaisDomain

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func env(_ key: String, _ fallback: String? = nil) throws -> String {
    if let v = ProcessInfo.processInfo.environment[key], !v.isEmpty { return v }
    if let fallback { return fallback }
    throw BenchError("\(key) is not set: run scripts/bench")
}

func run(_ program: String, _ args: [String], environment: [String: String]? = nil) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
    p.arguments = program.hasPrefix("/") ? args : [program] + args
    if let environment { p.environment = environment }
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let text = String(decoding: data, as: UTF8.self)
    guard p.terminationStatus == 0 else { throw BenchError("\(program) \(args.first ?? "") failed: \(text)") }
    return text
}

func now() -> ContinuousClock.Instant { .now }
func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func stamp() -> String { Timestamp(Date()).description }

func rss(_ pid: Int32) -> (peak: Double, current: Double) {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    func kb(_ key: String) -> Double {
        let line = status.split(separator: "\n").first { $0.hasPrefix(key) } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return (kb("VmHWM:") / 1024, kb("VmRSS:") / 1024)
}

/// The machine's CPU time so far (`/proc/stat`, in ticks): all of it, and the part the
/// hypervisor gave to other guests while this one wanted to run (steal), which no code
/// here controls and which shows when the host was busy during a phase.
struct CPUTimes {
    var total = 0.0, steal = 0.0, idle = 0.0

    /// Ticks spent on anything but waiting (idle and iowait excluded).
    var busy: Double { total - idle }

    static func now() -> CPUTimes {
        let stat = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)) ?? ""
        // cpu user nice system idle iowait irq softirq steal (guest time is counted in user)
        let ticks = (stat.split(separator: "\n").first ?? "").split(separator: " ").dropFirst().prefix(8).compactMap { Double($0) }
        guard ticks.count == 8 else { return CPUTimes() }
        return CPUTimes(total: ticks.reduce(0, +), steal: ticks[7], idle: ticks[3] + ticks[4])
    }

    /// The share of the CPU time since `earlier` that was stolen, in percent.
    func stolen(since earlier: CPUTimes) -> Double {
        total > earlier.total ? 100 * (steal - earlier.steal) / (total - earlier.total) : .nan
    }
}

/// A process's CPU time so far (user and system, `/proc/PID/stat`), in seconds; 0 when unknown.
func processCPU(_ pid: Int32) -> Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return 0 }
    // After the command's closing parenthesis: state is field 3, utime and stime 14 and 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The value below which a fraction `p` of `sorted` lies; NaN for none.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    sorted.isEmpty ? .nan : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

/// The disk's commit latency, in milliseconds, sorted: 8 KiB written and `fdatasync`ed
/// `count` times, 2 ms apart (one commit per job at 500 jobs/s), in `directory`.
func fdatasyncLatencies(in directory: String, count: Int) throws -> [Double] {
    let path = directory + "/relais-bench-fsync.\(getpid())"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { throw BenchError("cannot create \(path)") }
    defer {
        close(fd)
        unlink(path)
    }
    let block = [UInt8](repeating: 0x78, count: 8192)
    var latencies: [Double] = []
    for i in 0..<count {
        _ = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(i % 128) * 8192) }
        let start = now()
        guard fdatasync(fd) == 0 else { throw BenchError("fdatasync failed in \(directory)") }
        latencies.append(seconds(now() - start) * 1000)
        Thread.sleep(forTimeInterval: 0.002)
    }
    return latencies.sorted()
}

@main
struct RelaisBench {
    static func main() throws {
        let scale = Double(try env("BENCH_SCALE", "1")) ?? 1
        let redisURL = try env("BENCH_REDIS_URL")
        let adminURL = try env("BENCH_DATABASE_URL")
        let relaisBin = try env("RELAIS_BIN")
        let pgBin = try env("BENCH_PG_BIN")
        let endpoint = try RedisEndpoint(url: redisURL)

        // A database and a key prefix of the run's own.
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let dbName = "bench_\(suffix)"
        let prefix = "bench\(suffix)"
        do {
            let admin = try PgConnection(adminURL)
            try admin.execute("CREATE DATABASE \(dbName)", name: "create bench db")
            admin.close()
        }
        let dbURL = String(adminURL[..<adminURL.range(of: "/", options: .backwards)!.upperBound]) + dbName
        let httpPort = 20000 + Int.random(in: 0..<20000)
        var daemonEnv = ProcessInfo.processInfo.environment
        daemonEnv["RELAIS_REDIS_URL"] = redisURL
        daemonEnv["RELAIS_DATABASE_URL"] = dbURL
        daemonEnv["RELAIS_PREFIX"] = prefix
        daemonEnv["RELAIS_HTTP_ADDRESS"] = "127.0.0.1:\(httpPort)"
        daemonEnv["RELAIS_INSTANCE"] = "bench"
        daemonEnv["RELAIS_LOG_LEVEL"] = "info"
        // The reminders figure measures firing, not waiting for the morning: no quiet hours.
        daemonEnv["RELAIS_QUIET_HOURS"] = "00:00-00:00"
        let smtpURL = ProcessInfo.processInfo.environment["BENCH_SMTP_URL"].flatMap { $0.isEmpty ? nil : $0 }
        if let smtpURL {
            daemonEnv["RELAIS_SMTP_URL"] = smtpURL
            daemonEnv["RELAIS_SMTP_FROM"] = "Mes commerçants <bench@relais.test>"
            if let connections = ProcessInfo.processInfo.environment["BENCH_EMAIL_CONNECTIONS"] {
                daemonEnv["RELAIS_EMAIL_CONNECTIONS"] = connections
            }
        }
        _ = try run(relaisBin, ["migrate"], environment: daemonEnv)

        // The daemon, logging one line per job to a file as it would to the journal.
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("relais-bench-\(suffix).log").path
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: relaisBin)
        daemon.arguments = ["serve"]
        daemon.environment = daemonEnv
        daemon.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        daemon.standardOutput = FileHandle.nullDevice
        try daemon.run()
        defer {
            if daemon.isRunning {
                kill(daemon.processIdentifier, SIGTERM)
                daemon.waitUntilExit()
            }
        }
        let readyDeadline = now() + .seconds(30)
        while (try? run("curl", ["-sf", "-m", "1", "http://127.0.0.1:\(httpPort)/readyz"])) == nil {
            guard now() < readyDeadline else { throw BenchError("relais did not become ready; see \(logPath)") }
            Thread.sleep(forTimeInterval: 0.1)
        }

        let producer = try RedisConnection(endpoint)
        let watcher = try RedisConnection(endpoint)
        let stream = "\(prefix):stock"

        /// The XADD commands of `payloads` on `stream`, in pipelines of 500, encoded before
        /// the clock starts: what is measured is relais, not the making of test data.
        func xadds(_ payloads: some Sequence<String>, to stream: String) -> [[[[UInt8]]]] {
            let head: [[UInt8]] = [Array("XADD".utf8), Array(stream.utf8), Array("*".utf8), Array("job".utf8)]
            let commands = payloads.map { head + [Array($0.utf8)] }
            return stride(from: 0, to: commands.count, by: 500).map { Array(commands[$0..<min($0 + 500, commands.count)]) }
        }

        /// Enqueues pipelines made by `xadds`.
        func produce(_ pipelines: [[[[UInt8]]]]) throws {
            for pipeline in pipelines { _ = try producer.pipeline(binary: pipeline) }
        }

        /// Waits until `queue`'s stream holds nothing and nothing is pending.
        func waitDrained(_ queue: String = stream) throws {
            while true {
                let r = try watcher.pipeline([["XLEN", queue], ["XPENDING", queue, "relais"]])
                if r[0].integer == 0 && (r[1].elements.first?.integer ?? 0) == 0 { return }
                Thread.sleep(forTimeInterval: 0.005)
            }
        }

        print("relais-bench: Redis \(endpoint), PostgreSQL db \(dbName), durable commits; \(ProcessInfo.processInfo.activeProcessorCount) cores")

        // A lone stock.adjust's transaction as relais sends it (ledger row, SKU lock,
        // adjustment, COMMIT in one pipeline; custom plans), at a steady 500/s over 4
        // connections like relais's 4 consumers, just before relais's own latency run (the
        // daemon idle): the latency PostgreSQL and the disk leave a lone job on this machine.
        let loneDir = FileManager.default.temporaryDirectory.appendingPathComponent("relais-bench-lone-\(suffix)")
        try FileManager.default.createDirectory(at: loneDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: loneDir) }
        let loneScript = loneDir.appendingPathComponent("lone.sql")
        try """
            \\set b random(1, 9000000000000000000)
            \\set k random(1, 1750)
            \\startpipeline
            BEGIN;
            INSERT INTO relais.processed_jobs (queue, job_id, job_type) VALUES ('pgbench', 'lone-' || :b, 'stock.adjust');
            SELECT pg_advisory_xact_lock(7238, hashtext('pgb-shop-' || (:k % 80) || '/pgb-sku-' || :k));
            WITH c AS (SELECT 'pgb-shop-' || (:k % 80) AS shop, 'pgb-sku-' || :k AS sku, 1 AS delta, clock_timestamp() AS at),
                 r AS (INSERT INTO relais.stock_adjustments (shop_id, sku, at, delta, job_id) SELECT shop, sku, at, delta, 'lone-' || :b FROM c)
            INSERT INTO relais.stock_items AS s (shop_id, sku, on_hand, updated_at) SELECT shop, sku, delta, now() FROM c
              ON CONFLICT (shop_id, sku) DO UPDATE SET on_hand = s.on_hand + excluded.on_hand, updated_at = now();
            COMMIT;
            \\endpipeline
            """.write(to: loneScript, atomically: true, encoding: .utf8)
        var pgbenchEnv = ProcessInfo.processInfo.environment
        pgbenchEnv["PGOPTIONS"] = "-c plan_cache_mode=force_custom_plan"
        _ = try run("\(pgBin)/pgbench", ["-n", "-M", "prepared", "-c", "4", "-j", "1", "-R", "500", "-T", String(Int(max(4, 10 * scale))),
                                         "-l", "--log-prefix", loneDir.appendingPathComponent("log").path, "-f", loneScript.path, dbURL],
                    environment: pgbenchEnv)
        // Log lines: client, transaction, latency µs, script, epoch s, µs, schedule lag µs.
        var floor: [Double] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: loneDir.path) where file.hasPrefix("log") {
            for line in try String(contentsOfFile: loneDir.appendingPathComponent(file).path, encoding: .utf8).split(separator: "\n") {
                let f = line.split(separator: " ")
                guard f.count >= 7, let latency = Double(f[2]), let lag = Double(f[6]) else { continue }
                floor.append((latency + lag) / 1000)
            }
        }
        floor.sort()

        // 1. Latency at a steady 500 jobs/s, first, on a quiet system: enqueued_at → picked up
        // by a consumer (job.wait_ms), and → effect committed and acknowledged (job.latency_ms).
        let latencyJobs = Int(5000 * scale)
        var cpu = CPUTimes.now()
        var stolen: [(phase: String, percent: Double)] = []
        func phaseEnded(_ phase: String) {
            let end = CPUTimes.now()
            stolen.append((phase, end.stolen(since: cpu)))
            cpu = end
        }
        let start = now()
        for i in 0..<latencyJobs {
            let due = start + .microseconds(Int64(i) * 2000)
            let wait = seconds(due - now())
            if wait > 0 { Thread.sleep(forTimeInterval: wait) }
            _ = try producer.command("XADD", stream, "*", "job",
                #"{"id":"lat-\#(i)","type":"stock.adjust","enqueued_at":"\#(stamp())","data":{"shop_id":"shop-\#(i % 80)","sku":"sku-\#(i % 1750)","delta":1,"at":"\#(stamp())"}}"#)
        }
        try waitDrained()
        phaseEnded("latency")
        /// Enqueues `pipelines` from a standing start and waits until relais has drained
        /// them: the seconds it took. The CPU steal is counted from just before.
        func drain(_ pipelines: [[[[UInt8]]]], phase: String, queue: String = stream) throws -> Double {
            cpu = CPUTimes.now()
            let t0 = now()
            try produce(pipelines)
            try waitDrained(queue)
            defer { phaseEnded(phase) }
            return seconds(now() - t0)
        }
        // 2. One-SKU stock.levels jobs, drained from a standing start.
        let singleCount = Int(100_000 * scale)
        let observed = stamp()
        let singles = (0..<singleCount).lazy.map { i in
            #"{"id":"one-\#(i)","type":"stock.levels","data":{"shop_id":"shop-\#(i % 80)","observed_at":"\#(observed)","levels":[{"sku":"sku-\#(i % 1750)","on_hand":\#(i % 100)}]}}"#
        }
        let singleRate = Double(singleCount) / (try drain(xadds(singles, to: stream), phase: "1-SKU"))

        // 3. Catalogue jobs of 1,000 SKUs: first the first catalogue of each of 80 shops,
        // every row new; then 200 more of the same SKUs, as tills send them again and again.
        // PostgreSQL inserts a row at a greater cost than it updates one, and the pgbench
        // script below mostly updates: the target is held to the second figure, which does
        // the same work, and the first is printed under it.
        let shops = 80
        func catalogue(_ j: Int, id: String) -> String {
            let levels = (0..<1000).map { #"{"sku":"cat-\#($0)","on_hand":\#(($0 + j) % 500)}"# }.joined(separator: ",")
            return #"{"id":"\#(id)","type":"stock.levels","data":{"shop_id":"shop-\#(j % shops)","observed_at":"\#(stamp())","levels":[\#(levels)]}}"#
        }
        let firstPipelines = xadds((0..<shops).lazy.map { catalogue($0, id: "first-\($0)") }, to: stream)
        let firstRowRate = Double(shops * 1000) / (try drain(firstPipelines, phase: "first catalogues"))
        let catalogueJobs = Int(200 * scale)
        let cataloguePipelines = xadds((0..<catalogueJobs).lazy.map { catalogue($0, id: "cat-\($0)") }, to: stream)
        let rowRate = Double(catalogueJobs * 1000) / (try drain(cataloguePipelines, phase: "catalogue"))

        // 4. order.placed with three items each: order, reservations and outbox rows
        // committed, then the messages delivered (e-mail to the local SMTP sink when
        // BENCH_SMTP_URL is set, else the log channel).
        let orderCount = Int(20_000 * scale)
        let orderStream = "\(prefix):orders"
        let placedAt = stamp()
        let orders = (0..<orderCount).map { i -> String in
            let items = (0..<3).map { k in
                #"{"sku":"sku-\#((i * 3 + k) % 1750)","name":"Article \#(k)","quantity":\#(1 + k),"unit_price_cents":\#(150 + k * 100)}"#
            }.joined(separator: ",")
            let payload = #"{"id":"ord-\#(i)-placed","type":"order.placed","data":{"order_id":"ord-\#(i)","shop":{"id":"shop-\#(i % 80)","name":"Boutique \#(i % 80)","email":"shop\#(i % 80)@example.fr"},"customer":{"name":"Client \#(i)","email":"client\#(i)@example.fr"},"items":[\#(items)],"total_cents":1050,"currency":"EUR","placed_at":"\#(placedAt)"}}"#
            return payload
        }
        let orderPipelines = xadds(orders, to: orderStream)
        let db = try PgConnection(dbURL)
        cpu = CPUTimes.now()
        var t0 = now()
        try produce(orderPipelines)
        while true {
            let r = try watcher.pipeline([["XLEN", orderStream], ["XPENDING", orderStream, "relais"]])
            if r[0].integer == 0 && (r[1].elements.first?.integer ?? 0) == 0 { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        let orderRate = Double(orderCount) / seconds(now() - t0)
        phaseEnded("orders")
        let messageCount = Int(try db.query("SELECT count(*) FROM relais.outbox", name: "count").scalar ?? "0") ?? 0
        let deliveryDeadline = now() + .seconds(600)
        var unsent = messageCount
        while unsent > 0 && now() < deliveryDeadline {
            unsent = Int(try db.query("SELECT count(*) FROM relais.outbox WHERE status = 'pending'", name: "pending").scalar ?? "0") ?? 0
            if unsent > 0 { Thread.sleep(forTimeInterval: 0.05) }
        }
        let deliveryRate = Double(messageCount - unsent) / seconds(now() - t0)
        let channels = try db.query("SELECT string_agg(DISTINCT channel, ',') FROM relais.outbox", name: "channels").scalar ?? "?"

        // 4b. E-mail alone: a backlog of e-mails due at once (80 shops, as after an outage
        // or a big day), from the outbox to the SMTP sink over the configured connections.
        var mailRate: Double?
        var mailCPU: (relais: Double, sink: Double, machine: Double, idle: Double)?
        let mailCount = Int(20_000 * scale)
        if smtpURL != nil, unsent == 0 {
            try db.query("""
                INSERT INTO relais.outbox (order_id, recipient, channel, destination, template, facts, shop_id)
                SELECT 'mail-' || g, 'customer', 'email', 'client' || g || '@example.fr', 'order-confirmed-customer',
                       (SELECT facts FROM relais.outbox WHERE template = 'order-placed-customer' LIMIT 1), 'shop-' || (g % 80)
                FROM generate_series(1, $1::int) AS g
                """, [String(mailCount)], name: "mail backlog")
            cpu = CPUTimes.now()
            let sinkPID = Int32(ProcessInfo.processInfo.environment["BENCH_SMTP_SINK_PID"] ?? "") ?? 0
            let cpuBefore = (machine: CPUTimes.now(), relais: processCPU(daemon.processIdentifier), sink: processCPU(sinkPID))
            t0 = now()
            var left = mailCount
            while left > 0 && now() < t0 + .seconds(300) {
                left = Int(try db.query("SELECT count(*) FROM relais.outbox WHERE status = 'pending' AND order_id LIKE 'mail-%'",
                                        name: "mail pending").scalar ?? "0") ?? 0
                if left > 0 { Thread.sleep(forTimeInterval: 0.02) }
            }
            mailRate = Double(mailCount - left) / seconds(now() - t0)
            let sent = Double(max(1, mailCount - left))
            let machine = CPUTimes.now()
            let idleShare = 1 - (machine.busy - cpuBefore.machine.busy) / max(1, machine.total - cpuBefore.machine.total)
            mailCPU = (relais: (processCPU(daemon.processIdentifier) - cpuBefore.relais) / sent * 1e6,
                       sink: sinkPID > 0 ? (processCPU(sinkPID) - cpuBefore.sink) / sent * 1e6 : .nan,
                       machine: (machine.busy - cpuBefore.machine.busy) / Double(sysconf(Int32(_SC_CLK_TCK))) / sent * 1e6,
                       idle: idleShare * 100)
            phaseEnded("e-mail")
        }

        // 4c. The next services, each from a standing start: events enqueued, applied and
        // acknowledged, their messages in the outbox and their reminders planned (events
        // per second, end to end); then their messages are let out before the next phase.
        // Deliveries ship the orders placed above: each takes its order's stock.
        let familyCount = Int(10_000 * scale)
        var families: [(name: String, rate: Double)] = []
        /// `phases` of one family's events, each drained before the next (an answer never
        /// waits for a retry of its quote), then the family's messages let out.
        func family(_ name: String, queue: String, _ phases: [[String]]) throws {
            let stream = "\(prefix):\(queue)"
            var elapsed = 0.0
            for payloads in phases {
                elapsed += try drain(xadds(payloads, to: stream), phase: queue, queue: stream)
            }
            families.append((name, Double(phases.reduce(0) { $0 + $1.count }) / elapsed))
            let deadline = now() + .seconds(300)
            while now() < deadline,
                  try db.query("SELECT EXISTS (SELECT 1 FROM relais.outbox WHERE status = 'pending')", name: "left").scalar == "t" {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        let at = stamp(), later = Timestamp(Date().addingTimeInterval(1)).description
        try family("deliveries: shipped, then delivered", queue: "deliveries", [
            (0..<min(familyCount, orderCount)).map { i in
                #"{"id":"ship-\#(i)","type":"delivery.shipped","data":{"order_id":"ord-\#(i)","at":"\#(at)","method":"home","carrier":"Colissimo","tracking_url":"https://suivi.example/colis/\#(i)"}}"#
            },
            (0..<min(familyCount, orderCount)).map { i in
                #"{"id":"delivered-\#(i)","type":"delivery.delivered","data":{"order_id":"ord-\#(i)","at":"\#(later)"}}"#
            },
        ])
        // Appointments three days ahead, in 80 shops, then each moved a day later: the
        // reminders planned, then cancelled and planned again.
        let firstDay = Date().addingTimeInterval(3 * 86_400)
        func slot(_ i: Int, days: Double) -> String {
            let start = firstDay.addingTimeInterval(days * 86_400 + Double(i % 480) * 60)
            return #""start":"\#(Timestamp(start))","end":"\#(Timestamp(start.addingTimeInterval(2700)))""#
        }
        try family("appointments: booked, then moved", queue: "appointments", [
            (0..<familyCount).map { i in
                #"{"id":"rdv-\#(i)-booked","type":"appointment.booked","data":{"appointment_id":"rdv-\#(i)","at":"\#(at)","shop":{"id":"shop-\#(i % 80)","name":"Salon \#(i % 80)","email":"shop\#(i % 80)@example.fr","address":"\#(i % 80) rue des Lilas, Paris"},"service":{"name":"Coupe","duration_minutes":45},\#(slot(i, days: 0)),"customer":{"name":"Client \#(i)","email":"client\#(i)@example.fr"}}}"#
            },
            (0..<familyCount).map { i in
                #"{"id":"rdv-\#(i)-moved","type":"appointment.rescheduled","data":{"appointment_id":"rdv-\#(i)","at":"\#(later)",\#(slot(i, days: 1))}}"#
            },
        ])
        // Quotes requested, sent (a reminder planned), then accepted (the reminder cancelled).
        let validUntil = Timestamp(Date().addingTimeInterval(30 * 86_400)).description
        try family("quotes: requested, sent, accepted", queue: "quotes", [
            (0..<familyCount).map { i in
                #"{"id":"q-\#(i)-requested","type":"quote.requested","data":{"quote_id":"q-\#(i)","at":"\#(at)","shop":{"id":"shop-\#(i % 80)","name":"Boutique \#(i % 80)","email":"shop\#(i % 80)@example.fr"},"customer":{"name":"Client \#(i)","email":"client\#(i)@example.fr"},"request":"Un gâteau pour 12 personnes, samedi"}}"#
            },
            (0..<familyCount).map { i in
                #"{"id":"q-\#(i)-sent","type":"quote.sent","data":{"quote_id":"q-\#(i)","at":"\#(later)","amount_cents":4500,"currency":"EUR","lines":[{"description":"Gâteau 12 parts","quantity":1,"unit_price_cents":3900},{"description":"Bougies","quantity":12,"unit_price_cents":50}],"valid_until":"\#(validUntil)","url":"https://marketplace.example/devis/q-\#(i)"}}"#
            },
            (0..<familyCount).map { i in
                #"{"id":"q-\#(i)-accepted","type":"quote.accepted","data":{"quote_id":"q-\#(i)","at":"\#(later)","order_id":"cmd-q-\#(i)"}}"#
            },
        ])
        db.close()

        let (peakRSS, currentRSS) = rss(daemon.processIdentifier)

        // 5. 100,000 reminders due at once, as after an outage: claimed, checked and turned
        // into outbox messages by the scheduler. The peak RSS is reset first to see what it takes.
        let reminderCount = Int(100_000 * scale)
        try? "5".write(toFile: "/proc/\(daemon.processIdentifier)/clear_refs", atomically: false, encoding: .utf8)
        let rssBeforeReminders = rss(daemon.processIdentifier).current
        let schedule = try PgConnection(dbURL)
        try schedule.execute("""
            BEGIN;
            INSERT INTO relais.orders (order_id, shop_id, status, details, placed_at)
            SELECT 'due-' || g, 'shop-' || (g % 80), 'ready',
                   jsonb_build_object('order_id', 'due-' || g,
                       'shop', jsonb_build_object('id', 'shop-' || (g % 80), 'name', 'Boutique ' || (g % 80), 'timezone', 'Europe/Paris'),
                       'customer', jsonb_build_object('name', 'Client ' || g, 'email', 'client' || g || '@example.fr', 'locale', 'fr'),
                       'items', jsonb_build_array(jsonb_build_object('sku', 'sku-1', 'name', 'Article', 'quantity', 1, 'unit_price_cents', 250)),
                       'total_cents', 250, 'currency', 'EUR', 'placed_at', '2026-11-28T09:00:00Z'),
                   now()
            FROM generate_series(1, \(reminderCount)) g;
            INSERT INTO relais.reminders (order_id, kind, due_at)
            SELECT 'due-' || g, 'uncollected', now() - interval '1 hour' FROM generate_series(1, \(reminderCount)) g;
            COMMIT;
            """, name: "due reminders")
        t0 = now()
        var remaining = reminderCount
        // Polled with a cheap question every 50 ms: counting the pending reminders at each
        // poll would take PostgreSQL's time from the scheduler being measured.
        while remaining > 0 && now() < t0 + .seconds(600) {
            // Due ones only: the appointments above have reminders planned for days ahead.
            let left = try schedule.query("SELECT EXISTS (SELECT 1 FROM relais.reminders WHERE status = 'pending' AND due_at <= now())",
                                          name: "left").scalar
            remaining = left == "t" ? reminderCount : 0
            if remaining > 0 { Thread.sleep(forTimeInterval: 0.05) }
        }
        remaining = Int(try schedule.query("SELECT count(*) FROM relais.reminders WHERE status = 'pending' AND due_at <= now()",
                                           name: "left").scalar ?? "0") ?? 0
        let reminderRate = Double(reminderCount - remaining) / seconds(now() - t0)
        let reminderPeak = rss(daemon.processIdentifier).peak
        schedule.close()
        Thread.sleep(forTimeInterval: 0.3)
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        var waits: [Double] = [], latencies: [Double] = []
        for line in log.split(separator: "\n") where line.contains("job.id=lat-") {
            func milliseconds(_ key: String) -> Double? {
                line.range(of: " \(key)=").flatMap { Double(line[$0.upperBound...].prefix { $0 != " " }) }
            }
            if let wait = milliseconds("job.wait_ms") { waits.append(wait) }
            if let latency = milliseconds("job.latency_ms") { latencies.append(latency) }
        }
        waits.sort()
        latencies.sort()
        guard waits.count == latencyJobs, latencies.count == latencyJobs else {
            throw BenchError("found \(waits.count) and \(latencies.count) of \(latencyJobs) latency lines in \(logPath)")
        }

        kill(daemon.processIdentifier, SIGTERM)
        daemon.waitUntilExit()

        // 6. The limits on the same servers: redis-benchmark XADD, pgbench with the same upserts.
        let sample = #"{"id":"one-1","type":"stock.levels","data":{"shop_id":"shop-1","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"sku-1","on_hand":1}]}}"#
        let redisOut = try run("redis-benchmark", ["-h", endpoint.host, "-p", String(endpoint.port), "-n", String(Int(200_000 * scale)), "-P", "100",
                                                   "-q", "XADD", "\(prefix):redis-benchmark", "*", "job", sample])
        _ = try producer.command("DEL", "\(prefix):redis-benchmark")
        let xaddRate = redisOut.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).compactMap { line -> Double? in
            guard let r = line.range(of: ": ") else { return nil }
            return Double(String(line[r.upperBound...].split(separator: " ").first ?? ""))
        }.last ?? .nan

        /// pgbench with `script` on the bench database; returns transactions per second.
        func pgbench(_ name: String, _ script: String) throws -> Double {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("relais-bench-\(name)-\(suffix).sql")
            try script.write(to: file, atomically: true, encoding: .utf8)
            let out = try run("\(pgBin)/pgbench", ["-n", "-M", "prepared", "-c", "2", "-j", "2", "-T", String(Int(max(3, 8 * scale))),
                                                   "-f", file.path, dbURL])
            let line = out.split(separator: "\n").first { $0.hasPrefix("tps = ") } ?? ""
            return Double(line.dropFirst(6).split(separator: " ").first ?? "") ?? .nan
        }
        // What relais does per batch of 200 one-SKU jobs: ledger rows and one set-based upsert, one transaction.
        let singleTps = try pgbench("single", """
            \\set b random(1, 1000000000)
            BEGIN;
            INSERT INTO relais.processed_jobs (queue, job_id, job_type)
              SELECT 'pgbench', 'pgb-' || :b || '-' || g, 'stock.levels' FROM generate_series(1, 200) g ON CONFLICT DO NOTHING;
            INSERT INTO relais.stock_items AS s (shop_id, sku, on_hand, observed_at, updated_at)
              SELECT 'pgb-shop-' || (g % 80), 'pgb-sku-' || ((:b + g) % 1750), g, clock_timestamp(), now() FROM generate_series(1, 200) g
              ON CONFLICT (shop_id, sku) DO UPDATE SET on_hand = excluded.on_hand, observed_at = excluded.observed_at, updated_at = now()
              WHERE s.observed_at IS NULL OR s.observed_at < excluded.observed_at;
            COMMIT;
            """)
        // What relais does per catalogue job: a ledger row and a 1,000-row set-based upsert, one transaction.
        let catalogueTps = try pgbench("catalogue", """
            \\set b random(1, 1000000000)
            BEGIN;
            INSERT INTO relais.processed_jobs (queue, job_id, job_type) VALUES ('pgbench', 'cat-' || :b, 'stock.levels') ON CONFLICT DO NOTHING;
            INSERT INTO relais.stock_items AS s (shop_id, sku, on_hand, observed_at, updated_at)
              SELECT 'pgb-shop-' || (:b % 80), 'pgb-cat-' || g, g, clock_timestamp(), now() FROM generate_series(1, 1000) g
              ON CONFLICT (shop_id, sku) DO UPDATE SET on_hand = excluded.on_hand, observed_at = excluded.observed_at, updated_at = now()
              WHERE s.observed_at IS NULL OR s.observed_at < excluded.observed_at;
            COMMIT;
            """)

        producer.close()
        watcher.close()
        // The disk under PostgreSQL: every lone job's commit waits for one fdatasync.
        let syncs = try fdatasyncLatencies(in: try env("BENCH_DATA_DIR", FileManager.default.temporaryDirectory.path), count: 1000)

        func row(_ name: String, _ value: String, _ target: String, _ ok: Bool?) {
            let mark = ok.map { $0 ? "ok" : "BELOW TARGET" } ?? ""
            print(name.padding(toLength: 46, withPad: " ", startingAt: 0) + value.padding(toLength: 26, withPad: " ", startingAt: 0)
                  + target.padding(toLength: 18, withPad: " ", startingAt: 0) + mark)
        }
        print("")
        row("figure", "measured", "target", nil)
        row("1-SKU stock.levels jobs drained", String(format: "%.0f jobs/s", singleRate), ">= 25000 jobs/s", singleRate >= 25_000)
        row("SKU rows, 1,000-SKU catalogue jobs", String(format: "%.0f rows/s", rowRate), ">= 100000 rows/s", rowRate >= 100_000)
        row("  a shop's first catalogue (rows all new)", String(format: "%.0f rows/s", firstRowRate), "", nil)
        func spread(_ sorted: [Double]) -> String {
            String(format: "%.2f / %.2f / %.2f ms", percentile(sorted, 0.5), percentile(sorted, 0.99), sorted.last ?? .nan)
        }
        row("pickup latency at 500 jobs/s, p99", String(format: "%.2f ms", percentile(waits, 0.99)), "< 5 ms", percentile(waits, 0.99) < 5)
        row("  enqueued -> picked up, p50/p99/max", spread(waits), "", nil)
        row("  enqueued -> committed + acked, p50/p99/max", spread(latencies), "", nil)
        row("order.placed (3 items) into PostgreSQL", String(format: "%.0f orders/s", orderRate), ">= 5000 orders/s", orderRate >= 5000)
        row("messages delivered (\(channels)), from enqueue", String(format: "%.0f msgs/s", deliveryRate), "", nil)
        row("the next services, end to end:", "", "", nil)
        for (name, rate) in families {
            row("  " + name, String(format: "%.0f events/s", rate), "", nil)
        }
        if unsent > 0 { print("  \(unsent) of \(messageCount) messages were still pending after 600 s") }
        if let mailRate {
            row("e-mails to the SMTP sink (\(mailCount) due at once)", String(format: "%.0f e-mails/s", mailRate), ">= 2000 /s", mailRate >= 2000)
        }
        if let mailCPU {
            row("  CPU per e-mail: relais / sink / machine", String(format: "%.0f / %.0f / %.0f µs", mailCPU.relais, mailCPU.sink, mailCPU.machine), "", nil)
            row("  cores idle while sending", String(format: "%.0f%%", mailCPU.idle), "", nil)
            // What the cores could send at that CPU per e-mail, everything busy: the limit
            // the sink, PostgreSQL and Relais share on this machine.
            let ceiling = Double(ProcessInfo.processInfo.activeProcessorCount) * 1e6 / mailCPU.machine
            row("  the cores' ceiling at that CPU per e-mail", String(format: "%.0f e-mails/s", ceiling), "", nil)
        }
        row("due reminders into the outbox (100k at once)", String(format: "%.0f reminders/s", reminderRate), ">= 5000 /s", reminderRate >= 5000)
        row("  RSS before / peak while firing them", String(format: "%.1f / %.1f MB", rssBeforeReminders, reminderPeak), "", nil)
        row("relais serve peak RSS before reminders", String(format: "%.1f MB", peakRSS), "< 100 MB", peakRSS < 100)
        row("relais serve RSS at the end", String(format: "%.1f MB", currentRSS), "", nil)
        print("")
        print("limits on the same servers, same run:")
        row("redis-benchmark XADD, pipeline 100", String(format: "%.0f ops/s", xaddRate), "", nil)
        row("pgbench: 200 ledger rows + 200-row upsert / tx", String(format: "%.0f jobs/s", singleTps * 200), "", nil)
        row("pgbench: ledger row + 1,000-row upsert / tx", String(format: "%.0f rows/s", catalogueTps * 1000), "", nil)
        row("pgbench: lone job tx at 500/s, p50/p99/max", spread(floor), "", nil)
        row("disk: fdatasync of 8 KiB, p50 / p99 / max", spread(syncs), "", nil)
        print("")
        print(String(format: "ratios: 1-SKU drain = %.1f%% of redis-benchmark XADD, %.1f%% of the pgbench batch upsert; catalogue = %.1f%% of pgbench",
                     100 * singleRate / xaddRate, 100 * singleRate / (singleTps * 200), 100 * rowRate / (catalogueTps * 1000)))
        print("CPU time stolen by the host's other guests, per phase: "
              + stolen.map { "\($0.phase) " + String(format: "%.1f%%", $0.percent) }.joined(separator: ", "))
        print("daemon log: \(logPath)")

    }
}

import Crypto
import Foundation
import Hummingbird
import Mustache
import NIOCore
import RelaisQueue

/// The status page's HTML: plain server-rendered markup (swift-mustache escapes every
/// value), its own small style sheet, nothing fetched from elsewhere, reloading itself
/// every five seconds.
final class ConsolePage: Sendable {
    /// What the viewer may do.
    enum Mode {
        /// No operator token is configured: nothing can be changed from the page.
        case readOnly
        /// A token is configured and the viewer has not signed in.
        case signedOut
        /// Signed in: the forms carry this CSRF token.
        case signedIn(csrf: String)
    }

    private let configuration: RelaisConfiguration
    private let health: HealthMonitor
    private let engine: QueueEngine
    private let startedAt: Date
    private let template: MustacheTemplate
    private let headers: HTTPFields

    init(configuration: RelaisConfiguration, health: HealthMonitor, engine: QueueEngine, startedAt: Date) {
        self.configuration = configuration
        self.health = health
        self.engine = engine
        self.startedAt = startedAt
        // The template is part of the build: a failure to parse it is a programming error.
        template = try! MustacheTemplate(string: Self.markup)
        // The style sheet is allowed by its hash: no other style, script or resource runs.
        let styleHash = Data(SHA256.hash(data: Data(Self.style.utf8))).base64EncodedString()
        headers = [
            .contentType: "text/html; charset=utf-8",
            .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; style-src 'sha256-\(styleHash)'; form-action 'self'; "
                + "frame-ancestors 'none'; base-uri 'none'",
            .xContentTypeOptions: "nosniff",
            HTTPFields.referrerPolicy: "no-referrer",
        ]
    }

    /// The page for a viewer in `mode`, with the notice of their last action.
    func response(mode: Mode, notice: String?) -> Response {
        let html = template.render(context(mode: mode, notice: notice))
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The values the template shows.
    func context(mode: Mode, notice: String?, now: Date = Date()) -> [String: Any] {
        let report = health.current
        let figures = engine.figures.snapshot
        var values: [String: Any] = [
            "style": Self.style,
            "instance": configuration.queue.instance,
            "version": RelaisVersion.current,
            "uptime": Self.age(now.timeIntervalSince(startedAt)),
            "ready": report.ready,
            "prefix": configuration.queue.prefix,
        ]
        switch mode {
        case .readOnly: values["readOnly"] = true
        case .signedOut: values["signedOut"] = true
        case .signedIn(let csrf):
            values["signedIn"] = true
            values["csrf"] = csrf
        }
        if let notice { values["notice"] = notice }
        if let measured = figures.measuredAt { values["measured"] = Self.age(now.timeIntervalSince(measured)) + " ago" }

        values["queues"] = figures.queues.keys.sorted().map { name -> [String: Any] in
            let q = figures.queues[name]!
            var row: [String: Any] = [
                "name": name, "state": q.pausedSince == nil ? "running" : "paused", "length": q.length, "pending": q.pending,
                "lag": Self.seconds(q.lagSeconds), "retrying": q.retrying, "consumers": q.liveConsumers,
            ]
            if let since = q.pausedSince {
                row["paused"] = true
                // To the second: `2026-12-04T22:40:00Z`.
                row["pausedSince"] = since.count > 19 ? since.prefix(19) + "Z" : since
            }
            if q.retrying > 0 { row["hasRetries"] = true }
            return row
        }
        values["deadTotal"] = figures.deadLetters
        values["hasLatestDead"] = !figures.latestDeadLetters.isEmpty
        values["deadByCode"] = figures.deadLettersByCode.keys.sorted().map { kind in
            ["queue": kind.queue, "code": kind.code, "count": figures.deadLettersByCode[kind]!] as [String: Any]
        }
        values["latestDead"] = figures.latestDeadLetters.map { letter in
            ["entry": letter.entryId, "queue": letter.queue, "code": letter.code, "reason": letter.reason,
             "jobId": letter.jobId ?? "-", "jobType": letter.jobType ?? "-", "failedAt": letter.failedAt] as [String: Any]
        }
        values["outbox"] = report.outbox.keys.sorted().map { channel in
            let b = report.outbox[channel]!
            var row: [String: Any] = ["channel": channel, "pending": b.pending, "due": b.due, "failed": b.failed,
                                      "oldestDue": Self.seconds(b.oldestDueSeconds), "held": b.held]
            if b.failed > 0 { row["hasFailed"] = true }
            return row
        }
        let live = figures.consumers.filter(\.live)
        values["instances"] = figures.instances.keys.sorted().map { name in
            ["name": name, "seen": Self.age(max(0, now.timeIntervalSince(figures.instances[name]!))) + " ago",
             "consumers": live.filter { $0.instance == name }.count, "isSelf": name == configuration.queue.instance] as [String: Any]
        }
        values["staleConsumers"] = figures.consumers.count - live.count
        let checks = ReadinessBody(report).checks
        values["checks"] = checks.keys.sorted().map { name in
            ["name": name, "ok": checks[name]!.ok, "state": checks[name]!.ok ? "ok" : "failing",
             "error": checks[name]!.error ?? ""] as [String: Any]
        }
        values["redisWarnings"] = report.redisWarnings
        return values
    }

    /// `3 h 12 min`, `4 min 5 s`, `12 s`.
    static func age(_ interval: TimeInterval) -> String {
        let s = Int(max(0, min(interval, 1e9)))
        if s >= 86_400 { return "\(s / 86_400) d \(s % 86_400 / 3600) h" }
        if s >= 3600 { return "\(s / 3600) h \(s % 3600 / 60) min" }
        if s >= 60 { return "\(s / 60) min \(s % 60) s" }
        return "\(s) s"
    }

    /// `0.4 s`, `12 s`, and `age` beyond a minute.
    static func seconds(_ value: Double) -> String {
        value < 10 ? String(format: "%.1f s", max(0, value)) : age(value)
    }

    static let style = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2327;background:#f6f7f7}
        header{display:flex;flex-wrap:wrap;gap:.5em 1.5em;align-items:center;padding:.6em 1.2em;background:#1d2327;color:#fff}
        header h1{font-size:1.2em;margin:0}header form{margin-left:auto}header .ok{color:#68de7c}header .failing{color:#ff8085}
        main{padding:1em 1.2em;display:grid;gap:1em;grid-template-columns:repeat(auto-fit,minmax(28em,1fr))}
        section{background:#fff;border:1px solid #dcdcde;border-radius:4px;padding:.4em .9em .8em}
        section.wide{grid-column:1/-1}h2{font-size:1em;margin:.5em 0}
        table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25em .5em;border-bottom:1px solid #eee}
        td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
        .ok,.running{color:#00702a}.failing,.paused{color:#b32d2e;font-weight:600}
        .notice{margin:1em 1.2em 0;padding:.5em .9em;background:#fcf9e8;border:1px solid #dba617}
        .muted{color:#646970}form.inline{display:inline;margin:0}button{font:inherit;cursor:pointer}
        .reason{max-width:30em;overflow-wrap:anywhere}footer{padding:0 1.2em 1em}
        """

    static let markup = """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta http-equiv="refresh" content="5">
        <title>Relais · {{instance}}</title>
        <style>{{{style}}}</style>
        </head>
        <body>
        <header>
        <h1>Relais</h1>
        <span id="instance">instance {{instance}}</span>
        <span id="version">version {{version}}</span>
        <span id="uptime">up {{uptime}}</span>
        <span id="readiness" class="{{#ready}}ok{{/ready}}{{^ready}}failing{{/ready}}">{{#ready}}ready{{/ready}}{{^ready}}not ready{{/ready}}</span>
        {{#signedIn}}<form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="{{csrf}}"><button>Sign out</button></form>{{/signedIn}}
        {{#signedOut}}<form class="inline" method="post" action="/login"><label>Operator token <input type="password" name="token" autocomplete="current-password" required></label> <button>Sign in</button></form>{{/signedOut}}
        {{#readOnly}}<span class="muted" id="read-only">read-only: no operator token is configured</span>{{/readOnly}}
        </header>
        {{#notice}}<p class="notice" id="notice">{{notice}}</p>{{/notice}}
        <main>
        <section id="queues" class="wide">
        <h2>Queues</h2>
        <table>
        <thead><tr><th>Queue</th><th>State</th><th class="n">Length</th><th class="n">Pending</th><th class="n">Lag</th><th class="n">Retrying</th><th class="n">Consumers</th>{{#signedIn}}<th>Actions</th>{{/signedIn}}</tr></thead>
        <tbody>
        {{#queues}}
        <tr data-queue="{{name}}">
        <td class="name">{{name}}</td>
        <td class="state {{state}}">{{state}}{{#paused}} <span class="muted">since {{pausedSince}}</span>{{/paused}}</td>
        <td class="n length">{{length}}</td><td class="n pending">{{pending}}</td><td class="n lag">{{lag}}</td>
        <td class="n retrying">{{retrying}}</td><td class="n consumers">{{consumers}}</td>
        {{#signedIn}}<td>
        {{#paused}}<form class="inline" method="post" action="/actions/resume"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="queue" value="{{name}}"><button>Resume</button></form>{{/paused}}
        {{^paused}}<form class="inline" method="post" action="/actions/pause"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="queue" value="{{name}}"><button>Pause</button></form>{{/paused}}
        {{#hasRetries}}<form class="inline" method="post" action="/actions/retry"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="queue" value="{{name}}"><input type="hidden" name="all" value="1"><button>Run retries now</button></form>{{/hasRetries}}
        </td>{{/signedIn}}
        </tr>
        {{/queues}}
        {{^queues}}<tr><td colspan="7" class="muted">not measured yet</td></tr>{{/queues}}
        </tbody>
        </table>
        </section>
        <section id="dead-letters" class="wide">
        <h2>Dead letters: <span id="dead-total">{{deadTotal}}</span></h2>
        <table id="dead-by-code">
        <thead><tr><th>Queue</th><th>Code</th><th class="n">Letters</th></tr></thead>
        <tbody>
        {{#deadByCode}}<tr data-queue="{{queue}}" data-code="{{code}}"><td>{{queue}}</td><td>{{code}}</td><td class="n count">{{count}}</td></tr>{{/deadByCode}}
        {{^deadByCode}}<tr><td colspan="3" class="muted">none</td></tr>{{/deadByCode}}
        </tbody>
        </table>
        {{#hasLatestDead}}<h2>Latest</h2>{{/hasLatestDead}}
        <table id="dead-latest">
        {{#hasLatestDead}}<thead><tr><th>When</th><th>Queue</th><th>Code</th><th>Job</th><th>Type</th><th>Reason</th>{{#signedIn}}<th></th>{{/signedIn}}</tr></thead>{{/hasLatestDead}}
        <tbody>
        {{#latestDead}}
        <tr data-entry="{{entry}}"><td>{{failedAt}}</td><td>{{queue}}</td><td>{{code}}</td><td class="job">{{jobId}}</td><td>{{jobType}}</td><td class="reason">{{reason}}</td>
        {{#signedIn}}<td><form class="inline" method="post" action="/actions/replay"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="entry" value="{{entry}}"><button>Replay</button></form></td>{{/signedIn}}
        </tr>
        {{/latestDead}}
        </tbody>
        </table>
        </section>
        <section id="outbox">
        <h2>Outbox</h2>
        <table>
        <thead><tr><th>Channel</th><th class="n">Pending</th><th class="n">Due</th><th class="n">Failed</th><th class="n">Oldest due</th><th class="n">Held here</th>{{#signedIn}}<th></th>{{/signedIn}}</tr></thead>
        <tbody>
        {{#outbox}}
        <tr data-channel="{{channel}}"><td>{{channel}}</td><td class="n pending">{{pending}}</td><td class="n due">{{due}}</td><td class="n failed">{{failed}}</td><td class="n">{{oldestDue}}</td><td class="n">{{held}}</td>
        {{#signedIn}}<td>{{#hasFailed}}<form class="inline" method="post" action="/actions/resend"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="channel" value="{{channel}}"><input type="hidden" name="all" value="1"><button>Resend failed</button></form>{{/hasFailed}}</td>{{/signedIn}}
        </tr>
        {{/outbox}}
        {{^outbox}}<tr><td colspan="6" class="muted">no messages</td></tr>{{/outbox}}
        </tbody>
        </table>
        </section>
        <section id="instances">
        <h2>Instances</h2>
        <table>
        <thead><tr><th>Instance</th><th>Last seen</th><th class="n">Live consumers</th></tr></thead>
        <tbody>
        {{#instances}}<tr data-instance="{{name}}"><td>{{name}}{{#isSelf}} <span class="muted">(this one)</span>{{/isSelf}}</td><td>{{seen}}</td><td class="n consumers">{{consumers}}</td></tr>{{/instances}}
        </tbody>
        </table>
        <p class="muted" id="stale-consumers">{{staleConsumers}} consumers of gone instances (not counted; removed once they hold nothing)</p>
        </section>
        <section id="checks">
        <h2>Readiness</h2>
        <table>
        <tbody>
        {{#checks}}<tr data-check="{{name}}"><td>{{name}}</td><td class="{{state}}">{{state}}</td><td class="muted">{{error}}</td></tr>{{/checks}}
        </tbody>
        </table>
        {{#redisWarnings}}<p class="failing">Redis: {{.}}</p>{{/redisWarnings}}
        </section>
        </main>
        <footer class="muted">Prefix {{prefix}}. Measured {{measured}}. The same figures as JSON: <a href="/status">/status</a>; Prometheus: <a href="/metrics">/metrics</a>.</footer>
        </body>
        </html>
        """
}

extension HTTPFields {
    /// `Referrer-Policy`, which HTTPTypes does not name.
    static let referrerPolicy = HTTPFields.Element.Name("Referrer-Policy")!
}

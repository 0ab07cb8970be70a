import Crypto
import Foundation
import Hummingbird
import Logging
import PostgresClient
import RedisClient
import NIOCore
import RelaisJobs
import RelaisQueue
import RelaisStore
import Synchronization

/// The operator's page: `GET /` shows the queues, dead letters, outbox, instances and
/// readiness; with an operator token configured, a signed-in operator can also pause and
/// resume queues, replay dead letters, run retries now and resend failed messages.
///
/// Signing in posts the token to `/login`, which answers with a session cookie
/// (`HttpOnly`, `SameSite=Strict`, twelve hours). Every action is a POST that carries the
/// session's CSRF token (an HMAC of the session under a key made at start) and, when the
/// browser sends one, an `Origin` of this very host; anything else is refused with 403.
/// Without a token, the page is read-only and every POST is refused.
final class Console: Sendable {
    private let token: String?
    private let csrfKey = SymmetricKey(size: .bits256)
    private let sessions = Mutex<[String: Session]>([:])
    private let logger: Logger
    private let actions: ConsoleActing
    let page: ConsolePage

    /// A signed-in operator's session.
    private struct Session {
        var expires: Date
        /// What the last action did, shown once on the next page.
        var notice: String?
    }

    /// How long a session lasts.
    static let sessionLifetime: TimeInterval = 12 * 3600
    static let cookieName = "relais_session"

    init(token: String?, page: ConsolePage, actions: ConsoleActing, logger: Logger) {
        self.token = token
        self.page = page
        self.actions = actions
        self.logger = logger
    }

    /// Adds the page and its actions to `router`.
    func register(on router: Router<BasicRequestContext>) {
        router.get("/") { request, _ in
            let session = self.session(of: request)
            let notice = session.flatMap { self.takeNotice($0) }
            let csrf = session.map(self.csrfToken)
            return self.page.response(mode: self.token == nil ? .readOnly : (csrf.map { .signedIn(csrf: $0) } ?? .signedOut),
                                      notice: notice)
        }
        router.post("login") { request, context in
            guard let token = self.token else { return Self.refused("the console is read-only: no operator token is configured") }
            guard self.sameOrigin(request) else { return Self.refused("cross-origin request refused") }
            let form = try await Self.form(request, context)
            guard let given = form["token"], Self.equal(given, token) else {
                self.logger.warning("console sign-in refused: wrong token")
                return Self.refused("wrong token")
            }
            let id = Self.randomHex(32)
            self.sessions.withLock { sessions in
                let now = Date()
                sessions = sessions.filter { $0.value.expires > now }
                sessions[id] = Session(expires: now.addingTimeInterval(Self.sessionLifetime), notice: "signed in")
            }
            self.logger.notice("console sign-in")
            var response = Self.redirect()
            response.setCookie(Cookie(name: Self.cookieName, value: id, maxAge: Int(Self.sessionLifetime), path: "/",
                                      httpOnly: true, sameSite: .strict))
            return response
        }
        router.post("logout") { request, context in
            guard let session = self.session(of: request), try await self.checked(request, context, session) != nil else {
                return Self.refused("not signed in")
            }
            _ = self.sessions.withLock { $0.removeValue(forKey: session) }
            var response = Self.redirect()
            response.setCookie(Cookie(name: Self.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
            return response
        }
        router.post("actions/:action") { request, context in
            guard self.token != nil else { return Self.refused("the console is read-only: no operator token is configured") }
            guard let session = self.session(of: request) else { return Self.refused("not signed in") }
            guard let form = try await self.checked(request, context, session) else {
                return Self.refused("the form is stale or not from this page: reload the page and try again")
            }
            let action = context.parameters.get("action") ?? ""
            let outcome: ConsoleOutcome
            do {
                outcome = try await self.actions.perform(action, form)
            } catch let error as ConsoleActionError {
                outcome = ConsoleOutcome(done: false, message: error.message)
            } catch {
                outcome = ConsoleOutcome(done: false, message: "\(action) failed: \(error)")
            }
            self.logger.notice(outcome.done ? "console action" : "console action failed",
                               metadata: ["action": "\(action)", "result": "\(outcome.message)"])
            self.sessions.withLock { $0[session]?.notice = outcome.message }
            return outcome.badRequest ? Self.refused(outcome.message, status: .badRequest) : Self.redirect()
        }
    }

    // MARK: Sessions and forms

    /// The session named by the request's cookie, if it is live.
    private func session(of request: Request) -> String? {
        guard token != nil, let id = request.cookies[Self.cookieName]?.value, !id.isEmpty else { return nil }
        return sessions.withLock { $0[id].map { $0.expires > Date() } == true ? id : nil }
    }

    private func takeNotice(_ session: String) -> String? {
        sessions.withLock { sessions in
            defer { sessions[session]?.notice = nil }
            return sessions[session]?.notice
        }
    }

    /// The CSRF token of `session`.
    private func csrfToken(_ session: String) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: Data(session.utf8), using: csrfKey)).base64EncodedString()
    }

    /// The request's form, if it comes from this page: same origin and the session's CSRF token.
    private func checked(_ request: Request, _ context: BasicRequestContext, _ session: String) async throws -> [String: String]? {
        guard sameOrigin(request) else { return nil }
        let form = try await Self.form(request, context)
        guard let csrf = form["csrf"], Self.equal(csrf, csrfToken(session)) else { return nil }
        return form
    }

    /// False when the browser says the request comes from another origin than this host.
    private func sameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    /// The URL-encoded form of a POST, at most 16 KiB.
    private static func form(_ request: Request, _ context: BasicRequestContext) async throws -> [String: String] {
        let body = try await request.body.collect(upTo: 16 << 10)
        return (try? URLEncodedFormDecoder().decode([String: String].self, from: String(buffer: body))) ?? [:]
    }

    /// Compares two secrets in time that does not depend on where they differ.
    private static func equal(_ a: String, _ b: String) -> Bool {
        SHA256.hash(data: Data(a.utf8)) == SHA256.hash(data: Data(b.utf8))
    }

    private static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }

    private static func redirect() -> Response {
        Response(status: .seeOther, headers: [.location: "/", .cacheControl: "no-store"])
    }

    private static func refused(_ message: String, status: HTTPResponse.Status = .forbidden) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}

/// What an action did, in the operator's words.
struct ConsoleOutcome: Sendable {
    /// Whether it did what was asked.
    var done: Bool
    var message: String
    /// The form was wrong (an unknown queue, a missing id): answered 400 rather than redirected.
    var badRequest = false
}

/// The actions the page can take, on connections of their own (the blocking calls run
/// on a thread of their own, never on the server's event loops).
struct ConsoleActing: Sendable {
    let configuration: RelaisConfiguration

    func perform(_ action: String, _ form: [String: String]) async throws -> ConsoleOutcome {
        let configuration = configuration
        switch action {
        case "pause", "resume":
            guard let queue = form["queue"], JobFamilies.queues.contains(queue) else {
                return ConsoleOutcome(done: false, message: "no such queue", badRequest: true)
            }
            return try await withRedis { redis in
                if action == "pause" {
                    let changed = try QueueControl.pause(redis, settings: configuration.queue, queue: queue)
                    return ConsoleOutcome(done: true, message: changed ? "paused \(queue) on every instance" : "\(queue) was already paused")
                }
                let changed = try QueueControl.resume(redis, settings: configuration.queue, queue: queue)
                return ConsoleOutcome(done: true, message: changed ? "resumed \(queue) on every instance" : "\(queue) was not paused")
            }
        case "replay":
            guard let entry = form["entry"], !entry.isEmpty, entry.count <= 64 else {
                return ConsoleOutcome(done: false, message: "no dead letter named", badRequest: true)
            }
            return try await withRedis { redis in
                switch try ConsoleActions.replayDeadLetter(redis: redis, settings: configuration.queue, entryId: entry) {
                case .replayed(let stream, let entryId):
                    ConsoleOutcome(done: true, message: "replayed dead letter \(entry) to \(stream) as \(entryId)")
                case .gone:
                    ConsoleOutcome(done: false, message: "dead letter \(entry) left the dead letters meanwhile")
                case .notOurQueue:
                    ConsoleOutcome(done: false, message: "dead letter \(entry) is not from a queue of this relais")
                }
            }
        case "retry":
            guard let queue = form["queue"], JobFamilies.queues.contains(queue) else {
                return ConsoleOutcome(done: false, message: "no such queue", badRequest: true)
            }
            let job = form["job"].flatMap { $0.isEmpty ? nil : $0 }
            return try await withRedis { redis in
                let runs = try ConsoleActions.runRetries(redis: redis, settings: configuration.queue, queue: queue, jobId: job)
                let moved = runs.filter { if case .moved = $0 { true } else { false } }.count
                return ConsoleOutcome(done: true, message: "ran \(moved) retr\(moved == 1 ? "y" : "ies") of \(queue) now")
            }
        case "resend":
            let channel = form["channel"].flatMap { $0.isEmpty ? nil : $0 }
            let id = form["id"].flatMap { Int64($0) }
            guard id != nil || form["all"] == "1" else {
                return ConsoleOutcome(done: false, message: "name a message or all of them", badRequest: true)
            }
            let databaseURL = configuration.databaseURL
            return try await onOwnThread {
                let db = try PgConnection(databaseURL, callTimeout: .seconds(10))
                defer { db.close() }
                let count = try FailedMessages.resend(db, id: id, channel: channel)
                let what = id.map { "message \($0)" } ?? "\(count) failed message\(count == 1 ? "" : "s")" + (channel.map { " of \($0)" } ?? "")
                return count == 0 && id != nil
                    ? ConsoleOutcome(done: false, message: "message \(id!) is not a failed message")
                    : ConsoleOutcome(done: true, message: "put \(what) back to be sent now")
            }
        default:
            return ConsoleOutcome(done: false, message: "no such action", badRequest: true)
        }
    }

    /// Runs `body` with a Redis connection of its own, on a thread of its own.
    private func withRedis(_ body: @escaping @Sendable (RedisConnection) throws -> ConsoleOutcome) async throws -> ConsoleOutcome {
        let endpoint = configuration.redis
        return try await onOwnThread {
            let redis = try RedisConnection(endpoint, connectTimeout: .seconds(2), timeout: .seconds(10))
            defer { redis.close() }
            return try body(redis)
        }
    }
}

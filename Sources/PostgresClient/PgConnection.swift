import CLibpq

/// An error from PostgreSQL or libpq, with the SQLSTATE and the statement it happened in.
///
/// `description` names the statement and the server's message, never parameter values.
public struct PgError: Error, CustomStringConvertible, Sendable {
    /// The five-character SQLSTATE, or nil when the failure was on the client side.
    public let sqlState: String?
    /// The name of the statement (or "connect"), never its parameters.
    public let statement: String
    /// The server's primary message or libpq's error text.
    public let message: String
    /// Whether the connection is gone: the caller must reconnect.
    public let connectionLost: Bool

    /// Creates an error from its parts.
    public init(sqlState: String?, statement: String, message: String, connectionLost: Bool) {
        self.sqlState = sqlState
        self.statement = statement
        self.message = message
        self.connectionLost = connectionLost
    }

    /// Whether trying the same work again may succeed: serialization failures,
    /// deadlocks, lock timeouts, cancellations, lost connections and resource shortages.
    public var isTransient: Bool {
        if connectionLost { return true }
        guard let state = sqlState else { return false }
        return state.hasPrefix("40") || state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57")
            || state == "55P03"
    }

    /// Whether the database, not the job, is at fault: a missing table or column, a
    /// permission, authentication or schema problem. No job should be dead-lettered for it.
    public var isDatabaseSetupProblem: Bool {
        guard let state = sqlState else { return false }
        return state.hasPrefix("42") || state.hasPrefix("3F") || state.hasPrefix("28") || state.hasPrefix("0A")
            || state == "25006"  // read-only transaction: a replica or a read-only default
            || state == "26000"  // a prepared statement missing: a pooler that was not recognised
    }

    /// Whether an error with `sqlState` means this session can do no more useful work and
    /// the caller must connect again, like a lost connection.
    ///
    /// A read-only transaction (`25006`) is what a primary that became a standby or was
    /// fenced answers to writes: a new connection (with libpq's
    /// `target_session_attrs=read-write`) finds the new primary. An administrator's or a
    /// crash's shutdown (`57P01`, `57P02`, `57P03`) and a connection exception (class
    /// `08`) end the session anyway.
    public static func endsSession(_ sqlState: String?) -> Bool {
        guard let state = sqlState else { return false }
        return state == "25006" || state == "57P01" || state == "57P02" || state == "57P03" || state.hasPrefix("08")
    }

    public var description: String {
        var text = "PostgreSQL \(statement)"
        if let sqlState { text += " [\(sqlState)]" }
        text += ": " + message
        if sqlState == "26000" || sqlState == "42P05" {
            text += " (prepared statements do not survive a pooler in transaction mode that Relais did not recognise:"
                + " see \"PostgreSQL topology\" in docs/operations.md)"
        }
        return text
    }
}

/// The rows of a query, copied out of libpq's result as text.
public struct PgRows: Sendable {
    /// Column names in order.
    public let columns: [String]
    /// Each row's values as text; nil is SQL NULL.
    public let rows: [[String?]]
    /// The number of rows affected, for INSERT/UPDATE/DELETE.
    public let affected: Int

    /// The value in `row` at the column named `column`.
    public func value(_ row: Int, _ column: String) -> String? {
        guard let index = columns.firstIndex(of: column) else { return nil }
        return rows[row][index]
    }

    /// The first column of the first row, if any.
    public var scalar: String? { rows.first?.first ?? nil }
}

/// One connection to PostgreSQL, used by one thread at a time.
///
/// Statements whose results are not needed can be queued with `send`: they go to the
/// server with the next statement that returns rows, or with the transaction's COMMIT,
/// in one round trip (libpq's pipeline mode). A transaction's BEGIN is sent the same
/// way, with its first statement. A transaction whose statements all go by `send` is one
/// round trip, COMMIT included.
///
/// Behind a connection pooler in transaction mode (PgBouncer), consecutive
/// transactions may run on different server connections: a connection that finds one
/// between itself and PostgreSQL (`isPooled`) prepares no named statement and keeps its
/// session settings as settings of each transaction instead.
///
/// Deliberately not `Sendable`: a `PGconn` must not be shared between threads,
/// and Swift then refuses to let one cross threads by mistake.
public final class PgConnection {
    private var conn: OpaquePointer?
    private var prepared: Set<String> = []
    /// Whether a connection pooler stands between this connection and PostgreSQL.
    ///
    /// Found at connect time: a pooler hands its client a process id and cancel key of its
    /// own (it must route cancel requests), so the `BackendKeyData` libpq holds names no
    /// server process, while a direct connection's is the backend's own `pg_backend_pid()`.
    /// A pooled connection sends each statement unnamed (parsed and planned with its
    /// parameters each time, as a pooler in transaction mode needs: PgBouncer before 1.21
    /// keeps no prepared statement across server connections) and applies its session
    /// settings inside each transaction (see `setSessionSetting`).
    public private(set) var isPooled = false
    /// Session settings a pooled connection applies at the start of each transaction.
    private var localSettings: [(name: String, value: String)] = []
    /// Sent with the next round trip, in order.
    private var queued: [Queued] = []
    /// Round trips to the server so far: each statement run alone, each pipeline of
    /// queued statements, each statement prepared.
    public private(set) var roundTrips = 0

    private enum Queued {
        case statement(PgStatement, [String?])
        case command(String)
        case query(String, [String?], name: String)

        var name: String {
            switch self {
            case .statement(let statement, _): statement.name
            case .command(let sql): sql.lowercased()
            case .query(_, _, let name): name
            }
        }
    }

    /// The longest a call may wait for the server before the connection is cut.
    public let callTimeout: Duration

    /// Connects with a libpq connection string or a `postgresql://` URL.
    ///
    /// Settings the string does not give default to what a daemon needs: a 5 s
    /// `connect_timeout`, TCP keepalives that notice a dead peer within a minute, and a
    /// `tcp_user_timeout` of 30 s. Each call (a statement, a pipeline, a prepare) must
    /// end within `callTimeout`, or the connection is cut and the call throws with
    /// `connectionLost`; see `CallDeadlines`.
    public init(_ conninfo: String, callTimeout: Duration = .seconds(30)) throws(PgError) {
        self.callTimeout = callTimeout
        // With expand_dbname, `dbname` is read as the whole connection string, and what
        // it sets overrides the entries before it: these are defaults only.
        let settings: [(String, String)] = [
            ("connect_timeout", "5"), ("keepalives", "1"), ("keepalives_idle", "15"), ("keepalives_interval", "5"),
            ("keepalives_count", "3"), ("tcp_user_timeout", "30000"), ("application_name", "relais"), ("dbname", conninfo),
        ]
        let conn = withCStrings(settings.map(\.0)) { keywords in
            withCStrings(settings.map(\.1)) { values in PQconnectdbParams(keywords, values, 1) }
        }
        guard let conn, PQstatus(conn) == CONNECTION_OK else {
            let message = conn.map { PgConnectionString.redactedConnectFailure(String(cString: PQerrorMessage($0))) } ?? "out of memory"
            PQfinish(conn)
            throw PgError(sqlState: nil, statement: "connect", message: message.trimmingTrailingNewlines,
                          connectionLost: true)
        }
        relais_pq_silence_notices(conn)
        self.conn = conn
        do {
            let pid = try query("SELECT pg_backend_pid()", name: "backend pid").scalar.flatMap { Int32($0) }
            isPooled = pid != PQbackendPID(conn)
        } catch {
            close()
            throw error
        }
    }

    deinit {
        assert(conn == nil, "PgConnection was not closed")
        if let conn { PQfinish(conn) }
    }

    /// Closes the connection; using it afterwards throws.
    public func close() {
        if let conn { PQfinish(conn) }
        conn = nil
        queued.removeAll()
        prepared.removeAll()
    }

    /// Whether the connection is open and healthy as far as libpq knows.
    public var isOpen: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// Sets a setting for the rest of the session (`set_config(name, value, false)`).
    ///
    /// On a pooled connection (`isPooled`) a session setting would stay on whichever
    /// server connection ran it, for other clients, and be missing from this one's next
    /// transaction: the setting is kept here instead and set for its transaction only
    /// (`set_config(name, value, true)`) at the start of each round trip made outside a
    /// transaction, in the same pipeline.
    public func setSessionSetting(_ name: String, _ value: String) throws(PgError) {
        guard isPooled else {
            try query("SELECT set_config($1, $2, false)", [name, value], name: "session setting \(name)")
            return
        }
        localSettings.removeAll { $0.name == name }
        localSettings.append((name, value))
    }

    /// Runs one or more statements without parameters (migrations, BEGIN, COMMIT).
    @discardableResult
    public func execute(_ sql: String, name: String) throws(PgError) -> PgRows {
        try flush()
        let c = try connection(name)
        roundTrips += 1
        return try take(try guarded(c, name) { PQexec(c, sql) }, name: name)
    }

    /// Runs one statement with text parameters; `nil` is SQL NULL.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = [], name: String) throws(PgError) -> PgRows {
        if isPooled {
            queued.append(.query(sql, parameters, name: name))
            return try flush()
        }
        try flush()
        let c = try connection(name)
        roundTrips += 1
        let result = try guarded(c, name) {
            withParameters(parameters) { count, values in PQexecParams(c, sql, count, nil, values, nil, nil, 0) }
        }
        return try take(result, name: name)
    }

    /// Runs a statement prepared once per connection under `name`, after the statements
    /// queued with `send`, in the same round trip.
    @discardableResult
    public func run(_ statement: PgStatement, _ parameters: [String?]) throws(PgError) -> PgRows {
        if !queued.isEmpty || isPooled {
            queued.append(.statement(statement, parameters))
            return try flush()
        }
        let c = try connection(statement.name)
        try prepare(statement, c)
        roundTrips += 1
        let result = try guarded(c, statement.name) {
            withParameters(parameters) { count, values in PQexecPrepared(c, statement.name, count, values, nil, nil, 0) }
        }
        return try take(result, name: statement.name)
    }

    /// Queues a statement whose result is not needed; it is sent with the next `run`,
    /// `query`, `execute` or the transaction's COMMIT. An error it raises is thrown there
    /// and names it; the statements queued after it are then not run.
    public func send(_ statement: PgStatement, _ parameters: [String?]) {
        queued.append(.statement(statement, parameters))
    }

    /// Runs `body` in a transaction: committed if it returns, rolled back if it throws.
    /// BEGIN goes with the first statement, COMMIT with the statements still queued.
    public func transaction<R>(_ body: () throws -> R) throws -> R {
        queued.append(.command("BEGIN"))
        do {
            let value = try body()
            queued.append(.command("COMMIT"))
            try flush()
            return value
        } catch {
            let begun = !queued.contains { if case .command("BEGIN") = $0 { true } else { false } }
            queued.removeAll()
            if begun && isOpen { _ = try? execute("ROLLBACK", name: "rollback") }
            throw error
        }
    }

    private func connection(_ name: String) throws(PgError) -> OpaquePointer {
        guard let conn else { throw PgError(sqlState: nil, statement: name, message: "connection is closed", connectionLost: true) }
        return conn
    }

    private func prepare(_ statement: PgStatement, _ c: OpaquePointer) throws(PgError) {
        guard !prepared.contains(statement.name) else { return }
        roundTrips += 1
        _ = try take(try guarded(c, statement.name) { PQprepare(c, statement.name, statement.sql, 0, nil) }, name: statement.name)
        prepared.insert(statement.name)
    }

    /// Sends everything queued in one pipeline and returns the last statement's rows.
    /// The first error is thrown; PostgreSQL skips the statements after it.
    @discardableResult
    private func flush() throws(PgError) -> PgRows {
        guard !queued.isEmpty else { return PgRows(columns: [], rows: [], affected: 0) }
        var items = queued
        queued.removeAll(keepingCapacity: true)
        let c = try connection(items[0].name)
        if !isPooled {
            for case .statement(let statement, _) in items { try prepare(statement, c) }
        } else if !localSettings.isEmpty && PQtransactionStatus(c) == PQTRANS_IDLE {
            // Before everything, BEGIN included: until the pipeline's sync all of it is one
            // transaction, which a BEGIN only makes explicit.
            let calls = localSettings.indices.map { "set_config($\(2 * $0 + 1), $\(2 * $0 + 2), true)" }
            items.insert(.query("SELECT " + calls.joined(separator: ", "), localSettings.flatMap { [$0.name, $0.value] },
                                name: "transaction settings"), at: 0)
        }
        guard PQenterPipelineMode(c) == 1 else { throw clientError(items[0].name, c) }
        let token = CallDeadlines.shared.begin(socket: PQsocket(c), timeout: callTimeout)
        let result = Result { () throws(PgError) -> PgRows in try runPipeline(items, c) }
        if CallDeadlines.shared.end(token) {
            close()
            throw PgError(sqlState: nil, statement: items[0].name, message: "no answer from the server within \(callTimeout)",
                          connectionLost: true)
        }
        leavePipeline(c)
        if case .failure(let error) = result, error.connectionLost { close() }
        return try result.get()
    }

    /// Sends `items` in pipeline mode and reads their results up to the sync point.
    private func runPipeline(_ items: [Queued], _ c: OpaquePointer) throws(PgError) -> PgRows {
        for item in items {
            let sent: Int32
            switch item {
            case .statement(let statement, let parameters) where isPooled:
                sent = withParameters(parameters) { count, values in PQsendQueryParams(c, statement.sql, count, nil, values, nil, nil, 0) }
            case .statement(let statement, let parameters):
                sent = withParameters(parameters) { count, values in
                    PQsendQueryPrepared(c, statement.name, count, values, nil, nil, 0)
                }
            case .command(let sql):
                sent = PQsendQueryParams(c, sql, 0, nil, nil, nil, nil, 0)
            case .query(let sql, let parameters, _):
                sent = withParameters(parameters) { count, values in PQsendQueryParams(c, sql, count, nil, values, nil, nil, 0) }
            }
            guard sent == 1 else { throw clientError(item.name, c) }
        }
        guard PQpipelineSync(c) == 1 else { throw clientError(items[0].name, c) }
        roundTrips += 1

        var failure: PgError?
        var last = PgRows(columns: [], rows: [], affected: 0)
        for item in items {
            guard let result = PQgetResult(c) else { throw clientError(item.name, c) }
            let status = PQresultStatus(result)
            if status == PGRES_PIPELINE_ABORTED {
                PQclear(result)
            } else {
                switch outcome(of: result, name: item.name) {
                case .success(let rows): last = rows
                case .failure(let error): failure = failure ?? error
                }
            }
            // Each statement's results end with a null.
            while let extra = PQgetResult(c) { PQclear(extra) }
        }
        guard let sync = PQgetResult(c) else { throw clientError(items[0].name, c) }
        PQclear(sync)
        if let failure { throw failure }
        return last
    }

    /// Runs one blocking libpq call under the connection's deadline. A call that was cut
    /// throws, whatever libpq returned, and leaves the connection closed.
    private func guarded(_ c: OpaquePointer, _ name: String, _ call: () -> OpaquePointer?) throws(PgError) -> OpaquePointer? {
        let token = CallDeadlines.shared.begin(socket: PQsocket(c), timeout: callTimeout)
        let result = call()
        guard CallDeadlines.shared.end(token) else { return result }
        PQclear(result)
        close()
        throw PgError(sqlState: nil, statement: name, message: "no answer from the server within \(callTimeout)", connectionLost: true)
    }

    /// Leaves pipeline mode; when an error cut the reading short, reads up to a sync
    /// point first. A connection that cannot get out is closed: the next call reconnects.
    private func leavePipeline(_ c: OpaquePointer) {
        if PQexitPipelineMode(c) == 1 { return }
        _ = PQpipelineSync(c)
        for _ in 0..<10_000 {
            if PQexitPipelineMode(c) == 1 { return }
            guard PQstatus(c) == CONNECTION_OK else { break }
            if let result = PQgetResult(c) { PQclear(result) }
        }
        close()
    }

    private func clientError(_ name: String, _ c: OpaquePointer) -> PgError {
        let lost = PQstatus(c) != CONNECTION_OK
        if lost { prepared.removeAll() }
        return PgError(sqlState: nil, statement: name, message: String(cString: PQerrorMessage(c)).trimmingTrailingNewlines,
                       connectionLost: lost)
    }

    /// The rows of a call's whole result; a failure that ends the session closes the connection.
    private func take(_ result: OpaquePointer?, name: String) throws(PgError) -> PgRows {
        let outcome = outcome(of: result, name: name)
        if case .failure(let error) = outcome, error.connectionLost { close() }
        return try outcome.get()
    }

    private func outcome(of result: OpaquePointer?, name: String) -> Result<PgRows, PgError> {
        guard let conn else { return .failure(PgError(sqlState: nil, statement: name, message: "connection is closed", connectionLost: true)) }
        guard let result else { return .failure(clientError(name, conn)) }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return .success(copyRows(result))
        default:
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
                ?? String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines
            let lost = PQstatus(conn) != CONNECTION_OK || PgError.endsSession(state)
            if lost { prepared.removeAll() }
            return .failure(PgError(sqlState: state, statement: name, message: primary, connectionLost: lost))
        }
    }

    private func copyRows(_ result: OpaquePointer) -> PgRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            var row: [String?] = []
            row.reserveCapacity(columnCount)
            for c in 0..<columnCount {
                if PQgetisnull(result, Int32(r), Int32(c)) == 1 {
                    row.append(nil)
                } else {
                    row.append(String(cString: PQgetvalue(result, Int32(r), Int32(c))))
                }
            }
            rows.append(row)
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PgRows(columns: columns, rows: rows, affected: affected)
    }
}

/// A named SQL statement, prepared once per connection on first use.
public struct PgStatement: Sendable {
    /// The name it is prepared under and reported with in errors.
    public let name: String
    /// The SQL text with `$1…$n` parameters.
    public let sql: String

    /// Declares a statement; `name` must be unique among a connection's statements.
    public init(_ name: String, _ sql: String) {
        self.name = name
        self.sql = sql
    }
}

/// Lays out text parameters as libpq's `paramValues`, valid only inside `body`.
private func withParameters<R>(_ parameters: [String?], _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    var bytes: [UInt8] = []
    var offsets: [Int?] = []
    offsets.reserveCapacity(parameters.count)
    for parameter in parameters {
        if let parameter {
            offsets.append(bytes.count)
            bytes.append(contentsOf: parameter.utf8)
            bytes.append(0)
        } else {
            offsets.append(nil)
        }
    }
    bytes.append(0)
    return bytes.withUnsafeBytes { raw in
        let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
        let values: [UnsafePointer<CChar>?] = offsets.map { $0.map { base + $0 } }
        return values.withUnsafeBufferPointer { body(Int32(parameters.count), $0.baseAddress) }
    }
}

extension String {
    fileprivate var trimmingTrailingNewlines: String {
        var s = self
        while s.last == "\n" || s.last == " " { s.removeLast() }
        return s
    }
}

/// Text forms of PostgreSQL arrays for `unnest($n::text[])` parameters.
public enum PgArray {
    /// `{"a","b"}` with quotes and backslashes escaped; every element quoted so that
    /// empty strings, `NULL` and braces stay data.
    public static func text(_ values: some Sequence<String>) -> String {
        optionalText(values.lazy.map { Optional($0) })
    }

    /// As `text`, with `nil` elements as SQL `NULL`.
    public static func optionalText(_ values: some Sequence<String?>) -> String {
        // Built as bytes: this runs over every row of every batch, and long values (an
        // order's JSON facts) are full of quotes.
        var literal = ArrayLiteral(reserving: values.underestimatedCount * 16)
        for element in values {
            guard var value = literal.begin(element) else { continue }
            literal.bytes.append(UInt8(ascii: "\""))
            value.withUTF8 { bytes in
                // Most values (ids, SKUs) need no escaping: copied whole.
                guard bytes.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else {
                    literal.bytes.append(contentsOf: bytes)
                    return
                }
                for byte in bytes {
                    if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { literal.bytes.append(UInt8(ascii: "\\")) }
                    literal.bytes.append(byte)
                }
            }
            literal.bytes.append(UInt8(ascii: "\""))
        }
        return literal.closed()
    }

    /// `[d1,d2,…]`: JSON documents as one JSON array, for `json_array_elements($n::json)`.
    /// Each document goes in whole, without the escaping a `text[]` element needs, and
    /// PostgreSQL parses them all in one pass. `documents` must each be valid JSON.
    ///
    /// Read it as `json` (casting each element to `jsonb` where a `jsonb` is wanted):
    /// `jsonb_array_elements($n::jsonb)` builds the whole array as one `jsonb` first, which
    /// takes time growing faster than the array's size.
    public static func json(_ documents: some Sequence<String>) -> String {
        var out = "["
        out.reserveCapacity(documents.underestimatedCount * 512 + 2)
        var first = true
        for document in documents {
            if !first { out += "," }
            first = false
            out += document
        }
        return out + "]"
    }

    /// `{1,2,3}` for integer arrays.
    public static func integers(_ values: some Sequence<Int64>) -> String {
        optionalIntegers(values.lazy.map { Optional($0) })
    }

    /// As `integers`, with `nil` elements as SQL `NULL`.
    public static func optionalIntegers(_ values: some Sequence<Int64?>) -> String {
        var literal = ArrayLiteral(reserving: values.underestimatedCount * 8)
        for element in values {
            if let value = literal.begin(element) { literal.bytes += String(value).utf8 }
        }
        return literal.closed()
    }

    /// The bytes of a `{e1,e2,…}` array literal being written: the braces, the commas and
    /// the `NULL`s; the caller writes each element's text form into `bytes`.
    private struct ArrayLiteral {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        private var first = true

        /// Reserves room for the elements' `count` bytes and the braces.
        init(reserving count: Int) { bytes.reserveCapacity(count + 2) }

        /// Starts the next element, after a comma unless it is the first: writes `NULL` for
        /// `nil` and returns nil, else returns `element` for the caller to write.
        mutating func begin<Element>(_ element: Element?) -> Element? {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            if element == nil { bytes += "NULL".utf8 }
            return element
        }

        /// The literal, closed with `}`.
        mutating func closed() -> String {
            bytes.append(UInt8(ascii: "}"))
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// `{t,f}` for boolean arrays.
    public static func booleans(_ values: some Sequence<Bool>) -> String {
        "{" + values.map { $0 ? "t" : "f" }.joined(separator: ",") + "}"
    }
}

/// Lays out `strings` as a NULL-terminated array of C strings, valid only inside `body`.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    var bytes: [UInt8] = []
    var offsets: [Int] = []
    for string in strings {
        offsets.append(bytes.count)
        bytes.append(contentsOf: string.utf8)
        bytes.append(0)
    }
    return bytes.withUnsafeBytes { raw in
        let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
        let pointers: [UnsafePointer<CChar>?] = offsets.map { base + $0 } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

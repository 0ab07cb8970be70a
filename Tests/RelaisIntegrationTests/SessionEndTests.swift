import Foundation
import PostgresClient
import RelaisDomain
import RelaisQueue
import RelaisStore
import RelaisTestSupport
import Testing

@Suite("PostgreSQL sessions: read-only and terminated sessions end like lost connections; settings through a pooler", .serialized)
struct SessionEndTests {
    @Test func theErrorsThatEndASessionAreTheReconnectingKind() {
        for state in ["25006", "57P01", "57P02", "57P03", "08006", "08P01"] { #expect(PgError.endsSession(state), "\(state)") }
        for state in ["40001", "40P01", "55P03", "23505", "42P01", "57014", "22P02"] { #expect(!PgError.endsSession(state), "\(state)") }
        #expect(!PgError.endsSession(nil))
    }

    /// A write refused with 25006 (the server became a standby or was fenced) is thrown
    /// as a lost connection: the consumer reconnects (and finds the new primary) with the
    /// batch pending, instead of counting an attempt or dead-lettering the jobs.
    @Test func aReadOnlyServerEndsTheSessionInsteadOfFailingTheJobs() throws {
        let url = try TestServers.makeDatabase()
        let name = String(url.split(separator: "/").last!)
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) {
            _ = try $0.execute("ALTER DATABASE \(name) SET default_transaction_read_only = on", name: "fence")
        }
        let processor = try StockProcessor(conninfo: url, queue: "stock")
        defer { processor.close() }
        let jobs = try (1...3).map { try adjustJob("ro-\($0)", shop: "s", sku: "a", delta: 1) }
        #expect {
            _ = try processor.process(jobs)
        } throws: { error in
            guard let error = error as? PgError else { return false }
            return error.sqlState == "25006" && error.connectionLost
        }
        let direct = try PgConnection(url)
        defer { direct.close() }
        #expect(throws: PgError.self) { try direct.query("CREATE TABLE relais.nothing (x int)", name: "write") }
        #expect(!direct.isOpen, "the connection that met 25006 is closed: the next call reconnects")
    }

    /// A session ended by the server (`pg_terminate_backend`, as at a primary's fast
    /// shutdown: 57P01) throws as a lost connection; no job is handed to its retry schedule.
    @Test func aTerminatedSessionIsALostConnectionNotARetry() throws {
        let url = try TestServers.makeDatabase()
        let name = String(url.split(separator: "/").last!)
        let processor = try StockProcessor(conninfo: url, queue: "stock")
        defer { processor.close() }
        #expect(try processor.process([try adjustJob("warm", shop: "s", sku: "a", delta: 1)]) == [.done])
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) { admin in
            try admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name], name: "terminate")
            #expect(try eventually(timeout: .seconds(10)) {
                try admin.query("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", [name], name: "left").scalar == "0"
            })
        }
        let jobs = try (1...3).map { try adjustJob("t-\($0)", shop: "s", sku: "a", delta: 1) }
        #expect {
            _ = try processor.process(jobs)
        } throws: { error in
            (error as? PgError)?.connectionLost == true
        }
        let after = try StockProcessor(conninfo: url, queue: "stock")
        defer { after.close() }
        #expect(try after.process(jobs) == [.done, .done, .done], "nothing of the batch took effect before")
    }

    /// Through PgBouncer in transaction mode a connection is recognised as pooled; its
    /// session settings hold in every round trip and transaction of its own, and stay off
    /// the shared server connections. A direct connection is not taken for a pooled one.
    @Test func sessionSettingsGoWithEachTransactionThroughAPooler() throws {
        let url = try TestServers.makeDatabase()
        let name = String(url.split(separator: "/").last!)
        let admin = try #require(URLComponents(string: try TestServers.adminDatabaseURL))
        let bouncer = try PgBouncer(serverPort: try #require(admin.port), poolMode: "transaction", poolSize: 1)
        defer { bouncer.stop() }

        let direct = try PgConnection(url)
        defer { direct.close() }
        #expect(!direct.isPooled)
        try direct.setSessionSetting("lock_timeout", "1234ms")
        #expect(try direct.query("SELECT current_setting('lock_timeout')", name: "read").scalar == "1234ms")

        let pooled = try PgConnection(bouncer.url(name))
        defer { pooled.close() }
        let other = try PgConnection(bouncer.url(name))
        defer { other.close() }
        #expect(pooled.isPooled)
        try pooled.setSessionSetting("lock_timeout", "1234ms")
        try pooled.setSessionSetting("synchronous_commit", "off")
        let read = PgStatement("test.read-settings", "SELECT current_setting('lock_timeout') || ' ' || current_setting('synchronous_commit')")
        for _ in 0..<3 {
            #expect(try pooled.query("SELECT current_setting('lock_timeout') || ' ' || current_setting('synchronous_commit')",
                                     name: "read").scalar == "1234ms off")
            #expect(try pooled.run(read, []).scalar == "1234ms off", "a named statement works through the pooler")
            let inTransaction = try pooled.transaction { () throws -> [String?] in
                let first = try pooled.run(read, []).scalar
                try pooled.query("SELECT 1", name: "between")
                return [first, try pooled.run(read, []).scalar]
            }
            #expect(inTransaction == ["1234ms off", "1234ms off"])
            // The one server connection both clients share carries none of it.
            #expect(try other.query("SELECT current_setting('lock_timeout')", name: "other").scalar == "0")
        }
    }
}

import Foundation
import PostgresClient
import RedisClient
import RelaisTestSupport
import Testing

/// Connection strings carry passwords: a mistyped one is refused, and nothing of it is
/// repeated in the reason.
@Suite("Connection strings: refused when they cannot work, never quoted")
struct ConnectionStringTests {
    @Test(arguments: [
        "postgresql//relais:S3cretPW@127.0.0.1/relais",  // "://" mistyped: libpq reads key=value settings
        "postgresql://relais:S3c%zzretPW@127.0.0.1/relais",  // a bad % escape
        "postgresql://relais:S3cretPW@127.0.0.1/relais?sslmode",  // a query parameter without "="
        "postgresql://relais:S3cretPW@[::1/relais",  // an unterminated IPv6 address
        "postgresql://relais:S3cretPW@127.0.0.1/relais?S3cretPW=1",  // an unknown option
        "host=127.0.0.1 password='S3cretPW",  // an unterminated quoted value
        "postgresql://relais:S3cretPW@127.0.0.1/relais?sslmode=S3cretPW",  // a value libpq checks only when connecting
        "postgresql://relais:S3cretPW@127.0.0.1/relais?target_session_attrs=S3cret",
        "host=127.0.0.1 password=S3cretPW connect_timeout=S3c",
    ])
    func libpqRefusesAMistypedConnectionStringAndTheReasonQuotesNothing(_ conninfo: String) {
        // Refused before any connection is tried: the reason is a configuration error,
        // not an unreachable database.
        let problem = PgConnectionString.problem(conninfo)
        #expect(problem != nil, "libpq accepted \(conninfo)")
        for part in ["S3c", "zzret", "relais", "127.0.0.1"] {
            #expect(problem?.contains(part) == false, "the reason quotes \(part): \(problem ?? "")")
        }
    }

    @Test(arguments: [
        "postgresql://relais:S3cretPW@127.0.0.1:5432/relais",
        "postgresql://relais:S3c%25ret@127.0.0.1/relais?connect_timeout=2",
        "postgres:///relais",
        "host=127.0.0.1 port=5432 dbname=relais user=relais password='S3c ret'",
        "postgresql://relais@127.0.0.1/relais?sslmode=verify-full&target_session_attrs=read-write&connect_timeout=10",
    ])
    func wellFormedConnectionStringsAreAccepted(_ conninfo: String) {
        #expect(PgConnectionString.problem(conninfo) == nil)
    }

    @Test func aConnectFailureRepeatsNothingOfTheConnectionString() throws {
        // A database named like a secret: the server's "database "…" does not exist" would quote it.
        let url = try TestServers.databaseURL("s3cretpw_\(TestServers.randomSuffix())")
        let error = #expect(throws: PgError.self) { try PgConnection(url).close() }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains("does not exist"), "libpq's reason is kept: \(text)")
        #expect(!text.contains("s3cretpw"), "the database name is quoted: \(text)")
    }

    @Test func aRedisURLWhosePasswordDoesNotDecodeIsRefused() {
        let error = #expect(throws: RedisURLError.self) { try RedisEndpoint(url: "redis://:S3c%zzretPW@127.0.0.1:6379/0") }
        #expect(error?.reason.contains("%") == true, "\(String(describing: error))")
        #expect(error.map { "\($0)" }?.contains("S3c") == false, "\(String(describing: error))")
        #expect(throws: RedisURLError.self) { try RedisEndpoint(url: "redis://us%zzer:S3cretPW@127.0.0.1:6379/0") }
        let bad = #expect(throws: RedisURLError.self) { try RedisEndpoint(url: "redis://:S3cretPW@127.0.0.1:6379/S3cretPW") }
        #expect(bad.map { "\($0)" }?.contains("S3c") == false, "\(String(describing: bad))")
    }

    @Test func aRedisURLWithEscapesDecodesOnce() throws {
        let endpoint = try RedisEndpoint(url: "redis://relais:p%40ss%2541@127.0.0.1:6380/2")
        #expect(endpoint.password == "p@ss%41")
        #expect(endpoint.username == "relais")
        #expect(endpoint.port == 6380 && endpoint.database == 2)
        #expect(!endpoint.description.contains("p@ss"))
    }
}

import Foundation
import PostgresClient
import RedisClient
import RelaisStore

/// The throwaway Redis and PostgreSQL that `scripts/test` starts, and an isolated
/// database or key prefix for each test.
public enum TestServers {
    /// Why the servers are not there, for the failure message.
    static let hint = "start them with scripts/test (or `eval \"$(scripts/servers start)\"` and export RELAIS_TEST_REDIS_URL / RELAIS_TEST_DATABASE_URL)"

    /// The test Redis.
    public static var redisURL: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["RELAIS_TEST_REDIS_URL"] else {
                throw TestSetupError("RELAIS_TEST_REDIS_URL is not set: \(hint)")
            }
            return url
        }
    }

    /// The test Redis as an endpoint.
    public static var redis: RedisEndpoint {
        get throws { try RedisEndpoint(url: try redisURL) }
    }

    /// The maintenance database of the test PostgreSQL (a `postgresql://` URL).
    public static var adminDatabaseURL: String {
        get throws {
            guard let url = ProcessInfo.processInfo.environment["RELAIS_TEST_DATABASE_URL"] else {
                throw TestSetupError("RELAIS_TEST_DATABASE_URL is not set: \(hint)")
            }
            return url
        }
    }

    /// A fresh database, migrated unless told otherwise; returns its URL.
    public static func makeDatabase(migrated: Bool = true) throws -> String {
        let admin = try PgConnection(try adminDatabaseURL)
        defer { admin.close() }
        let name = "t_" + randomSuffix()
        try admin.execute("CREATE DATABASE \(name)", name: "create test database")
        let url = try databaseURL(name)
        if migrated {
            let db = try PgConnection(url)
            defer { db.close() }
            try Migrator().migrate(db)
        }
        return url
    }

    /// The URL of database `name` on the test server.
    public static func databaseURL(_ name: String) throws -> String {
        let admin = try adminDatabaseURL
        guard let slash = admin.range(of: "/", options: .backwards) else { throw TestSetupError("bad RELAIS_TEST_DATABASE_URL") }
        return admin[..<slash.upperBound] + name
    }

    /// A key prefix no other test uses.
    public static func makePrefix() -> String { "t" + randomSuffix() }

    /// Twelve random lower-case letters and digits.
    public static func randomSuffix() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<12).map { _ in alphabet.randomElement()! })
    }

    /// Runs `body` with a connection to `url`, closing it afterwards.
    public static func withDatabase<R>(_ url: String, _ body: (PgConnection) throws -> R) throws -> R {
        let db = try PgConnection(url)
        defer { db.close() }
        return try body(db)
    }

    /// Runs `body` with a connection to the test Redis, closing it afterwards.
    public static func withRedis<R>(_ body: (RedisConnection) throws -> R) throws -> R {
        let redis = try RedisConnection(try TestServers.redis)
        defer { redis.close() }
        return try body(redis)
    }
}

/// The test environment is not set up.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
public func eventually(timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(100),
                       _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: interval.seconds)
    }
    return try condition()
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

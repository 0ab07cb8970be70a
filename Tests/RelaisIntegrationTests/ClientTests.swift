import Foundation
import PostgresClient
import RedisClient
import RelaisTestSupport
import Testing

@Suite("hiredis wrapper against a real Redis")
struct RedisClientTests {
    @Test func commandsAndPipelinesRoundTrip() throws {
        try TestServers.withRedis { redis throws in
            let key = TestServers.makePrefix()
            #expect(try redis.command("SET", key, "v1") == .status("OK"))
            #expect(try redis.command("GET", key).string == "v1")
            let replies = try redis.pipeline([["INCR", key + ":n"], ["INCR", key + ":n"], ["GET", key + ":missing"]])
            #expect(replies == [.integer(1), .integer(2), .null])
            try redis.command("DEL", key, key + ":n")
        }
    }

    @Test func valuesAreBinarySafe() throws {
        try TestServers.withRedis { redis throws in
            let key = TestServers.makePrefix()
            let bytes: [UInt8] = [0, 1, 0xff, 0xfe, 10, 13, 0]
            _ = try redis.pipeline(binary: [[Array("SET".utf8), Array(key.utf8), bytes]])
            #expect(try redis.command("GET", key) == .bulk(bytes))
            try redis.command("DEL", key)
        }
    }

    @Test func errorReplyIsThrownWithTheCommandName() throws {
        try TestServers.withRedis { redis throws in
            let key = TestServers.makePrefix()
            try redis.command("SET", key, "text")
            do {
                try redis.command("INCR", key)
                Issue.record("INCR of a string did not fail")
            } catch let error as RedisError {
                #expect(error.kind == .server)
                #expect(error.command == "INCR")
                #expect(error.message.contains("not an integer"))
            }
            #expect(redis.isOpen, "a server error leaves the connection usable")
            try redis.command("DEL", key)
        }
    }

    @Test func unreachableServerIsAConnectionError() {
        let endpoint = try! RedisEndpoint(url: "redis://127.0.0.1:\(freePort())/0")
        do {
            let redis = try RedisConnection(endpoint, connectTimeout: .seconds(1))
            redis.close()
            Issue.record("connected to a port nothing listens on")
        } catch {
            #expect(error.kind == .connection)
        }
    }

    @Test(arguments: [
        ("redis://127.0.0.1:6380/2", "127.0.0.1", 6380, nil as String?, 2),
        ("redis://:s3cret@cache.local:6379", "cache.local", 6379, "s3cret", 0),
        ("redis://localhost", "localhost", 6379, nil, 0),
    ])
    func redisURLsAreParsed(url: String, host: String, port: Int, password: String?, db: Int) throws {
        let endpoint = try RedisEndpoint(url: url)
        #expect(endpoint.host == host && endpoint.port == port && endpoint.password == password && endpoint.database == db)
        #expect(!endpoint.description.contains("s3cret"), "the password never shows in descriptions")
    }

    @Test func badRedisURLIsRefused() {
        #expect(throws: RedisURLError.self) { try RedisEndpoint(url: "http://x") }
        #expect(throws: RedisURLError.self) { try RedisEndpoint(url: "redis://h:6379/db") }
    }
}

@Suite("libpq wrapper against a real PostgreSQL")
struct PostgresClientTests {
    @Test func rowsAndNullsAreCopiedOut() throws {
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) { db throws in
            let rows = try db.query("SELECT $1::int + 1 AS n, NULL::text AS nothing, 'é' AS text", ["41"], name: "test")
            #expect(rows.columns == ["n", "nothing", "text"])
            #expect(rows.rows == [["42", nil, "é"]])
            #expect(rows.value(0, "n") == "42")
        }
    }

    @Test func errorCarriesSQLStateAndStatementName() throws {
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) { db throws in
            try db.execute("CREATE TEMP TABLE t (id int PRIMARY KEY)", name: "create")
            try db.run(PgStatement("t.insert", "INSERT INTO t VALUES ($1)"), ["1"])
            do {
                try db.run(PgStatement("t.insert", "INSERT INTO t VALUES ($1)"), ["1"])
                Issue.record("a duplicate key was accepted")
            } catch let error as PgError {
                #expect(error.sqlState == "23505")
                #expect(error.statement == "t.insert")
                #expect(!error.connectionLost)
                #expect(!error.isTransient)
                #expect(error.description.hasPrefix("PostgreSQL t.insert [23505]"))
            }
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) { db throws in
            try db.execute("CREATE TEMP TABLE t (id int)", name: "create")
            struct Stop: Error {}
            #expect(throws: Stop.self) {
                try db.transaction {
                    try db.query("INSERT INTO t VALUES (1)", name: "insert")
                    throw Stop()
                }
            }
            #expect(try db.query("SELECT count(*) FROM t", name: "count").scalar == "0")
        }
    }

    @Test func queuedStatementsRunInOrderWithTheNextOneAndWithCommit() throws {
        let insert = PgStatement("t.insert", "INSERT INTO t VALUES ($1)")
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) { db throws in
            try db.execute("CREATE TEMP TABLE t (n int)", name: "create")
            db.send(insert, ["1"])
            db.send(insert, ["2"])
            #expect(try db.query("SELECT string_agg(n::text, ',') FROM t", name: "read").scalar == "1,2")
            try db.transaction { () throws in
                db.send(insert, ["3"])
                #expect(try db.run(PgStatement("t.count", "SELECT count(*) FROM t"), []).scalar == "3")
                db.send(insert, ["4"])
            }
            #expect(try db.query("SELECT string_agg(n::text, ',' ORDER BY n) FROM t", name: "read").scalar == "1,2,3,4")
        }
    }

    @Test func aTransactionOfQueuedStatementsIsOneRoundTrip() throws {
        let insert = PgStatement("t.insert", "INSERT INTO t VALUES ($1)")
        let count = PgStatement("t.count", "SELECT count(*) FROM t")
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) { db throws in
            try db.execute("CREATE TEMP TABLE t (n int)", name: "create")
            try db.transaction { () throws in db.send(insert, ["1"]) }
            _ = try db.run(count, [])
            var before = db.roundTrips
            try db.transaction { () throws in
                db.send(insert, ["2"])
                db.send(insert, ["3"])
            }
            #expect(db.roundTrips == before + 1, "BEGIN, the inserts and COMMIT in one pipeline")
            before = db.roundTrips
            try db.transaction { () throws in
                db.send(insert, ["4"])
                #expect(try db.run(count, []).scalar == "4")
            }
            #expect(db.roundTrips == before + 2, "a statement whose rows are needed costs one more")
        }
    }

    @Test func aFailingQueuedStatementIsThrownByNameAndRollsTheTransactionBack() throws {
        let insert = PgStatement("t.insert", "INSERT INTO t VALUES ($1)")
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) { db throws in
            try db.execute("CREATE TEMP TABLE t (n int PRIMARY KEY)", name: "create")
            do {
                try db.transaction { () throws in
                    db.send(insert, ["1"])
                    db.send(PgStatement("t.insert-again", "INSERT INTO t VALUES ($1)"), ["1"])
                    db.send(insert, ["2"])
                }
                Issue.record("a duplicate key was accepted")
            } catch let error as PgError {
                #expect(error.statement == "t.insert-again")
                #expect(error.sqlState == "23505")
                #expect(!error.connectionLost)
            }
            #expect(try db.query("SELECT count(*) FROM t", name: "count").scalar == "0", "nothing of the transaction stays")
            db.send(insert, ["5"])
            #expect(try db.run(PgStatement("t.count", "SELECT count(*) FROM t"), []).scalar == "1", "the connection goes on working")
        }
    }

    @Test func textArraysSurviveQuotesBackslashesAndBraces() throws {
        let values = ["plain", "with \"quotes\"", "back\\slash", "{braces}", "a,b", "", "NULL", "é 🥖", " spaced "]
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) { db throws in
            let rows = try db.query("SELECT unnest($1::text[])", [PgArray.text(values)], name: "unnest")
            #expect(rows.rows.map { $0[0] } == values)
            let numbers: [Int64] = [1, -2, 9_000_000_000, 0, Int64.min, Int64.max]
            let ints = try db.query("SELECT unnest($1::int8[])", [PgArray.integers(numbers)], name: "unnest ints")
            #expect(ints.rows.map { $0[0] } == numbers.map { String($0) })
            let optional = try db.query("SELECT unnest($1::int8[])", [PgArray.optionalIntegers([nil, 7])], name: "unnest optional ints")
            #expect(optional.rows.map { $0[0] } == [nil, "7"])
        }
    }

    @Test func jsonDocumentsTravelAsOneArrayInTheirOrder() throws {
        let documents = [#"{"name":"Le \"Fournil\"","items":[1,2]}"#, #"{"path":"a\\b","note":"é 🥖"}"#, "[]", #""text""#, "null"]
        try TestServers.withDatabase(try TestServers.adminDatabaseURL) { db throws in
            let rows = try db.query("SELECT d::text, n FROM json_array_elements($1::json) WITH ORDINALITY AS e(d, n)",
                                    [PgArray.json(documents)], name: "elements")
            #expect(rows.rows.map { $0[1] } == ["1", "2", "3", "4", "5"])
            let same = try db.query("SELECT bool_and(d::jsonb = o::jsonb) FROM ROWS FROM (json_array_elements($1::json), unnest($2::text[])) AS e(d, o)",
                                    [PgArray.json(documents), PgArray.text(documents)], name: "compare")
            #expect(same.scalar == "t", "each element is the document as PostgreSQL reads it alone")
            #expect(try db.query("SELECT json_array_length($1::json)", [PgArray.json([String]())], name: "empty").scalar == "0")
        }
    }

    @Test func unreachableServerIsAConnectionLoss() {
        do {
            let db = try PgConnection("postgresql://relais@127.0.0.1:\(freePort())/relais?connect_timeout=2")
            db.close()
            Issue.record("connected to a port nothing listens on")
        } catch {
            #expect(error.connectionLost)
            #expect(error.statement == "connect")
        }
    }
}

import Foundation
import PostgresClient
import RelaisStore
import RelaisTestSupport
import Testing

@Suite("Migrations against a real PostgreSQL")
struct MigratorTests {
    @Test func freshDatabaseIsBehindUntilMigratedAndMigratingTwiceIsANoOp() throws {
        let url = try TestServers.makeDatabase(migrated: false)
        try TestServers.withDatabase(url) { db throws in
            #expect(try Migrator().state(db) == .behind(found: 0, expected: Schema.expectedVersion))
            #expect(try Migrator().migrate(db) == Schema.migrations.map(\.version))
            #expect(try Migrator().state(db) == .current(Schema.expectedVersion))
            #expect(try Migrator().migrate(db) == [])
            #expect(try db.query("SELECT count(*) FROM relais.stock_available", name: "view").scalar == "0")
        }
    }

    @Test func twoInstancesMigratingAtOnceApplyEachVersionOnce() async throws {
        let url = try TestServers.makeDatabase(migrated: false)
        async let first = migrateOnOwnThread(url)
        async let second = migrateOnOwnThread(url)
        let applied = try await [first, second]
        #expect(applied.flatMap { $0 }.sorted() == Schema.migrations.map(\.version), "each version applied by exactly one")
        try TestServers.withDatabase(url) { db throws in
            #expect(try db.query("SELECT count(*) FROM relais.schema_migrations", name: "count").scalar == "\(Schema.migrations.count)")
        }
    }

    /// Version 4 turns the orders' details and the messages' facts from `jsonb` into
    /// `json`: a database at version 3 keeps what it holds, and relais reads it back.
    @Test func ordersAndMessagesWrittenAtVersionThreeSurviveTheUpgrade() throws {
        let url = try TestServers.makeDatabase(migrated: false)
        try TestServers.withDatabase(url) { db throws in
            #expect(try Migrator().migrate(db, upTo: 3) == [1, 2, 3])
            let details = #"{"order_id": "o1", "items": [{"sku": "pomme", "quantity": 2}], "customer": {"name": "Léa"}}"#
            let facts = #"{"order_id": "o1", "shop_name": "Primeur \"Chez Léa\"", "total_cents": 250}"#
            try db.query("INSERT INTO relais.orders (order_id, shop_id, status, details, placed_at) VALUES ('o1', 's1', 'placed', $1::jsonb, now())",
                         [details], name: "order")
            try db.query("INSERT INTO relais.outbox (order_id, recipient, channel, template, facts) VALUES ('o1', 'shop', 'email', 'order-placed-shop', $1::jsonb)",
                         [facts], name: "message")

            #expect(try Migrator().migrate(db) == Schema.migrations.map(\.version).filter { $0 > 3 })
            let types = try db.query("""
                SELECT string_agg(format('%s.%s %s', table_name, column_name, data_type), ', ' ORDER BY table_name)
                FROM information_schema.columns
                WHERE table_schema = 'relais' AND table_name IN ('orders', 'outbox') AND column_name IN ('details', 'facts')
                """, name: "types").scalar
            #expect(types == "orders.details json, outbox.facts json")
            #expect(try db.query("SELECT details::jsonb = $1::jsonb FROM relais.orders", [details], name: "details").scalar == "t")
            #expect(try db.query("SELECT facts::jsonb = $1::jsonb FROM relais.outbox", [facts], name: "facts").scalar == "t")
        }
    }

    /// Version 5 gives messages their shop, for the claim's turns: pending messages get
    /// the shop of their facts; sent ones, which no claim reads, keep the empty default.
    @Test func pendingMessagesWrittenAtVersionFourGetTheirShop() throws {
        let url = try TestServers.makeDatabase(migrated: false)
        try TestServers.withDatabase(url) { db throws in
            #expect(try Migrator().migrate(db, upTo: 4) == [1, 2, 3, 4])
            for (order, status, shop) in [("o1", "pending", "boulangerie-17"), ("o2", "sent", "primeur-3")] {
                try db.query("""
                    INSERT INTO relais.outbox (order_id, recipient, channel, template, facts, status)
                    VALUES ($1, 'customer', 'sms', 'order-ready-customer', json_build_object('order_id', $1::text, 'shop_id', $3::text), $2)
                    """, [order, status, shop], name: "message")
            }
            #expect(try Migrator().migrate(db) == Schema.migrations.map(\.version).filter { $0 > 4 })
            let shops = try db.query("SELECT order_id || ':' || shop_id FROM relais.outbox ORDER BY order_id", name: "shops").rows.map { $0[0] ?? "" }
            #expect(shops == ["o1:boulangerie-17", "o2:"])
        }
    }

    @Test func schemaAheadOfThisBuildIsRefused() throws {
        let url = try TestServers.makeDatabase()
        try TestServers.withDatabase(url) { db throws in
            try db.query("INSERT INTO relais.schema_migrations (version, name) VALUES (999, 'from the future')", name: "future")
            let state = try Migrator().state(db)
            #expect(state == .ahead(found: 999, expected: Schema.expectedVersion))
            #expect(state.explanation.contains("newer relais"))
            #expect(throws: MigrationError.self) { try Migrator().migrate(db) }
        }
    }

    private func migrateOnOwnThread(_ url: String) async throws -> [Int] {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try TestServers.withDatabase(url) { try Migrator().migrate($0) } })
            }.start()
        }
    }
}

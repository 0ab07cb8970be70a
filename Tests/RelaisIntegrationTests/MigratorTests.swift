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

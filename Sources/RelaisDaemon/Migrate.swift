import ArgumentParser
import PostgresClient
import RelaisStore

/// `relais migrate`: bring the database schema to this build's version.
struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply pending schema migrations (safe to run from several instances at once).")

    func run() throws {
        let configuration = try loadConfiguration()
        let db: PgConnection
        do { db = try PgConnection(configuration.databaseURL) } catch {
            throw fail("cannot reach PostgreSQL: \(error)", ExitStatus.unavailable)
        }
        defer { db.close() }
        do {
            let applied = try Migrator().migrate(db)
            if applied.isEmpty {
                print("schema already at version \(Schema.expectedVersion)")
            } else {
                print("applied migrations \(applied.map(String.init).joined(separator: ", ")); schema at version \(Schema.expectedVersion)")
            }
        } catch let error as MigrationError {
            throw fail(error.description, ExitStatus.config)
        } catch {
            throw fail("migration failed: \(error)", ExitStatus.software)
        }
    }
}

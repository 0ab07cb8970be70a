import PostgresClient

/// The store's housekeeping: deleting ledger rows, stock adjustments and sent messages
/// past their retention, in chunks.
///
/// Each chunk is its own short transaction, so a large backlog of old rows never holds
/// locks or a connection for long, and a stop request is honoured between chunks.
public enum Maintenance {
    /// Rows deleted per statement.
    public static let chunk = 5_000

    /// What one pass deleted.
    public struct Pruned: Sendable, Equatable {
        /// Ledger rows (job ids that may be reused now).
        public var ledger = 0
        /// Stock adjustments that no longer matter.
        public var adjustments = 0
        /// Sent or failed messages.
        public var messages = 0
        /// Whether anything was deleted.
        public var isEmpty: Bool { ledger + adjustments + messages == 0 }
    }

    /// Deletes everything older than `retention` (a PostgreSQL interval such as `30
    /// days`), chunk by chunk, until nothing is left or `isStopping` says so.
    public static func prune(_ db: PgConnection, retention: String, chunk: Int = chunk,
                             isStopping: () -> Bool = { false }) throws -> Pruned {
        var pruned = Pruned()
        func drain(_ step: () throws -> Int) throws -> Int {
            var total = 0
            while !isStopping() {
                let deleted = try step()
                total += deleted
                if deleted < chunk { break }
            }
            return total
        }
        pruned.ledger = try drain { try IdempotencyLedger.prune(db, retention: retention, limit: chunk) }
        pruned.adjustments = try drain { try StockMaintenance.prune(db, retention: retention, limit: chunk) }
        pruned.messages = try drain { try Outbox.prune(db, retention: retention, limit: chunk) }
        return pruned
    }
}

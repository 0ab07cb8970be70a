import Foundation
import Logging
import PostgresClient
import RelaisStore
import RelaisWorkers

/// Prunes the store (see `Maintenance`) on a thread of its own, once a minute after the
/// start and then every hour: away from the health monitor, whose thread feeds the
/// systemd watchdog and must never wait on a long delete.
struct MaintenanceLoop: Sendable {
    let databaseURL: String
    let retention: String
    let logger: Logger
    /// Time between two passes.
    var interval: Duration = .seconds(3600)

    /// The loop: a pass when one is due, until `stop` is set (a pass stops between chunks).
    func run(until stop: StopSignal) {
        var db: PgConnection?
        var next = ContinuousClock.now + .seconds(60)
        defer { db?.close() }
        while !stop.sleep(until: next) {
            do {
                if db == nil { db = try PgConnection(databaseURL) }
                let pruned = try Maintenance.prune(db!, retention: retention, isStopping: { stop.isSet })
                if !pruned.isEmpty {
                    logger.info("store pruned", metadata: [
                        "ledger": "\(pruned.ledger)", "adjustments": "\(pruned.adjustments)", "messages": "\(pruned.messages)",
                    ])
                }
                next = .now + interval
            } catch {
                logger.warning("pruning failed, trying again in a minute", metadata: ["error": "\(error)"])
                db?.close()
                db = nil
                next = .now + .seconds(60)
            }
        }
    }
}

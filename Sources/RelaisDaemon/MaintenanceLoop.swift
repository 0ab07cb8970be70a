import Foundation
import Logging
import PostgresClient
import RelaisStore
import RelaisWorkers

/// Prunes the store (see `Maintenance`) on a thread of its own, once a minute after the
/// start and then every hour: away from the health monitor, whose thread feeds the
/// systemd watchdog and must never wait on a long delete. Between passes it gives the
/// memory the threads freed back to the system (`MemoryTrim`).
struct MaintenanceLoop: Sendable {
    let databaseURL: String
    let retention: String
    let logger: Logger
    /// Time between two passes.
    var interval: Duration = .seconds(3600)
    /// Time between two trims of the freed memory.
    var trimInterval: Duration = .seconds(10)

    /// The loop: a pass when one is due, until `stop` is set (a pass stops between chunks).
    func run(until stop: StopSignal) {
        var db: PgConnection?
        var next = ContinuousClock.now + .seconds(60)
        var nextTrim = ContinuousClock.now + trimInterval
        defer { db?.close() }
        while !stop.sleep(until: min(next, nextTrim)) {
            if ContinuousClock.now >= nextTrim {
                MemoryTrim.run()
                nextTrim = .now + trimInterval
            }
            guard ContinuousClock.now >= next else { continue }
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

/// Gives the memory freed by every thread back to the system (glibc's `malloc_trim`).
///
/// Each consumer, sender and scheduler thread allocates in an arena of glibc's own, which
/// keeps what it freed for the thread's next batch: with a consumer per queue and worker,
/// the arenas of queues that were busy a while ago held the daemon's resident memory above
/// what its work needs now. Called on the maintenance thread every few seconds.
enum MemoryTrim {
    /// `malloc_trim`, looked up once: Swift's Glibc module does not declare it.
    private static let trim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    /// Trims every arena; nothing where the C library has no `malloc_trim`.
    static func run() { _ = trim?(0) }
}

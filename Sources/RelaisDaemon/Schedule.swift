import Foundation
import Logging
import RelaisDomain
import RelaisStore

/// The durable schedule, run on a thread of its own: fires due pickup reminders and
/// expires ready orders whose deadline passed. Each round goes on at once while there
/// is more to do (after downtime it catches up, oldest first), then waits half a second.
struct ScheduleLoop: Sendable {
    let databaseURL: String
    let channels: Set<Channel>
    let rules: ReminderRules
    let logger: Logger
    /// Reminders fired and orders expired per transaction.
    let batch = 1000
    /// Threads running the loop; each has its own connection.
    static let threads = 2

    func run(isStopping: @Sendable () -> Bool) {
        var schedule: ReminderScheduler?
        var failures = 0
        while !isStopping() {
            do {
                if schedule == nil { schedule = try ReminderScheduler(conninfo: databaseURL, channels: channels, rules: rules) }
                let round = try schedule!.fireDue(limit: batch)
                let expired = try schedule!.expireDue(limit: batch)
                failures = 0
                if round.claimed > 0 {
                    logger.info("reminders fired", metadata: [
                        "sent": "\(round.sent)", "skipped": "\(round.skipped)", "postponed": "\(round.postponed)",
                    ])
                }
                if expired > 0 { logger.info("orders expired", metadata: ["count": "\(expired)"]) }
                if round.claimed == batch || expired == batch { continue }
            } catch {
                failures += 1
                if failures == 1 || failures % 60 == 0 { logger.warning("scheduler paused", metadata: ["error": "\(error)"]) }
                schedule?.close()
                schedule = nil
            }
            let deadline = Date().addingTimeInterval(0.5)
            while Date() < deadline && !isStopping() { Thread.sleep(forTimeInterval: 0.05) }
        }
        schedule?.close()
    }
}

import Foundation
import Logging
import RelaisDomain
import RelaisStore
import RelaisWorkers

/// The durable schedule, run on a thread of its own: fires due pickup reminders and
/// expires ready orders whose deadline passed. Each round goes on at once while there
/// is more to do (after downtime it catches up, oldest first), then waits half a second;
/// after a failure, it waits out a `Backoff` (100 ms growing to 5 s) and connects again.
struct ScheduleLoop: Sendable {
    let databaseURL: String
    let channels: Set<Channel>
    let rules: ReminderRules
    let logger: Logger
    /// Reminders fired and orders expired per transaction.
    let batch = 1000
    /// Threads running the loop; each has its own connection.
    static let threads = 2

    /// The loop: rounds until `stop` is set; after a failure, a new connection after a backoff.
    func run(until stop: StopSignal) {
        var schedule: ReminderScheduler?
        var backoff = Backoff()
        while !stop.isSet {
            do {
                if schedule == nil { schedule = try ReminderScheduler(conninfo: databaseURL, channels: channels, rules: rules) }
                let round = try schedule!.fireDue(limit: batch)
                let expired = try schedule!.expireDue(limit: batch)
                backoff.reset()
                if round.claimed > 0 {
                    logger.info("reminders fired", metadata: [
                        "sent": "\(round.sent)", "skipped": "\(round.skipped)", "postponed": "\(round.postponed)",
                    ])
                }
                if expired > 0 { logger.info("orders expired", metadata: ["count": "\(expired)"]) }
                if round.claimed == batch || expired == batch { continue }
                stop.sleep(.milliseconds(500))
            } catch {
                let pause = backoff.next()
                if backoff.isWorthLogging { logger.warning("scheduler paused", metadata: ["error": "\(error)"]) }
                schedule?.close()
                schedule = nil
                stop.sleep(pause)
            }
        }
        schedule?.close()
    }
}

import Foundation
import PostgresClient
import RelaisDomain

/// Applies `pickups` jobs: the order's slot, its history and its reminders, in one
/// transaction per batch, once per job id.
public final class PickupProcessor {
    private let orders: OrdersRepository
    private let queue: String
    private let rules: ReminderRules
    private let now: @Sendable () -> Timestamp

    /// Connects to the database; `queue` keys the jobs' idempotency ledger, `now` is the
    /// clock reminders are planned against.
    public init(conninfo: String, queue: String, rules: ReminderRules, lockTimeout: String = "5s",
                now: @escaping @Sendable () -> Timestamp = { Timestamp(Date()) }) throws {
        orders = try OrdersRepository(conninfo: conninfo, lockTimeout: lockTimeout)
        self.queue = queue
        self.rules = rules
        self.now = now
    }

    /// Closes the connection.
    public func close() { orders.close() }

    /// Commits the effects of `jobs` and returns their outcomes in the same order; throws
    /// only when PostgreSQL is unreachable or not set up.
    public func process(_ jobs: [QueuedJob<PickupJob>]) throws -> [JobOutcome] {
        try orders.commit(jobs, queue: queue, orderId: \.orderId) { [self] new, stored in
            let plan = PickupPlan.make(new.map { ($0.envelope.id, $0.envelope.type, $0.envelope.job) },
                                       stored: stored, now: now(), rules: rules)
            if !plan.slots.isEmpty {
                orders.db.send(ReminderSQL.slots, [
                    PgArray.text(plan.slots.map(\.orderId)), PgArray.optionalIntegers(plan.slots.map(\.start?.microseconds)),
                    PgArray.optionalIntegers(plan.slots.map(\.end?.microseconds)),
                ])
            }
            orders.writeHistory(plan.history)
            orders.writeReminders(plan.reminders)
            return plan.outcomes
        }
    }
}

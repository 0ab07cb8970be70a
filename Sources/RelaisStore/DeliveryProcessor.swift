import Foundation
import PostgresClient
import RelaisDomain

/// Applies `deliveries` jobs: the order's delivery and status, its history, the stock it
/// takes or gives back, its messages and the relay point's reminder, in one transaction
/// per batch, once per job id.
public final class DeliveryProcessor {
    private let orders: OrdersRepository
    private let queue: String
    private let channels: Set<Channel>
    private let rules: ReminderRules
    private let now: @Sendable () -> Timestamp

    /// Connects to the database; `queue` keys the jobs' idempotency ledger, messages go out
    /// on `channels` (the others' to the log), `now` is the clock reminders are planned against.
    public init(conninfo: String, queue: String, channels: Set<Channel>, rules: ReminderRules, lockTimeout: String = "5s",
                now: @escaping @Sendable () -> Timestamp = { Timestamp(Date()) }) throws {
        orders = try OrdersRepository(conninfo: conninfo, lockTimeout: lockTimeout)
        self.queue = queue
        self.channels = channels
        self.rules = rules
        self.now = now
    }

    /// Closes the connection.
    public func close() { orders.close() }

    /// Commits the effects of `jobs` and returns their outcomes in the same order; throws
    /// only when PostgreSQL is unreachable or not set up.
    public func process(_ jobs: [QueuedJob<DeliveryJob>]) throws -> [JobOutcome] {
        try orders.commit(jobs, queue: queue, orderId: \.orderId) { [self] new, stored in
            var plan = DeliveryPlan.make(new.map { ($0.envelope.id, $0.envelope.type, $0.envelope.job) },
                                         stored: stored, now: now(), channels: channels, rules: rules)
            try orders.writeDeliveries(plan.deliveries)
            try orders.write(&plan.order)
            return plan.order.outcomes
        }
    }
}

import Foundation
import PostgresClient
import RelaisDomain

/// Applies `orders` jobs to PostgreSQL: the order's state and history, the stock
/// reservations and the outbox messages, in one transaction per batch, once per job id.
public final class OrderProcessor {
    private let orders: OrdersRepository
    private let queue: String
    private let channels: Set<Channel>
    private let rules: ReminderRules

    /// Connects to the database and checks the schema is the one this build expects.
    ///
    /// - Parameters:
    ///   - queue: the queue whose jobs it applies, the key of their idempotency ledger.
    ///   - channels: the delivery channels that are configured; messages for the others
    ///     go to the log channel.
    ///   - lockTimeout: how long a statement waits for a lock before the batch is retried.
    ///   - rules: when reminders are due.
    public init(conninfo: String, queue: String, channels: Set<Channel>, rules: ReminderRules = ReminderRules(),
                lockTimeout: String = "5s") throws {
        orders = try OrdersRepository(conninfo: conninfo, lockTimeout: lockTimeout)
        self.queue = queue
        self.channels = channels
        self.rules = rules
    }

    /// Closes the connection.
    public func close() { orders.close() }

    /// Commits the effects of `jobs` and returns their outcomes in the same order; throws
    /// only when PostgreSQL is unreachable or not set up.
    public func process(_ jobs: [QueuedJob<OrderJob>]) throws -> [JobOutcome] {
        try orders.commit(jobs, queue: queue, orderId: \.orderId) { [self] new, stored in
            var plan = OrderPlan.make(new.map { ($0.envelope.id, $0.envelope.type, $0.envelope.job) },
                                      stored: stored, channels: channels, rules: rules)
            try orders.write(&plan)
            return plan.outcomes
        }
    }
}

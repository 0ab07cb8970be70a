import RelaisDomain
import RelaisQueue
import RelaisStore

/// The queues this build of Relais consumes.
enum RelaisQueues {
    /// The queue names, in the order they are reported.
    static let names = ["orders", "pickups", "stock"]

    /// The definitions, each making processors connected to `databaseURL`; order
    /// messages for channels not in `channels` go to the log.
    static func definitions(databaseURL: String, channels: Set<Channel>, rules: ReminderRules) -> [any RunnableQueue] {
        [
            QueueDefinition(OrderCatalog()) { try OrderProcessor(conninfo: databaseURL, channels: channels, rules: rules) },
            QueueDefinition(PickupCatalog()) { try PickupProcessor(conninfo: databaseURL, rules: rules) },
            QueueDefinition(StockCatalog()) { try StockProcessor(conninfo: databaseURL) },
        ]
    }

    /// Validates a payload as the daemon will; nil when it would be accepted.
    static func validate(queue: String, payload: [UInt8]) -> JobRejection? {
        switch queue {
        case "orders": rejection(EnvelopeDecoder(OrderCatalog()).decode(payload))
        case "pickups": rejection(EnvelopeDecoder(PickupCatalog()).decode(payload))
        case "stock": rejection(EnvelopeDecoder(StockCatalog()).decode(payload))
        default: JobRejection(.unknownType, field: "queue", "\"\(queue)\" is not a queue of this relais (\(names.joined(separator: ", ")))")
        }
    }

    private static func rejection<J>(_ result: Result<Envelope<J>, EnvelopeFailure>) -> JobRejection? {
        if case .failure(let failure) = result { return failure.rejection }
        return nil
    }
}

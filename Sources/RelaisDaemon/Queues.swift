import RelaisDomain
import RelaisQueue
import RelaisStore

/// The queues this build of Relais consumes.
enum RelaisQueues {
    /// The queue names, in the order they are reported.
    static let names = ["stock"]

    /// The definitions, each making processors connected to `databaseURL`.
    static func definitions(databaseURL: String) -> [any RunnableQueue] {
        [QueueDefinition(StockCatalog()) { try StockProcessor(conninfo: databaseURL) }]
    }

    /// Validates a payload as the daemon will; nil when it would be accepted.
    static func validate(queue: String, payload: [UInt8]) -> JobRejection? {
        switch queue {
        case "stock": rejection(EnvelopeDecoder(StockCatalog()).decode(payload))
        default: JobRejection(.unknownType, field: "queue", "\"\(queue)\" is not a queue of this relais (\(names.joined(separator: ", ")))")
        }
    }

    private static func rejection<J>(_ result: Result<Envelope<J>, EnvelopeFailure>) -> JobRejection? {
        if case .failure(let failure) = result { return failure.rejection }
        return nil
    }
}

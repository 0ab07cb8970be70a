import RelaisDomain

/// The job families this build of Relais runs: the one list the daemon, `relais validate`
/// and the tests read. A new family is one adapter file and one line here.
public enum JobFamilies {
    /// Every family, in the order the queues are reported.
    public static let all: [FamilyAdapter] = [.orders, .pickups, .deliveries, .appointments, .quotes, .stock]

    /// The queue names, in the order they are reported.
    public static var queues: [String] { all.map(\.queue) }

    /// The family of `queue`, if this build has one.
    public static func adapter(for queue: String) -> FamilyAdapter? {
        all.first { $0.queue == queue }
    }

    /// Reads `payload` as a job of `queue` as the daemon will: nil when it would be accepted.
    public static func validate(queue: String, payload: [UInt8]) -> JobRejection? {
        guard let adapter = adapter(for: queue) else {
            return JobRejection(.unknownType, field: "queue",
                                "\"\(queue)\" is not a queue of this relais (\(queues.joined(separator: ", ")))")
        }
        return adapter.validate(payload)
    }
}

/// A message claimed from the outbox for sending.
public struct OutboxMessage: Sendable, Equatable {
    /// The stable id: the e-mail's Message-ID and the webhook's `webhook-id` derive from it.
    public let id: Int64
    /// The order the message is about.
    public let orderId: String
    /// Who the message is for.
    public let recipient: Recipient
    /// How it travels.
    public let channel: Channel
    /// The e-mail address, phone number or webhook URL; nil for the log.
    public let destination: String?
    /// The template's name.
    public let template: String
    /// What the message says, captured when its event happened.
    public let facts: MessageFacts
    /// 1 for the first try, counting this one.
    public let attempt: Int

    /// Creates a claimed message.
    public init(id: Int64, orderId: String, recipient: Recipient, channel: Channel, destination: String?, template: String,
                facts: MessageFacts, attempt: Int) {
        self.id = id
        self.orderId = orderId
        self.recipient = recipient
        self.channel = channel
        self.destination = destination
        self.template = template
        self.facts = facts
        self.attempt = attempt
    }
}

/// What became of one send.
public enum DeliveryResult: Sendable, Equatable {
    /// Delivered.
    case sent
    /// Failed; try again at the given time.
    case retry(at: Timestamp, error: String)
    /// Failed for good.
    case failed(error: String)
    /// Not tried: put off until the given time without counting an attempt (its endpoint
    /// timed out a moment ago, or the sender is stopping).
    case deferred(until: Timestamp, reason: String)
}

/// What became of one claimed message, to record.
public struct DeliveryRecord: Sendable, Equatable {
    /// The message's id.
    public let id: Int64
    /// The attempt number the claim gave it: the record applies only while the message is
    /// still pending at that attempt, so that it never overwrites an operator's change
    /// (`failed`, or a retry with `attempts = 0`) nor a newer claim after the lease ended.
    public let attempt: Int
    /// What happened.
    public let result: DeliveryResult

    /// Creates a record for message `id` claimed at `attempt`.
    public init(id: Int64, attempt: Int, result: DeliveryResult) {
        self.id = id
        self.attempt = attempt
        self.result = result
    }
}

/// The outbox as the delivery worker sees it: claim due messages of one channel, keep
/// their lease while they wait their turn, record what became of each send.
///
/// The contract every implementation keeps (the store's, over PostgreSQL, is `Outbox`):
/// - a claim leases each message it returns for `lease` and counts the attempt; two
///   claims, from this process or another, never return the same message while its
///   lease runs; a message whose sender died is due again when its lease ends;
/// - a record applies only to a message still pending at the attempt its claim gave it:
///   an operator's change made meanwhile, or a newer claim, stands;
/// - a message the outbox cannot read is recorded failed by the claim, never returned.
///
/// One connection: not shared between threads. A worker makes one with the factory it
/// is given (`OutboxConnector`), drops it after an error and makes another.
public protocol OutboxPort: AnyObject {
    /// Whether the connection can still be used; false after it was lost.
    var isOpen: Bool { get }

    /// Claims up to `limit` due messages of `channel`, leased for `lease`, shop by shop in
    /// turn: each shop with due messages gets its share (its oldest first), at most
    /// `quota(shopId)` of them (what its rate allows now; 0 skips it), and the messages
    /// come back interleaved, one per shop per turn. Successive claims on one connection
    /// go round the shops, so a shop with a thousand messages due never holds back
    /// another's one.
    func claim(channel: Channel, limit: Int, lease: Duration, quota: (_ shopId: String) -> Int) throws -> [OutboxMessage]

    /// Renews the lease of claimed messages not sent yet.
    func extend(_ ids: [Int64], lease: Duration) throws

    /// Records the results of sends; returns the ids recorded. A message missing from them
    /// was changed since its claim, and that change stands.
    @discardableResult
    func record(_ records: [DeliveryRecord]) throws -> Set<Int64>

    /// Closes the connection; the port is not used afterwards.
    func close()
}

extension OutboxPort {
    /// Claims up to `limit` due messages of `channel` in turns across shops, with no
    /// limit per shop.
    public func claim(channel: Channel, limit: Int, lease: Duration) throws -> [OutboxMessage] {
        try claim(channel: channel, limit: limit, lease: lease, quota: { _ in Int.max })
    }
}

/// Opens a connection to the outbox: the delivery worker's only way to the store.
public typealias OutboxConnector = @Sendable () throws -> any OutboxPort

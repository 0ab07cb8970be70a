/// A validated job: the envelope's fields and the typed payload.
public struct Envelope<Job: Sendable>: Sendable {
    /// The producer's idempotency key.
    public let id: String
    /// The job type, such as `stock.levels`.
    public let type: String
    /// The envelope version.
    public let version: Int
    /// When the producer enqueued it, if it said.
    public let enqueuedAt: Timestamp?
    /// The typed payload.
    public let job: Job

    /// Creates an envelope.
    public init(id: String, type: String, version: Int, enqueuedAt: Timestamp?, job: Job) {
        self.id = id
        self.type = type
        self.version = version
        self.enqueuedAt = enqueuedAt
        self.job = job
    }
}

/// The rules of the envelope every job shares (docs/producers.md, "The envelope").
public enum EnvelopeRules {
    /// The largest payload accepted, in bytes.
    public static let maxBytes = 1 << 20
    /// The longest job id.
    public static let maxIdLength = 200
    /// The envelope versions this daemon understands.
    public static let versions = 1...1

    /// Whether `id` is a valid idempotency key: 1–200 of `A-Z a-z 0-9 . _ : -`.
    public static func isValidId(_ id: String) -> Bool {
        let bytes = id.utf8
        guard !bytes.isEmpty, bytes.count <= maxIdLength else { return false }
        return bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == 0x2E || b == 0x5F || b == 0x3A || b == 0x2D
        }
    }
}

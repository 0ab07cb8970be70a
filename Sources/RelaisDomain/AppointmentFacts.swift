/// What a message of the appointment family says about its appointment, captured when its event
/// happened (`MessageFacts.appointment`).
///
/// The customer, the shop and who cancelled are the common facts' (`MessageFacts.customerName`,
/// `shopName`, `cancelledBy`, `cancelReason`); these are the appointment's own.
public struct AppointmentFacts: Codable, Sendable, Equatable {
    /// The service booked, as the shop names it.
    public var service: String
    /// How long the service lasts, in minutes, when the producer said.
    public var durationMinutes: Int64?
    /// When the appointment begins, after the event.
    public var start: Timestamp
    /// When it ends, after the event.
    public var end: Timestamp
    /// The shop's address, when the booking gave one.
    public var address: String?
    /// Where the appointment stands after the event (`AppointmentStatus`).
    public var status: AppointmentStatus
    /// For a rescheduling: when the appointment began before it.
    public var previousStart: Timestamp?
    /// For a rescheduling: when it ended before it.
    public var previousEnd: Timestamp?

    /// Creates the facts.
    public init(service: String, durationMinutes: Int64? = nil, start: Timestamp, end: Timestamp, address: String? = nil,
                status: AppointmentStatus, previousStart: Timestamp? = nil, previousEnd: Timestamp? = nil) {
        self.service = service
        self.durationMinutes = durationMinutes
        self.start = start
        self.end = end
        self.address = address
        self.status = status
        self.previousStart = previousStart
        self.previousEnd = previousEnd
    }

    enum CodingKeys: String, CodingKey {
        case service, durationMinutes = "duration_minutes", start, end, address, status
        case previousStart = "previous_start", previousEnd = "previous_end"
    }
}

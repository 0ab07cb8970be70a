/// What a message of the appointment family says about its appointment, captured when its event
/// happened (`MessageFacts.appointment`).
public struct AppointmentFacts: Codable, Sendable, Equatable {
    /// Creates the facts.
    public init() {}
}

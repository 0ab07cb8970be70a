/// Why a job went to the dead letters, as a stable machine code.
///
/// The raw values are part of the contract: they appear in `relais:dead` entries and
/// in the `reason` label of `relais_dead_letters_total`.
public enum ReasonCode: String, Sendable, CaseIterable, Codable {
    /// The entry has no `job` field.
    case missingJob = "missing_job"
    /// The payload is over the size limit.
    case tooLarge = "too_large"
    /// The payload is not UTF-8 JSON, or not a JSON object.
    case malformedJSON = "malformed_json"
    /// A required field is absent.
    case missingField = "missing_field"
    /// A field has the wrong type or a value outside its rules.
    case invalidField = "invalid_field"
    /// `type` names no job type of this queue.
    case unknownType = "unknown_type"
    /// `v` names an envelope version this daemon does not know.
    case unsupportedVersion = "unsupported_version"
    /// A transient failure lasted through every attempt.
    case attemptsExhausted = "attempts_exhausted"
    /// The entry was delivered too many times without finishing (it may crash workers).
    case poison = "poison"
    /// The effect failed in a way no retry can fix.
    case permanentFailure = "permanent_failure"
}

/// A job that can never succeed as it is, with a reason that names the problem.
public struct JobRejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// The machine code.
    public let code: ReasonCode
    /// The field at fault, as a path such as `data.levels[3].sku`; nil for the whole job.
    public let field: String?
    /// What is wrong, for people: starts with the field when there is one.
    public let message: String

    /// Creates a rejection; `message` should not repeat the field.
    public init(_ code: ReasonCode, field: String? = nil, _ message: String) {
        self.code = code
        self.field = field
        self.message = field.map { "\($0): \(message)" } ?? message
    }

    public var description: String { message }
}

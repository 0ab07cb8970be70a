import CurlClient
import Foundation

/// Why a message could not be delivered, and whether trying again can help.
///
/// `reason` goes to the outbox's `last_error` column and to logs, so it never holds an
/// e-mail address, a phone number, a token, a password or a URL's user info; it says
/// what failed in words an operator can act on ("webhook endpoint answered HTTP 500").
public struct DeliveryFailure: Error, Sendable, CustomStringConvertible {
    /// What failed, free of personal data and secrets.
    public let reason: String
    /// True when retrying the same message cannot succeed (a rejected recipient, a 404).
    public let permanent: Bool

    /// Creates a failure; `reason` must already be free of personal data and secrets.
    public init(reason: String, permanent: Bool) {
        self.reason = reason
        self.permanent = permanent
    }

    public var description: String { "\(reason) (\(permanent ? "permanent" : "transient"))" }
}

/// A delivery setting that cannot work, named so the operator knows what to fix.
public struct DeliveryConfigurationError: Error, Sendable, CustomStringConvertible {
    /// Which setting is wrong ("SMTP URL", "webhook secret"…).
    public let setting: String
    /// What is wrong with it, without its value (it may be a secret).
    public let problem: String

    /// Creates an error for `setting`.
    public init(setting: String, problem: String) {
        self.setting = setting
        self.problem = problem
    }

    public var description: String { "invalid \(setting): \(problem)" }
}

/// How an HTTP endpoint's answer counts for delivery.
enum HTTPOutcome {
    /// Nil for 2xx; otherwise a failure saying the status: 408, 425, 429 and 5xx are
    /// transient, any other status permanent. When the credentials are ours (the SMS
    /// gateway's token), 401 and 403 are transient too: the operator fixes the token
    /// and the messages still go out, as with an SMTP login that is refused.
    static func failure(status: Int, endpoint: String, credentialsAreOurs: Bool = false) -> DeliveryFailure? {
        switch status {
        case 200..<300:
            return nil
        case 408, 425, 429, 500..<600:
            return DeliveryFailure(reason: "\(endpoint) answered HTTP \(status)", permanent: false)
        case 401 where credentialsAreOurs, 403 where credentialsAreOurs:
            return DeliveryFailure(reason: "\(endpoint) answered HTTP \(status): check the token", permanent: false)
        case 300..<400:
            return DeliveryFailure(reason: "\(endpoint) answered HTTP \(status) (redirects are not followed)", permanent: true)
        default:
            return DeliveryFailure(reason: "\(endpoint) answered HTTP \(status)", permanent: true)
        }
    }

    /// A transport failure (no answer, timeout, TLS): always transient.
    static func failure(_ error: CurlError, endpoint: String, hiding secrets: [String]) -> DeliveryFailure {
        DeliveryFailure(reason: redacting(secrets, in: "\(endpoint) unreachable: \(error)"), permanent: false)
    }
}

/// Whether `value` can go into a header line as is: no control characters, so no
/// CR or LF that would start a header of its own.
func isHeaderSafe(_ value: String) -> Bool {
    !value.unicodeScalars.contains { $0.properties.generalCategory == .control }
}

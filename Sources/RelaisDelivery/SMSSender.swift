import CurlClient
import Foundation
import RelaisDomain

/// Sends text messages through the HTTP SMS gateway (`RELAIS_SMS_URL`, `RELAIS_SMS_TOKEN`).
public struct SMSSender: Sendable {
    /// The gateway's endpoint.
    public let url: String
    private let token: String
    /// The limit for one request.
    public let timeout: Duration

    /// Checks the gateway settings; the error never repeats the token.
    public init(url: String, token: String, timeout: Duration = .seconds(10)) throws(DeliveryConfigurationError) {
        guard WebAddress.isValid(url) else {
            throw DeliveryConfigurationError(setting: "SMS URL", problem: "expected an http:// or https:// URL with a host")
        }
        guard !token.isEmpty, isHeaderSafe(token), !token.contains(" ") else {
            throw DeliveryConfigurationError(setting: "SMS token", problem: "must be non-empty, without spaces or control characters")
        }
        self.url = url
        self.token = token
        self.timeout = timeout
    }

    /// POSTs `{"to": phone, "text": text}` with the bearer token and `messageId` as the
    /// `Idempotency-Key`, so a retry after a lost answer does not send the SMS twice
    /// (if the gateway honours the key).
    ///
    /// A 2xx answer is success; see `DeliveryFailure` for what counts as permanent. A 401
    /// or 403 is transient: the token is ours to fix.
    public func send(to phone: String, text: String, messageId: String, over session: CurlSession) throws(DeliveryFailure) {
        guard isHeaderSafe(messageId) else {
            throw DeliveryFailure(reason: "message id contains control characters", permanent: true)
        }
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder.sortedKeys.encode(SMSRequest(to: phone, text: text)))
        } catch {
            throw DeliveryFailure(reason: "SMS request could not be encoded as JSON", permanent: true)
        }
        let headers = [
            "Content-Type: application/json",
            "Authorization: Bearer \(token)",
            "Idempotency-Key: \(messageId)",
            "User-Agent: Relais",
        ]
        let response: HTTPResponse
        do {
            response = try session.post(url: url, headers: headers, body: body, timeout: timeout)
        } catch {
            throw HTTPOutcome.failure(error, endpoint: "SMS gateway", hiding: [token, phone])
        }
        if let failure = HTTPOutcome.failure(status: response.status, endpoint: "SMS gateway", credentialsAreOurs: true) {
            throw failure
        }
    }
}

/// The gateway's request body.
private struct SMSRequest: Encodable {
    let to: String
    let text: String
}

extension JSONEncoder {
    /// Keys in a stable order and `/` unescaped: the same input always gives the same bytes.
    static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

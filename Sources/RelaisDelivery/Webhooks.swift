import Crypto
import CurlClient
import Foundation

/// Signs webhook payloads by the Standard Webhooks scheme (https://www.standardwebhooks.com).
public struct WebhookSigner: Sendable {
    private let key: SymmetricKey

    /// A signer for `secret`: base64 bytes, optionally prefixed `whsec_` (`RELAIS_WEBHOOK_SECRET`).
    public init(secret: String) throws(DeliveryConfigurationError) {
        var encoded = secret.hasPrefix("whsec_") ? String(secret.dropFirst("whsec_".count)) : secret
        // Secrets are often shared without their base64 padding; the reference libraries accept that.
        encoded += String(repeating: "=", count: (4 - encoded.count % 4) % 4)
        guard let bytes = Data(base64Encoded: encoded), !bytes.isEmpty else {
            throw DeliveryConfigurationError(setting: "webhook secret", problem: "expected base64 bytes, optionally prefixed whsec_")
        }
        key = SymmetricKey(data: bytes)
    }

    /// The `webhook-signature` header value: `v1,` and the base64 HMAC-SHA256 of
    /// `"<id>.<timestamp>.<body>"`.
    public func signature(id: String, timestamp: Int64, body: [UInt8]) -> String {
        var signed = Array("\(id).\(timestamp).".utf8)
        signed += body
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }
}

/// POSTs signed webhook events to shops' own systems.
public struct WebhookSender: Sendable {
    /// Signs every request.
    public let signer: WebhookSigner
    /// The limit for one request.
    public let timeout: Duration

    /// A sender signing with `signer`.
    public init(signer: WebhookSigner, timeout: Duration = .seconds(10)) {
        self.signer = signer
        self.timeout = timeout
    }

    /// POSTs `body` (a JSON event) to `url` with `webhook-id: id`, the timestamp of `now`
    /// and the signature. Keep `id` the same across retries: receivers deduplicate on it.
    ///
    /// 2xx is success; 408, 425, 429, 5xx and network failures are transient; any
    /// other status, or a URL that is not http(s), is permanent.
    public func send(url: String, id: String, body: [UInt8], now: Date, over session: CurlSession) throws(DeliveryFailure) {
        guard isHTTPURL(url) else {
            throw DeliveryFailure(reason: "webhook URL is not an http:// or https:// URL with a host", permanent: true)
        }
        guard isHeaderSafe(id), !id.isEmpty else {
            throw DeliveryFailure(reason: "webhook id is empty or contains control characters", permanent: true)
        }
        let timestamp = Int64(now.timeIntervalSince1970.rounded(.down))
        let headers = [
            "Content-Type: application/json",
            "User-Agent: Relais",
            "webhook-id: \(id)",
            "webhook-timestamp: \(timestamp)",
            "webhook-signature: \(signer.signature(id: id, timestamp: timestamp, body: body))",
        ]
        let response: HTTPResponse
        do {
            response = try session.post(url: url, headers: headers, body: body, timeout: timeout)
        } catch {
            throw HTTPOutcome.failure(error, endpoint: "webhook endpoint", hiding: [])
        }
        if let failure = HTTPOutcome.failure(status: response.status, endpoint: "webhook endpoint") {
            throw failure
        }
    }
}

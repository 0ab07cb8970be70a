import Crypto
import CurlClient
import Foundation
import RelaisDomain

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
///
/// The URL is a producer's: it may only lead to a public address or to a network the
/// operator allowed (`addresses`), and it may not carry a user name or password.
public struct WebhookSender: Sendable {
    /// Signs every request.
    public let signer: WebhookSigner
    /// The limit for one request.
    public let timeout: Duration
    /// Where webhooks may connect.
    public let addresses: WebhookAddressPolicy

    /// A sender signing with `signer`, connecting only where `addresses` permits.
    public init(signer: WebhookSigner, timeout: Duration = .seconds(10), addresses: WebhookAddressPolicy = WebhookAddressPolicy()) {
        self.signer = signer
        self.timeout = timeout
        self.addresses = addresses
    }

    /// One signed request, ready to POST.
    public struct Request: Sendable {
        /// Where to POST it.
        public let url: String
        /// The header lines, signature included.
        public let headers: [String]
        /// The JSON event.
        public let body: [UInt8]
    }

    /// The reason recorded for a refused address: one text whatever the address and
    /// whatever listens there, so that it tells a producer nothing about internal hosts.
    public static let addressRefused = "webhook endpoint address not allowed (not a public address, and not in webhook_allow_networks)"
    /// The reason recorded for a URL with a user name or password.
    public static let userInfoRefused = "webhook URL must not contain a user name or password"

    /// The request for `body` (a JSON event) to `url` with `webhook-id: id`, the timestamp
    /// of `now` and the signature. Keep `id` the same across retries: receivers deduplicate on it.
    /// A URL that is not http(s), or that carries user info, fails for good.
    public func request(url: String, id: String, body: [UInt8], now: Date) throws(DeliveryFailure) -> Request {
        // User info first: `http://:password@host` has no valid host either, and the reason
        // should say what to remove.
        guard !WebAddress.hasUserInfo(url) else {
            throw DeliveryFailure(reason: Self.userInfoRefused, permanent: true)
        }
        guard WebAddress.isValid(url) else {
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
        return Request(url: url, headers: headers, body: body)
    }

    /// POSTs `body` (a JSON event) to `url` with `webhook-id: id`, the timestamp of `now`
    /// and the signature, waiting for the answer. Keep `id` the same across retries.
    ///
    /// 2xx is success; 408, 425, 429, 5xx and network failures are transient; any
    /// other status, a URL that is not http(s) or carries user info, or an address
    /// that is not allowed, is permanent.
    public func send(url: String, id: String, body: [UInt8], now: Date, over session: CurlSession) throws(DeliveryFailure) {
        let request = try request(url: url, id: id, body: body, now: now)
        let result: Result<HTTPResponse, CurlError>
        do {
            result = .success(try session.post(url: request.url, headers: request.headers, body: request.body, timeout: timeout,
                                               filter: addresses.filter))
        } catch {
            result = .failure(error)
        }
        if let failure = Self.failure(result) { throw failure }
    }

    /// Starts POSTing `request` on `multi`, under `tag`; its outcome comes out of `multi.wait`
    /// and is judged by `failure(_:)`. Throws when nothing could be sent (user info in the URL).
    public func start(_ request: Request, tag: Int64, on multi: CurlMulti) throws(DeliveryFailure) {
        do {
            try multi.post(tag: tag, url: request.url, headers: request.headers, body: request.body, timeout: timeout,
                           filter: addresses.filter)
        } catch {
            throw Self.failure(.failure(error)) ?? DeliveryFailure(reason: "webhook could not be sent", permanent: false)
        }
    }

    /// Nil when `result` is a delivery (2xx); otherwise why not, and whether it is for good.
    public static func failure(_ result: Result<HTTPResponse, CurlError>) -> DeliveryFailure? {
        switch result {
        case .success(let response):
            return HTTPOutcome.failure(status: response.status, endpoint: "webhook endpoint")
        case .failure(let error) where error.code == .addressNotAllowed:
            return DeliveryFailure(reason: addressRefused, permanent: true)
        case .failure(let error) where error.code == .userInfoNotAllowed:
            return DeliveryFailure(reason: userInfoRefused, permanent: true)
        case .failure(let error) where error.code == .malformedURL:
            return DeliveryFailure(reason: "webhook URL cannot be parsed", permanent: true)
        case .failure(let error):
            return HTTPOutcome.failure(error, endpoint: "webhook endpoint", hiding: [])
        }
    }
}

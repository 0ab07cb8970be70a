import CCurl
import Foundation

/// A failed libcurl transfer, with the operation it happened in.
///
/// `description` carries libcurl's texts and the server's reply code, never the URL
/// (it may hold a password) nor the transfer's payload; user name and password of
/// the URL are blanked out of libcurl's texts should they appear there.
public struct CurlError: Error, CustomStringConvertible, Sendable {
    /// A libcurl result code (`CURLcode`), named for the cases callers tell apart.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        /// The `CURLcode` number.
        public let rawValue: Int
        /// Wraps a `CURLcode` number.
        public init(rawValue: Int) { self.rawValue = rawValue }
        init(_ code: CURLcode) { rawValue = Int(code.rawValue) }

        /// The URL's scheme is not one this transfer allows.
        public static let unsupportedProtocol = Code(CURLE_UNSUPPORTED_PROTOCOL)
        /// The URL could not be parsed.
        public static let malformedURL = Code(CURLE_URL_MALFORMAT)
        /// The host name did not resolve.
        public static let couldNotResolveHost = Code(CURLE_COULDNT_RESOLVE_HOST)
        /// Nothing accepted the connection.
        public static let couldNotConnect = Code(CURLE_COULDNT_CONNECT)
        /// The server's reply made no sense, or (SMTP) rejected the message after DATA.
        public static let weirdServerReply = Code(CURLE_WEIRD_SERVER_REPLY)
        /// The connect or total timeout fired.
        public static let timedOut = Code(CURLE_OPERATION_TIMEDOUT)
        /// Sending failed, or (SMTP) the server rejected MAIL FROM, RCPT TO or DATA.
        public static let sendError = Code(CURLE_SEND_ERROR)
        /// Receiving failed.
        public static let receiveError = Code(CURLE_RECV_ERROR)
        /// The server closed the connection without answering.
        public static let gotNothing = Code(CURLE_GOT_NOTHING)
        /// The server refused the credentials.
        public static let loginDenied = Code(CURLE_LOGIN_DENIED)
        /// TLS was required (STARTTLS) and the server does not offer it.
        public static let tlsRequiredButUnavailable = Code(CURLE_USE_SSL_FAILED)
        /// The TLS handshake failed.
        public static let tlsConnectError = Code(CURLE_SSL_CONNECT_ERROR)
        /// The server's certificate did not verify against the trusted CAs or the host name.
        public static let peerFailedVerification = Code(CURLE_PEER_FAILED_VERIFICATION)
        /// The CA file could not be read.
        public static let badCAFile = Code(CURLE_SSL_CACERT_BADFILE)
        /// The transfer's `ConnectionFilter` refused an address it was to connect to, and it
        /// did not get through another one (not a libcurl code: nothing was sent to that address).
        public static let addressNotAllowed = Code(rawValue: -1)
        /// The URL carries a user name, password or login options, which a filtered transfer
        /// refuses (not a libcurl code: nothing was sent).
        public static let userInfoNotAllowed = Code(rawValue: -2)

        /// libcurl's fixed text for this code (`curl_easy_strerror`), or Relais's own for its refusals.
        public var description: String {
            switch self {
            case .addressNotAllowed: "address not allowed"
            case .userInfoNotAllowed: "user name or password in the URL not allowed"
            default: String(cString: curl_easy_strerror(CURLcode(rawValue: UInt32(rawValue))))
            }
        }
    }

    /// libcurl's result code.
    public let code: Code
    /// What was being done: "SMTP send", "HTTP POST", "init"…
    public let operation: String
    /// The last reply code the server sent (SMTP or HTTP), 0 if none was read.
    public let responseCode: Int
    /// libcurl's detailed message (its error buffer), possibly empty.
    public let detail: String

    /// Creates an error from its parts; `detail` must already be free of secrets.
    public init(code: Code, operation: String, responseCode: Int = 0, detail: String = "") {
        self.code = code
        self.operation = operation
        self.responseCode = responseCode
        self.detail = detail
    }

    public var description: String {
        guard code.rawValue >= 0 else { return "\(operation) refused: \(code)" }
        var text = "\(operation) failed: \(code) (curl \(code.rawValue))"
        if !detail.isEmpty { text += ": \(detail)" }
        if responseCode != 0 { text += " [server replied \(responseCode)]" }
        return text
    }
}

/// An HTTP response: its status and the start of its body.
public struct HTTPResponse: Sendable {
    /// The HTTP status code.
    public let status: Int
    /// The body, truncated to `CurlSession.maximumResponseBody` bytes.
    public let body: [UInt8]

    /// Creates a response.
    public init(status: Int, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

/// One part of a MIME e-mail: its type and its text.
public struct MailPart: Sendable, Equatable {
    /// The part's `Content-Type`, such as `text/html; charset=utf-8`.
    public let contentType: String
    /// The part's bytes, with CRLF line endings.
    public let body: [UInt8]

    /// Creates a part.
    public init(contentType: String, body: [UInt8]) {
        self.contentType = contentType
        self.body = body
    }
}

/// One libcurl easy handle, reused across transfers so that connections are kept alive.
///
/// Deliberately not `Sendable`: an easy handle must only be used by one thread at a
/// time, so give each delivery thread its own session. Every call blocks the calling
/// thread until the transfer ends or times out; never call it from an async task.
///
/// Each transfer starts with `curl_easy_reset`, which forgets the previous transfer's
/// options (recipients, headers, upload) but keeps the connection cache, so the next
/// mail to the same server or POST to the same host reuses the open connection.
public final class CurlSession {
    /// The most bytes of an HTTP response body kept; the rest is read and dropped.
    public static let maximumResponseBody = 64 * 1024
    /// The most time spent connecting (TCP and TLS), whatever the total timeout.
    public static let maximumConnectTimeout: Duration = .seconds(5)

    private var handle: UnsafeMutableRawPointer?
    /// libcurl writes its detailed message here (CURLOPT_ERRORBUFFER); lives as long as the handle.
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// Creates a session with a fresh easy handle.
    public init() throws(CurlError) {
        try CurlGlobal.check()
        guard let handle = curl_easy_init() else {
            throw CurlError(code: CurlError.Code(CURLE_FAILED_INIT), operation: "curl_easy_init")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        close()
        errorBuffer.deallocate()
    }

    /// Closes the handle and its cached connections (an SMTP connection gets its QUIT).
    /// Using the session afterwards throws.
    public func close() {
        if let handle { curl_easy_cleanup(handle) }
        handle = nil
    }

    /// Sends one MIME e-mail over SMTP and waits for the server to accept it.
    ///
    /// libcurl builds the message (`curl_mime`): `headers` first, then a multipart body of
    /// `multipartType` (`multipart/alternative`) holding `parts` in order, each encoded
    /// quoted-printable, so the message is seven-bit clean whatever the text (libcurl
    /// does not announce 8BITMIME) and no line passes SMTP's 998-byte limit. libcurl
    /// writes the boundary, `MIME-Version` and each part's headers, and dot-stuffs.
    ///
    /// - Parameters:
    ///   - url: `smtp://[user:pass@]host:port` or `smtps://…` for implicit TLS; with a
    ///     user name libcurl authenticates (PLAIN, LOGIN… whatever the server offers).
    ///   - from: the envelope sender (MAIL FROM), a bare address.
    ///   - to: the envelope recipients (RCPT TO), bare addresses; one rejection fails the send.
    ///   - headers: the message's own header lines (`Subject: …`), already encoded and
    ///     free of line breaks except folds (CRLF then a space).
    ///   - multipartType: the body's type, such as `multipart/alternative`.
    ///   - parts: the body's parts; their text uses CRLF line endings (a bare LF would be
    ///     encoded as a character, not a line break).
    ///   - requireTLS: for `smtp://`, fail unless STARTTLS succeeds; otherwise STARTTLS is
    ///     used when the server offers it (a certificate that does not verify still fails).
    ///   - caFile: a PEM file of trusted CAs instead of the system's (tests' self-signed certificates).
    ///   - timeout: the whole transfer's limit; connecting alone is capped at `maximumConnectTimeout`.
    public func sendMail(url: String, from: String, to: [String], headers: [String], multipartType: String,
                         parts: [MailPart], requireTLS: Bool, caFile: String?, timeout: Duration) throws(CurlError) {
        let operation = "SMTP send"
        let h = try prepare(operation: operation, timeout: timeout)
        let secrets = userInfo(of: url)
        var recipients: UnsafeMutablePointer<curl_slist>?
        var headerList: UnsafeMutablePointer<curl_slist>?
        let mime = curl_mime_init(h)
        defer {
            // Forget the pointers before they go; the connection cache stays.
            curl_easy_reset(h)
            curl_mime_free(mime)
            curl_slist_free_all(headerList)
            curl_slist_free_all(recipients)
        }
        func append(_ line: String, to list: inout UnsafeMutablePointer<curl_slist>?) throws(CurlError) {
            guard let appended = curl_slist_append(list, line) else {
                throw CurlError(code: CurlError.Code(CURLE_OUT_OF_MEMORY), operation: operation)
            }
            list = appended
        }
        for address in to { try append(bracketed(address), to: &recipients) }
        // libcurl takes the root's type from a Content-Type among the headers, adds the
        // boundary itself and does not repeat the line.
        for line in ["Content-Type: \(multipartType)"] + headers { try append(line, to: &headerList) }
        guard let mime else { throw CurlError(code: CurlError.Code(CURLE_OUT_OF_MEMORY), operation: operation) }
        for part in parts {
            guard let handle = curl_mime_addpart(mime) else {
                throw CurlError(code: CurlError.Code(CURLE_OUT_OF_MEMORY), operation: operation)
            }
            // curl_mime_data copies the bytes.
            try check(part.body.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { curl_mime_data(handle, $0.baseAddress, $0.count) }
            }, operation)
            try check(curl_mime_type(handle, part.contentType), operation)
            try check(curl_mime_encoder(handle, "quoted-printable"), operation)
        }
        try setString(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps", operation)
        try setString(h, CURLOPT_URL, url, operation)
        try setLong(h, CURLOPT_USE_SSL, Int(requireTLS ? CURLUSESSL_ALL.rawValue : CURLUSESSL_TRY.rawValue), operation)
        if let caFile { try setString(h, CURLOPT_CAINFO, caFile, operation) }
        try setString(h, CURLOPT_MAIL_FROM, bracketed(from), operation)
        try check(relais_curl_setopt_pointer(h, CURLOPT_MAIL_RCPT, recipients), operation)
        try check(relais_curl_setopt_pointer(h, CURLOPT_HTTPHEADER, headerList), operation)
        try check(relais_curl_setopt_pointer(h, CURLOPT_MIMEPOST, UnsafeMutableRawPointer(mime)), operation)
        try perform(h, operation: operation, secrets: secrets)
    }

    /// POSTs `body` and returns the status and the first `maximumResponseBody` bytes of the answer.
    ///
    /// Any HTTP status is a response, not an error; only transport failures throw.
    /// Redirects are not followed.
    ///
    /// - Parameters:
    ///   - url: an `http://` or `https://` URL.
    ///   - headers: `"Name: value"` lines, sent as given.
    ///   - timeout: the whole exchange's limit; connecting alone is capped at `maximumConnectTimeout`.
    ///   - filter: for URLs that come from outside: every address is checked before connecting,
    ///     user info in the URL is refused, and proxies are not used (see `ConnectionFilter`).
    public func post(url: String, headers: [String], body: [UInt8], timeout: Duration,
                     filter: ConnectionFilter? = nil) throws(CurlError) -> HTTPResponse {
        let h = try prepare(operation: PostTransfer.operation, timeout: timeout)
        let transfer = PostTransfer(handle: h)
        return try withExtendedLifetime(transfer) { () throws(CurlError) -> HTTPResponse in
            // The transfer pointed libcurl at its own buffers and callback data: forget them
            // before they go, keeping the connection cache.
            defer { curl_easy_reset(h) }
            try transfer.configure(url: url, headers: headers, body: body, timeout: timeout, filter: filter)
            return try transfer.outcome(curl_easy_perform(h)).get()
        }
    }

    // MARK: - Transfers

    /// Forgets the previous transfer's options and sets the ones every transfer needs.
    private func prepare(operation: String, timeout: Duration) throws(CurlError) -> UnsafeMutableRawPointer {
        guard let h = handle else {
            throw CurlError(code: CurlError.Code(CURLE_FAILED_INIT), operation: operation, detail: "session is closed")
        }
        curl_easy_reset(h)
        errorBuffer[0] = 0
        try check(relais_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBuffer), operation)
        // Signals are process-wide: a timeout must not raise SIGALRM in a threaded daemon.
        try setLong(h, CURLOPT_NOSIGNAL, 1, operation)
        try setLong(h, CURLOPT_TIMEOUT_MS, milliseconds(timeout), operation)
        try setLong(h, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(min(timeout, Self.maximumConnectTimeout)), operation)
        return h
    }

    private func perform(_ h: UnsafeMutableRawPointer, operation: String, secrets: [String]) throws(CurlError) {
        let result = curl_easy_perform(h)
        guard result != CURLE_OK else { return }
        let detail = redacting(secrets, in: String(cString: errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines))
        throw CurlError(code: CurlError.Code(result), operation: operation, responseCode: responseCode(h), detail: detail)
    }

    private func setLong(_ h: UnsafeMutableRawPointer, _ option: CURLoption, _ value: Int, _ operation: String) throws(CurlError) {
        try check(relais_curl_setopt_long(h, option, value), operation)
    }

    private func setString(_ h: UnsafeMutableRawPointer, _ option: CURLoption, _ value: String, _ operation: String) throws(CurlError) {
        try check(relais_curl_setopt_string(h, option, value), operation)
    }

    private func check(_ result: CURLcode, _ operation: String) throws(CurlError) {
        guard result == CURLE_OK else { throw CurlError(code: CurlError.Code(result), operation: operation + " setup") }
    }
}

/// The last reply code the server sent on `h`, 0 if none.
private func responseCode(_ h: UnsafeMutableRawPointer) -> Int {
    var code = 0
    return relais_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK ? code : 0
}

/// Where a transfer may connect, for URLs that come from outside (webhooks).
///
/// libcurl calls back with each address it is about to connect to, after resolution and
/// for every address it tries (IPv4, IPv6, each A record), so the check is on the
/// address actually used: a name that resolves to a refused address, an IP written in
/// an unusual form (`2130706433`, `127.1`) or an IPv4-mapped IPv6 address all end up
/// here as bytes. A refused address gets no socket at all: nothing is sent to it, and
/// the transfer fails with `CurlError.Code.addressNotAllowed`, the same for every
/// refused address whatever listens there. A filtered transfer also refuses user info
/// in the URL and ignores proxy settings (a proxy would connect on our behalf, unchecked).
public struct ConnectionFilter: Sendable {
    /// Whether the transfer may connect to `address`: 4 bytes (IPv4) or 16 (IPv6), network order.
    public let permits: @Sendable (_ address: [UInt8]) -> Bool

    /// A filter that lets through the addresses `permits` accepts.
    public init(permits: @escaping @Sendable (_ address: [UInt8]) -> Bool) {
        self.permits = permits
    }
}

/// One HTTP POST's options, and the buffers and callback data libcurl uses while it runs;
/// it must live until the transfer has ended. The easy handle belongs to the caller.
final class PostTransfer {
    static let operation = "HTTP POST"
    let handle: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// The URL as libcurl parsed it for a filtered transfer (`CURLU`), checked and then used as is.
    private var parsedURL: OpaquePointer?
    private let sink = ResponseSink(limit: CurlSession.maximumResponseBody)
    private var gate: AddressGate?
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private var secrets: [String] = []

    init(handle: UnsafeMutableRawPointer) {
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        curl_slist_free_all(headerList)
        if let parsedURL { curl_url_cleanup(parsedURL) }
        errorBuffer.deallocate()
    }

    /// Sets the transfer's options on the handle (which `curl_easy_reset` left clean).
    func configure(url: String, headers: [String], body: [UInt8], timeout: Duration, filter: ConnectionFilter?) throws(CurlError) {
        let h = handle
        let operation = Self.operation
        secrets = userInfo(of: url)
        try check(relais_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(relais_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1))
        try check(relais_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, milliseconds(timeout)))
        try check(relais_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(min(timeout, CurlSession.maximumConnectTimeout))))
        // "Expect:" stops libcurl from waiting for a 100 Continue before larger bodies.
        for line in headers + ["Expect:"] {
            guard let appended = curl_slist_append(headerList, line) else {
                throw CurlError(code: CurlError.Code(CURLE_OUT_OF_MEMORY), operation: operation)
            }
            headerList = appended
        }
        try check(relais_curl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https"))
        if let filter {
            try useCheckedURL(url)
            let gate = AddressGate(filter)
            self.gate = gate
            try check(relais_curl_setopt_opensocket_function(h, openPermittedSocket))
            try check(relais_curl_setopt_pointer(h, CURLOPT_OPENSOCKETDATA, Unmanaged.passUnretained(gate).toOpaque()))
            try check(relais_curl_setopt_string(h, CURLOPT_PROXY, ""))
        } else {
            try check(relais_curl_setopt_string(h, CURLOPT_URL, url))
        }
        try check(relais_curl_setopt_pointer(h, CURLOPT_HTTPHEADER, headerList))
        // COPYPOSTFIELDS copies the bytes, so nothing points into `body` after this call.
        try check(relais_curl_setopt_off_t(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
        let copied = body.isEmpty
            ? relais_curl_setopt_string(h, CURLOPT_COPYPOSTFIELDS, "")
            : body.withUnsafeBytes { raw in
                relais_curl_setopt_pointer(h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress))
            }
        try check(copied)
        try check(relais_curl_setopt_write_function(h, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let context else { return 0 }
            return Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue().write(data, count: size * count)
        })
        try check(relais_curl_setopt_pointer(h, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque()))
    }

    /// Parses `url` with libcurl's own parser, refuses user info, and hands libcurl the
    /// parsed URL, so that what was checked is what is used.
    private func useCheckedURL(_ url: String) throws(CurlError) {
        guard let parsed = curl_url() else { throw CurlError(code: CurlError.Code(CURLE_OUT_OF_MEMORY), operation: Self.operation) }
        parsedURL = parsed
        guard curl_url_set(parsed, CURLUPART_URL, url, 0) == CURLUE_OK else {
            throw CurlError(code: .malformedURL, operation: Self.operation)
        }
        for part in [CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_OPTIONS] {
            var value: UnsafeMutablePointer<CChar>?
            let found = curl_url_get(parsed, part, &value, 0)
            curl_free(value)
            guard found != CURLUE_OK else { throw CurlError(code: .userInfoNotAllowed, operation: Self.operation) }
        }
        try check(relais_curl_setopt_pointer(handle, CURLOPT_CURLU, UnsafeMutableRawPointer(parsed)))
    }

    /// The response, or the error, once libcurl returned `result` for this transfer.
    func outcome(_ result: CURLcode) -> Result<HTTPResponse, CurlError> {
        guard result != CURLE_OK else { return .success(HTTPResponse(status: responseCode(handle), body: sink.bytes)) }
        // Whatever else went wrong, a refused address is reported as such and nothing more,
        // so that the error says nothing of what listens there.
        if gate?.refused == true { return .failure(CurlError(code: .addressNotAllowed, operation: Self.operation)) }
        let detail = redacting(secrets, in: String(cString: errorBuffer).trimmingCharacters(in: .whitespacesAndNewlines))
        return .failure(CurlError(code: CurlError.Code(result), operation: Self.operation, responseCode: responseCode(handle), detail: detail))
    }

    private func check(_ result: CURLcode) throws(CurlError) {
        guard result == CURLE_OK else { throw CurlError(code: CurlError.Code(result), operation: Self.operation + " setup") }
    }
}

/// What the open-socket callback consults for one transfer, and whether it refused an address.
private final class AddressGate {
    let filter: ConnectionFilter
    var refused = false

    init(_ filter: ConnectionFilter) { self.filter = filter }
}

/// CURLOPT_OPENSOCKETFUNCTION for filtered transfers: a socket only for a permitted address.
private let openPermittedSocket: curl_opensocket_callback = { context, _, address in
    guard let context, let address else { return CURL_SOCKET_BAD }
    let gate = Unmanaged<AddressGate>.fromOpaque(context).takeUnretainedValue()
    var bytes = [UInt8](repeating: 0, count: 16)
    let count = Int(relais_curl_sockaddr_ip(address, &bytes))
    guard count > 0, gate.filter.permits(Array(bytes[..<count])) else {
        gate.refused = true
        return CURL_SOCKET_BAD
    }
    return socket(address.pointee.family, address.pointee.socktype | Int32(SOCK_CLOEXEC.rawValue), address.pointee.protocol)
}

/// `curl_global_init` runs once per process, before the first handle: a `static let`
/// is initialised exactly once even when threads race to it.
enum CurlGlobal {
    static let initResult: UInt32 = relais_curl_global_init().rawValue

    /// Throws if libcurl's one-time global initialisation failed.
    static func check() throws(CurlError) {
        guard initResult == 0 else {
            throw CurlError(code: CurlError.Code(rawValue: Int(initResult)), operation: "curl_global_init")
        }
    }
}

/// Collects a response body up to a limit; beyond it the bytes are read and dropped
/// (refusing them would abort the transfer and lose the status).
private final class ResponseSink {
    private(set) var bytes: [UInt8] = []
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    func write(_ data: UnsafeMutablePointer<CChar>?, count: Int) -> Int {
        let room = limit - bytes.count
        if let data, room > 0 {
            bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: min(room, count)))
        }
        return count
    }
}

/// `<address>`, as MAIL FROM and RCPT TO want it.
private func bracketed(_ address: String) -> String {
    address.hasPrefix("<") ? address : "<\(address)>"
}

/// The user name and password in `url` (as written and decoded), to be blanked out of error texts.
private func userInfo(of url: String) -> [String] {
    guard let components = URLComponents(string: url) else { return [] }
    return [components.percentEncodedUser, components.percentEncodedPassword, components.user, components.password]
        .compactMap { $0 }
}

private func milliseconds(_ duration: Duration) -> Int {
    let (seconds, attoseconds) = duration.components
    return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
}

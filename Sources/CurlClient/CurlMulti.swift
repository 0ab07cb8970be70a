import CCurl
import Foundation

/// HTTP POSTs in flight at once, all driven by the thread that owns this (libcurl's
/// multi interface), so that one slow endpoint does not hold up the others.
///
/// Deliberately not `Sendable`: a multi handle and its transfers belong to one thread.
/// `post` starts a transfer and returns at once; `wait` drives every transfer for a
/// while and returns those that ended. Connections stay in the multi handle's cache
/// after their transfer, so the next POST to the same host reuses them.
public final class CurlMulti {
    private var multi: UnsafeMutableRawPointer?
    /// The transfers in flight, by easy handle, with the caller's tag.
    private var transfers: [UnsafeMutableRawPointer: (tag: Int64, transfer: PostTransfer)] = [:]

    /// A multi handle opening at most `maximumConnectionsPerHost` connections to one host;
    /// further transfers to it wait for a free connection (their timeout runs meanwhile).
    public init(maximumConnectionsPerHost: Int) throws(CurlError) {
        try CurlGlobal.check()
        guard let multi = curl_multi_init() else {
            throw CurlError(code: CurlError.Code(CURLE_FAILED_INIT), operation: "curl_multi_init")
        }
        self.multi = multi
        _ = relais_curl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maximumConnectionsPerHost)
    }

    deinit { close() }

    /// How many transfers are in flight.
    public var count: Int { transfers.count }

    /// Starts POSTing `body` to `url`, as `CurlSession.post` does; its outcome comes out of
    /// `wait` under `tag`. Throws only when the transfer cannot be set up (a URL with user
    /// info under a filter, a URL libcurl cannot parse): then nothing was sent.
    public func post(tag: Int64, url: String, headers: [String], body: [UInt8], timeout: Duration,
                     filter: ConnectionFilter? = nil) throws(CurlError) {
        guard let multi else {
            throw CurlError(code: CurlError.Code(CURLE_FAILED_INIT), operation: PostTransfer.operation, detail: "multi handle is closed")
        }
        guard let h = curl_easy_init() else {
            throw CurlError(code: CurlError.Code(CURLE_FAILED_INIT), operation: "curl_easy_init")
        }
        let transfer = PostTransfer(handle: h)
        do {
            try transfer.configure(url: url, headers: headers, body: body, timeout: timeout, filter: filter)
        } catch {
            withExtendedLifetime(transfer) { curl_easy_cleanup(h) }
            throw error
        }
        guard curl_multi_add_handle(multi, h) == CURLM_OK else {
            withExtendedLifetime(transfer) { curl_easy_cleanup(h) }
            throw CurlError(code: CurlError.Code(CURLE_FAILED_INIT), operation: PostTransfer.operation, detail: "curl_multi_add_handle failed")
        }
        transfers[h] = (tag, transfer)
    }

    /// Drives the transfers until at least one ends or `timeout` passes; returns the
    /// outcomes of those that ended (possibly none).
    public func wait(upTo timeout: Duration) -> [(tag: Int64, result: Result<HTTPResponse, CurlError>)] {
        guard let multi, !transfers.isEmpty else { return [] }
        var running: Int32 = 0
        _ = curl_multi_perform(multi, &running)
        var ended = collect(multi)
        if ended.isEmpty && running > 0 {
            let (seconds, attoseconds) = timeout.components
            let waitMilliseconds = Int32(clamping: max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000))
            _ = curl_multi_poll(multi, nil, 0, waitMilliseconds, nil)
            _ = curl_multi_perform(multi, &running)
            ended = collect(multi)
        }
        return ended
    }

    /// Stops every transfer in flight and returns their tags; what they sent may or may
    /// not have arrived.
    public func cancelAll() -> [Int64] {
        let tags = transfers.values.map(\.tag)
        for (h, _) in transfers {
            if let multi { _ = curl_multi_remove_handle(multi, h) }
            curl_easy_cleanup(h)
        }
        transfers.removeAll()
        return tags
    }

    /// Cancels the transfers in flight and closes the cached connections.
    public func close() {
        _ = cancelAll()
        if let multi { _ = curl_multi_cleanup(multi) }
        multi = nil
    }

    private func collect(_ multi: UnsafeMutableRawPointer) -> [(tag: Int64, result: Result<HTTPResponse, CurlError>)] {
        var out: [(tag: Int64, result: Result<HTTPResponse, CurlError>)] = []
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let h = message.pointee.easy_handle,
                  let entry = transfers.removeValue(forKey: h) else { continue }
            // Read before removing the handle: the message does not outlive it.
            let result = relais_curl_msg_result(message)
            let outcome = withExtendedLifetime(entry.transfer) {
                let outcome = entry.transfer.outcome(result)
                _ = curl_multi_remove_handle(multi, h)
                curl_easy_cleanup(h)
                return outcome
            }
            out.append((entry.tag, outcome))
        }
        return out
    }
}

import CurlClient
import Foundation
import RelaisTestSupport
import Testing
@testable import RelaisDelivery

/// The libcurl wrapper itself: connection reuse, per-transfer options, limits, error texts.
@Suite struct CurlSessionTests {
    @Test func oneSessionReusesItsHTTPConnectionAndForgetsThePreviousHeaders() throws {
        let sink = try HttpSink(webhookSecret: HTTPDeliveryTests.secret)
        defer { sink.stop() }
        let session = try CurlSession()
        let sms = try SMSSender(url: sink.url("/sms"), token: "tok-reuse")
        let webhooks = WebhookSender(signer: try WebhookSigner(secret: HTTPDeliveryTests.secret))
        try sms.send(to: "+33600000000", text: "a", messageId: "m1", over: session)
        try webhooks.send(url: sink.url("/webhook"), id: "evt_1", body: Array("{}".utf8), now: Date(), over: session)

        let sent = try #require(sink.requests(path: "/sms").first)
        let hook = try #require(sink.requests(path: "/webhook").first)
        #expect(hook.headers["authorization"] == nil, "the SMS request's token leaked into the webhook")
        #expect(hook.headers["idempotency-key"] == nil)
        #expect(hook.verified == true, "\(hook.error ?? "")")
        #expect(sent.peer == hook.peer, "a second connection was opened: \(sent.peer) then \(hook.peer)")
    }

    @Test func responseBodyIsCutAt64KiBButTheStatusIsKept() throws {
        let sink = try HttpSink()
        defer { sink.stop() }
        try sink.setStatus(path: "/big", status: 202, bodySize: 200_000)
        let response = try CurlSession().post(url: sink.url("/big"), headers: [], body: [], timeout: .seconds(10))
        #expect(response.status == 202)
        #expect(response.body.count == CurlSession.maximumResponseBody)
        #expect(response.body.allSatisfy { $0 == UInt8(ascii: "x") })
    }

    @Test func errorTextNeverContainsTheURLPassword() throws {
        let password = "Pa55-w0rd-in-url"
        let session = try CurlSession()
        let error = #expect(throws: CurlError.self) {
            try session.sendMail(url: "smtp://someone:\(password)@127.0.0.1:\(freePort())", from: "a@example.org",
                                 to: ["b@example.org"], headers: ["Subject: x"], multipartType: "multipart/alternative",
                                 parts: [MailPart(contentType: "text/plain", body: Array("x\r\n".utf8))], requireTLS: false,
                                 caFile: nil, timeout: .seconds(5))
        }
        #expect(error?.code == .couldNotConnect, "\(String(describing: error))")
        #expect(error?.description.contains(password) == false, "\(String(describing: error))")
        #expect(error?.description.contains("SMTP send failed") == true, "\(String(describing: error))")
    }

    @Test func aClosedSessionThrowsInsteadOfCrashing() throws {
        let session = try CurlSession()
        session.close()
        #expect(throws: CurlError.self) {
            try session.post(url: "http://127.0.0.1:1/", headers: [], body: [], timeout: .seconds(1))
        }
    }
}

import CurlClient
import Foundation
import RelaisTestSupport
import Testing
@testable import RelaisDelivery

/// Webhooks and SMS through libcurl to a real HTTP server (`scripts/sinks/http-sink`).
@Suite struct HTTPDeliveryTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    @Test func webhookArrivesAndTheStandardWebhooksLibraryVerifiesIt() throws {
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret))
        let body = #"{"type":"order.ready","data":{"order":"42","boutique":"Fleurs d'Élise"}}"#
        try sender.send(url: sink.url("/webhook"), id: "evt_42", body: Array(body.utf8), now: Date(), over: try CurlSession())

        let requests = sink.requests(path: "/webhook")
        try #require(requests.count == 1)
        let request = requests[0]
        #expect(request.verified == true, "standardwebhooks said: \(request.error ?? "nil")")
        #expect(request.body == body)
        #expect(request.headers["webhook-id"] == "evt_42")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["user-agent"] == "Relais")
    }

    @Test func webhookSignedWithAnotherSecretDoesNotVerify() throws {
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        let sender = WebhookSender(signer: try WebhookSigner(secret: "whsec_AAECAwQFBgcICQoLDA0ODw=="))
        try sender.send(url: sink.url("/webhook"), id: "evt_1", body: Array("{}".utf8), now: Date(), over: try CurlSession())
        let requests = sink.requests(path: "/webhook")
        try #require(requests.count == 1)
        #expect(requests[0].verified == false)
    }

    @Test func webhookEndpointAnswering500IsTransientAndSayingSo() throws {
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        let session = try CurlSession()
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret))
        try sink.setStatus(path: "/webhook", status: 500)
        let failure = #expect(throws: DeliveryFailure.self) {
            try sender.send(url: sink.url("/webhook"), id: "evt_5", body: Array("{}".utf8), now: Date(), over: session)
        }
        #expect(failure?.permanent == false)
        #expect(failure?.reason == "webhook endpoint answered HTTP 500")

        try sink.setStatus(path: "/webhook", status: 200)
        try sender.send(url: sink.url("/webhook"), id: "evt_5", body: Array("{}".utf8), now: Date(), over: session)
        #expect(sink.requests(path: "/webhook").count == 2)
    }

    @Test func webhookEndpointAnswering404IsPermanent() throws {
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        try sink.setStatus(path: "/webhook", status: 404)
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret))
        let failure = #expect(throws: DeliveryFailure.self) {
            try sender.send(url: sink.url("/webhook"), id: "evt_4", body: Array("{}".utf8), now: Date(), over: try CurlSession())
        }
        #expect(failure?.permanent == true)
        #expect(failure?.reason == "webhook endpoint answered HTTP 404")
    }

    @Test func unreachableWebhookEndpointIsTransient() throws {
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret), timeout: .seconds(5))
        let failure = #expect(throws: DeliveryFailure.self) {
            try sender.send(url: "http://user:Secret-Basic-1@127.0.0.1:\(freePort())/webhook", id: "evt_1", body: Array("{}".utf8),
                            now: Date(), over: try CurlSession())
        }
        #expect(failure?.permanent == false)
        #expect(failure?.reason.hasPrefix("webhook endpoint unreachable") == true, "\(String(describing: failure))")
        #expect(failure?.reason.contains("Secret-Basic-1") == false)
    }

    @Test func smsPostsJSONWithTheBearerTokenAndAnIdempotencyKey() throws {
        let sink = try HttpSink()
        defer { sink.stop() }
        let sms = try SMSSender(url: sink.url("/sms"), token: "tok-123-secret")
        let text = "Votre commande n°42 est prête. Retrait avant 19 h \"chez Léa\"."
        try sms.send(to: "+33612345678", text: text, messageId: "relais-42", over: try CurlSession())

        let requests = sink.requests(path: "/sms")
        try #require(requests.count == 1)
        let request = requests[0]
        #expect(request.headers["authorization"] == "Bearer tok-123-secret")
        #expect(request.headers["content-type"] == "application/json")
        #expect(request.headers["idempotency-key"] == "relais-42")
        let json = try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: String]
        #expect(json == ["to": "+33612345678", "text": text])
    }

    @Test func smsGatewayErrorsAreClassifiedWithoutThePhoneOrToken() throws {
        let sink = try HttpSink()
        defer { sink.stop() }
        let session = try CurlSession()
        let sms = try SMSSender(url: sink.url("/sms"), token: "tok-123-secret")
        for (status, permanent) in [(503, false), (400, true), (401, false)] {
            try sink.setStatus(path: "/sms", status: status)
            let failure = #expect(throws: DeliveryFailure.self) {
                try sms.send(to: "+33612345678", text: "x", messageId: "m", over: session)
            }
            #expect(failure?.permanent == permanent, "HTTP \(status): \(String(describing: failure))")
            #expect(failure?.reason.contains("HTTP \(status)") == true)
            #expect(failure?.reason.contains("+33612345678") == false)
            #expect(failure?.reason.contains("tok-123-secret") == false)
        }
    }
}

import CurlClient
import Foundation
import RelaisTestSupport
import Testing
@testable import RelaisDelivery

/// Webhooks and SMS through libcurl to a real HTTP server (`scripts/sinks/http-sink`).
@Suite struct HTTPDeliveryTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    /// The sinks listen on loopback, which webhooks may only reach when the operator allows it.
    static let loopback = WebhookAddressPolicy(allowing: [IPNetwork("127.0.0.1/32")!])

    @Test func webhookArrivesAndTheStandardWebhooksLibraryVerifiesIt() throws {
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret), addresses: Self.loopback)
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
        let sender = WebhookSender(signer: try WebhookSigner(secret: "whsec_AAECAwQFBgcICQoLDA0ODw=="), addresses: Self.loopback)
        try sender.send(url: sink.url("/webhook"), id: "evt_1", body: Array("{}".utf8), now: Date(), over: try CurlSession())
        let requests = sink.requests(path: "/webhook")
        try #require(requests.count == 1)
        #expect(requests[0].verified == false)
    }

    @Test func webhookEndpointAnswering500IsTransientAndSayingSo() throws {
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        let session = try CurlSession()
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret), addresses: Self.loopback)
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
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret), addresses: Self.loopback)
        let failure = #expect(throws: DeliveryFailure.self) {
            try sender.send(url: sink.url("/webhook"), id: "evt_4", body: Array("{}".utf8), now: Date(), over: try CurlSession())
        }
        #expect(failure?.permanent == true)
        #expect(failure?.reason == "webhook endpoint answered HTTP 404")
    }

    @Test func unreachableWebhookEndpointIsTransient() throws {
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret), timeout: .seconds(5), addresses: Self.loopback)
        let failure = #expect(throws: DeliveryFailure.self) {
            try sender.send(url: "http://127.0.0.1:\(freePort())/webhook", id: "evt_1", body: Array("{}".utf8),
                            now: Date(), over: try CurlSession())
        }
        #expect(failure?.permanent == false)
        #expect(failure?.reason.hasPrefix("webhook endpoint unreachable") == true, "\(String(describing: failure))")
    }

    /// Every way of writing a loopback, private or link-local address is refused before
    /// connecting, with one reason whatever listens there; the sink on 127.0.0.1 hears nothing.
    @Test func webhookToANonPublicAddressIsRefusedBeforeConnecting() throws {
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        let closed = freePort()
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret), timeout: .seconds(5))
        let session = try CurlSession()
        let urls = [
            sink.url("/webhook"), "http://127.0.0.1:\(closed)/webhook", "http://127.1:\(sink.port)/webhook",
            "http://2130706433:\(sink.port)/webhook", "http://0x7f.1:\(sink.port)/webhook", "http://localhost:\(sink.port)/webhook",
            "http://[::1]:\(sink.port)/webhook", "http://[::ffff:127.0.0.1]:\(sink.port)/webhook", "http://0.0.0.0:\(sink.port)/webhook",
            "http://169.254.169.254/latest/meta-data/", "http://10.255.255.1/webhook", "http://192.168.1.1/webhook",
            "http://[fe80::1]/webhook", "http://[fd00::1]/webhook",
        ]
        for url in urls {
            let started = ContinuousClock.now
            let failure = #expect(throws: DeliveryFailure.self, "\(url)") {
                try sender.send(url: url, id: "evt_1", body: Array("{}".utf8), now: Date(), over: session)
            }
            #expect(failure?.reason == WebhookSender.addressRefused, "\(url): \(String(describing: failure))")
            #expect(failure?.permanent == true, "\(url)")
            // Refused before any connection: no connect timeout to wait for.
            #expect(ContinuousClock.now - started < .seconds(1), "\(url) took \(ContinuousClock.now - started)")
        }
        #expect(sink.requests(path: "/webhook").isEmpty, "the sink on loopback was reached")
    }

    @Test func allowListLetsWebhooksReachItsNetworksOnly() throws {
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret), addresses: Self.loopback)
        let session = try CurlSession()
        try sender.send(url: "http://localhost:\(sink.port)/webhook", id: "evt_1", body: Array("{}".utf8), now: Date(), over: session)
        #expect(sink.requests(path: "/webhook").count == 1)
        let failure = #expect(throws: DeliveryFailure.self) {
            try sender.send(url: "http://[::1]:\(sink.port)/webhook", id: "evt_2", body: Array("{}".utf8), now: Date(), over: session)
        }
        #expect(failure?.reason == WebhookSender.addressRefused, "\(String(describing: failure))")
    }

    @Test(arguments: ["http://user:Secret-Basic-1@127.0.0.1:PORT/webhook", "http://:Secret-Basic-1@127.0.0.1:PORT/webhook",
                      "http://user@127.0.0.1:PORT/webhook", "http://user;auth=x@127.0.0.1:PORT/webhook"])
    func webhookURLWithUserInfoIsRefusedAndNothingIsSent(template: String) throws {
        let sink = try HttpSink(webhookSecret: Self.secret)
        defer { sink.stop() }
        let url = template.replacingOccurrences(of: "PORT", with: String(sink.port))
        let sender = WebhookSender(signer: try WebhookSigner(secret: Self.secret), addresses: Self.loopback)
        let failure = #expect(throws: DeliveryFailure.self) {
            try sender.send(url: url, id: "evt_1", body: Array("{}".utf8), now: Date(), over: try CurlSession())
        }
        #expect(failure?.reason == WebhookSender.userInfoRefused, "\(String(describing: failure))")
        #expect(failure?.permanent == true)
        #expect(failure?.reason.contains("Secret-Basic-1") == false)
        #expect(sink.requests(path: "/webhook").isEmpty)
    }

    @Test func filteredTransferRefusesUserInfoAsLibcurlParsesIt() throws {
        // URLComponents and libcurl may read an odd URL differently: the filtered transfer
        // checks it with libcurl's own parser.
        let sink = try HttpSink()
        defer { sink.stop() }
        let filter = ConnectionFilter { _ in true }
        let error = #expect(throws: CurlError.self) {
            try CurlSession().post(url: "http://u:p@127.0.0.1:\(sink.port)/webhook", headers: [], body: [], timeout: .seconds(5),
                                   filter: filter)
        }
        #expect(error?.code == .userInfoNotAllowed)
        #expect(sink.requests(path: "/webhook").isEmpty)
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

import CurlClient
import Foundation
import Testing
@testable import RelaisDelivery

/// The pure parts of delivery: message format, signatures, outcome rules. No servers.
@Suite struct MessageFormatTests {
    @Test func accentedSubjectBecomesUTF8EncodedWordsThatNeverSplitACharacter() {
        // Expected value computed independently with Python's base64 on 39-byte chunks.
        let encoded = MailHeader.encodedWords("Votre commande n°42 est prête à être retirée")
        #expect(encoded == "=?UTF-8?B?Vm90cmUgY29tbWFuZGUgbsKwNDIgZXN0IHByw6p0ZSDDoCDDqnRy?=\r\n =?UTF-8?B?ZSByZXRpcsOpZQ==?=")
        for line in encoded.components(separatedBy: "\r\n") {
            #expect(("Subject: " + line).count <= 76, "line too long for RFC 2047: \(line)")
        }
    }

    @Test func shortASCIISubjectStaysReadable() {
        #expect(MailHeader.encodedWords("Order 42 is ready") == "Order 42 is ready")
    }

    static func message(from: Mailbox = Mailbox(name: nil, address: "shop@example.org"), subject: String = "Prête",
                        replyTo: String? = nil, thread: String? = nil) -> EmailMessage {
        EmailMessage(messageId: "<relais-42@commerces.example>", from: from, to: "client@example.fr", replyTo: replyTo,
                     thread: thread, subject: subject, text: "Texte", html: "<p>Texte</p>", date: Date(timeIntervalSince1970: 1_715_675_400))
    }

    @Test func subjectCannotInjectAHeader() {
        let lines = Self.message(subject: "Hello\r\nBcc: victim@example.com").headerLines
        #expect(!lines.joined(separator: "\r\n").contains("\r\nBcc:"), "a CRLF in the subject started a header: \(lines)")
    }

    @Test func aShopNameCannotInjectAHeaderThroughTheSendersName() throws {
        let sender = try #require(Mailbox(parsing: "Mes commerçants <noreply@commerces.example>"))
        let from = sender.named("Boulangerie\r\nBcc: victim@example.com via Mes commerçants").header
        #expect(!from.contains("\n") || from.components(separatedBy: "\r\n").dropFirst().allSatisfy { $0.hasPrefix(" ") },
                "a line of the From header does not continue it: \(from)")
        #expect(!from.contains("Bcc:"), "the name reached the header unencoded: \(from)")
    }

    @Test func partsUseCRLFLineEndingsTextFirst() {
        let parts = Self.message().parts
        #expect(parts.map(\.contentType) == ["text/plain; charset=utf-8", "text/html; charset=utf-8"])
        #expect(EmailMessage.crlf("a\nb\r\nc\rd") == Array("a\r\nb\r\nc\r\nd\r\n".utf8))
        #expect(EmailMessage.crlf("a\n") == Array("a\r\n".utf8))
    }

    @Test func messageHasTheHeadersMailClientsNeed() {
        let lines = Self.message(replyTo: "martin@boulangerie.example", thread: "<relais-order-A-1@commerces.example>").headerLines
        #expect(lines.prefix(4) == ["Date: Tue, 14 May 2024 08:30:00 +0000", "From: shop@example.org", "To: client@example.fr",
                                    "Reply-To: martin@boulangerie.example"])
        #expect(lines.contains("Message-ID: <relais-42@commerces.example>"))
        #expect(lines.contains("In-Reply-To: <relais-order-A-1@commerces.example>"))
        #expect(lines.contains("References: <relais-order-A-1@commerces.example>"))
        #expect(lines.contains("Auto-Submitted: auto-generated"))
        #expect(lines.contains("X-Auto-Response-Suppress: All"))
        #expect(!lines.contains { $0.hasPrefix("Content-Type") }, "libcurl writes Content-Type with its boundary")
    }

    @Test(arguments: [
        ("noreply@commerces.example", nil, "noreply@commerces.example"),
        ("Mes commerces <noreply@commerces.example>", "Mes commerces", "\"Mes commerces\" <noreply@commerces.example>"),
        ("\"Martin \\\"& Fils\\\"\" <a@b.example>", "Martin \"& Fils\"", "\"Martin \\\"& Fils\\\"\" <a@b.example>"),
        ("Mes commerçants <noreply@commerces.example>", "Mes commerçants", "=?UTF-8?B?TWVzIGNvbW1lcsOnYW50cw==?= <noreply@commerces.example>"),
    ] as [(String, String?, String)])
    func aSenderMayCarryADisplayNameEncodedWhenItIsNotASCII(text: String, name: String?, header: String) throws {
        let mailbox = try #require(Mailbox(parsing: text))
        #expect(mailbox.name == name)
        #expect(mailbox.header == header)
    }

    @Test(arguments: ["", "Name <>", "Name <not an address>", "Nom <adresse@exemple.fr", "Ch\u{0}ef <a@b.example>",
                      "Éloïse <éloïse@exemple.fr>", "a@b.example, c@d.example"])
    func aSenderThatCannotBeSentIsRefused(text: String) {
        #expect(Mailbox(parsing: text) == nil)
    }

    @Test func customerMessagesComeFromTheShopViaTheMarketplaceWithReplyToTheShop() throws {
        let sender = EmailSender(settings: try SMTPSettings(url: "smtp://127.0.0.1:2525", from: "Mes commerçants <noreply@commerces.example>"))
        let message = sender.compose(outboxId: "7", to: "client@example.fr", subject: "S", text: "T", html: "<p>T</p>", date: Date(),
                                     orderId: "A-1", shop: (name: "Boulangerie Martin", email: "martin@boulangerie.example"))
        #expect(message.from == Mailbox(name: "Boulangerie Martin via Mes commerçants", address: "noreply@commerces.example"))
        #expect(message.replyTo == "martin@boulangerie.example")
        #expect(message.thread == "<relais-order-A-1@commerces.example>")
        let toShop = sender.compose(outboxId: "8", to: "martin@boulangerie.example", subject: "S", text: "T", html: "<p>T</p>",
                                    date: Date(), orderId: "A-1")
        #expect(toShop.from == Mailbox(name: "Mes commerçants", address: "noreply@commerces.example"))
        #expect(toShop.replyTo == nil)
        #expect(toShop.thread == message.thread, "one order, one thread id")
        let unsendable = sender.compose(outboxId: "9", to: "client@example.fr", subject: "S", text: "T", html: "<p>T</p>", date: Date(),
                                        orderId: "A-1", shop: (name: "Épicerie", email: "épicerie@exemple.fr"))
        #expect(unsendable.replyTo == nil, "an address SMTP cannot carry is left out rather than mangled")
    }

    @Test(arguments: [
        ("A-1042", "<relais-order-A-1042@shop.example>"),
        ("a b", "<relais-order-x612062@shop.example>"),
        ("a-b", "<relais-order-a-b@shop.example>"),
    ])
    func theThreadIdIsStableAndTellsOrdersApart(order: String, expected: String) {
        #expect(EmailMessage.threadId(orderId: order, from: "noreply@shop.example") == expected)
    }

    @Test(arguments: [
        ("42", "noreply@shop.example", "<relais-42@shop.example>"),
        ("a b<c>", "noreply@shop.example", "<relais-a-b-c-@shop.example>"),
        ("7", "no-domain", "<relais-7@relais.local>"),
    ])
    func messageIdComesFromTheOutboxIdAndTheSenderDomain(id: String, from: String, expected: String) {
        #expect(EmailMessage.messageId(outboxId: id, from: from) == expected)
    }
}

@Suite struct WebhookSignerTests {
    @Test func matchesTheStandardWebhooksSpecificationExample() throws {
        // The example of the Standard Webhooks specification, also what its Python library computes.
        let signer = try WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let signature = signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
                                         body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func matchesPythonHMACOnAUTF8Body() throws {
        // python3 -c 'hmac.new(b64decode(secret), b"evt_42.1700000000." + body, sha256)'
        let signer = try WebhookSigner(secret: "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let signature = signer.signature(id: "evt_42", timestamp: 1_700_000_000, body: Array(#"{"commande":"n°42 prête"}"#.utf8))
        #expect(signature == "v1,T1phBckL3mcfUFKo5XKy6Qe5ZZ8K983hSTxAp6LMChw=")
    }

    @Test func acceptsASecretWithoutPadding() throws {
        let padded = try WebhookSigner(secret: "whsec_AAECAw==").signature(id: "a", timestamp: 1, body: [])
        let unpadded = try WebhookSigner(secret: "whsec_AAECAw").signature(id: "a", timestamp: 1, body: [])
        #expect(padded == unpadded)
    }

    @Test(arguments: ["", "whsec_", "not base64!"])
    func rejectsASecretThatIsNotBase64(secret: String) {
        #expect(throws: DeliveryConfigurationError.self) { try WebhookSigner(secret: secret) }
    }
}

@Suite struct OutcomeRuleTests {
    @Test(arguments: [
        (200, nil), (202, nil), (204, nil),
        (408, false), (425, false), (429, false), (500, false), (502, false), (503, false),
        (400, true), (401, true), (403, true), (404, true), (410, true), (422, true), (301, true),
    ] as [(Int, Bool?)])
    func webhookStatusDecidesTheOutcome(status: Int, permanent: Bool?) {
        let failure = HTTPOutcome.failure(status: status, endpoint: "webhook endpoint")
        #expect(failure?.permanent == permanent, "HTTP \(status)")
        if let failure { #expect(failure.reason.contains("HTTP \(status)"), "\(failure.reason)") }
    }

    @Test(arguments: [401, 403])
    func refusedGatewayTokenIsTransient(status: Int) {
        #expect(HTTPOutcome.failure(status: status, endpoint: "SMS gateway", credentialsAreOurs: true)?.permanent == false)
    }

    @Test func redactionHidesEverySecret() {
        #expect(redacting(["pw", "a@b.fr", ""], in: "login pw for a@b.fr") == "login *** for ***")
        #expect(redacting(["p"], in: "smtp://u:p@host port 25") == "smtp://u:***@host port 25", "a short secret mangled a word")
        #expect(redacting(["x9"], in: "x9x9 x9") == "x9x9 ***")
    }
}

@Suite struct SettingsTests {
    @Test(arguments: ["http://mail.example:25", "smtp://", "mail.example:25", "smtp:///nohost"])
    func smtpURLMustBeSMTPWithAHost(url: String) {
        #expect(throws: DeliveryConfigurationError.self) { try SMTPSettings(url: url, from: "noreply@example.org") }
    }

    @Test(arguments: ["", "no-at-sign", "Relais <noreply@localhost>", "a@b\r\nBcc: x@y", "noreply@localhost", "élodie@crèmerie.fr",
                      "Re\u{7}lais <noreply@example.org>"])
    func senderMustBeAnAddressSMTPCanCarryWithOrWithoutAName(from: String) {
        #expect(throws: DeliveryConfigurationError.self) { try SMTPSettings(url: "smtp://mail.example", from: from) }
    }

    @Test func senderMayCarryADisplayName() throws {
        let settings = try SMTPSettings(url: "smtp://mail.example", from: "Mes commerçants <noreply@example.org>")
        #expect(settings.from == Mailbox(name: "Mes commerçants", address: "noreply@example.org"))
    }

    @Test func redactedURLHasNoPassword() throws {
        let settings = try SMTPSettings(url: "smtps://relais:Sup3r-Secret@mail.example:465", from: "noreply@example.org")
        #expect(settings.redactedURL == "smtps://relais@mail.example:465")
    }

    @Test func smsSettingsRejectABadURLOrToken() {
        #expect(throws: DeliveryConfigurationError.self) { try SMSSender(url: "ftp://gw.example/sms", token: "t") }
        #expect(throws: DeliveryConfigurationError.self) { try SMSSender(url: "https://gw.example/sms", token: "a\r\nX-Evil: 1") }
    }
}

@Suite struct WebhookAddressPolicyTests {
    @Test(arguments: [
        "127.0.0.1", "127.255.255.254", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "0.1.2.3", "192.0.0.8", "192.0.2.1", "198.18.0.1", "224.0.0.1", "239.255.255.250",
        "255.255.255.255", "240.0.0.1", "::", "::1", "fe80::1", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::7f00:1", "64:ff9b::a00:1",
        "2002:7f00:1::1", "2002:c0a8:101::1", "2001:db8::1", "2001::1", "::127.0.0.1", "100::1", "fec0::1",
    ])
    func nonPublicAddressIsRefused(address: String) throws {
        let network = try #require(IPNetwork(address))
        #expect(!WebhookAddressPolicy().permits(network.address), "\(address) was permitted")
    }

    @Test(arguments: ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "193.0.0.1", "2606:4700:4700::1111", "2a00:1450:4007::1",
                      "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
    func publicAddressIsPermitted(address: String) throws {
        let network = try #require(IPNetwork(address))
        #expect(WebhookAddressPolicy().permits(network.address), "\(address) was refused")
    }

    @Test func allowListPermitsItsNetworksAndNothingElse() throws {
        let policy = WebhookAddressPolicy(allowing: try #require(try? IPNetwork.list("127.0.0.1, 10.20.0.0/16 fd00:1::/32").get()))
        for allowed in ["127.0.0.1", "::ffff:127.0.0.1", "10.20.255.1", "fd00:1:ffff::1"] {
            #expect(policy.permits(IPNetwork(allowed)!.address), "\(allowed)")
        }
        for refused in ["127.0.0.2", "::1", "10.21.0.1", "fd00:2::1", "169.254.169.254"] {
            #expect(!policy.permits(IPNetwork(refused)!.address), "\(refused)")
        }
    }

    @Test func networksParseStrictly() {
        #expect(IPNetwork("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(IPNetwork("::ffff:10.0.0.0/104")?.description == "10.0.0.0/8")
        #expect(IPNetwork("fd00::/8")?.description == "fd00::/8")
        for bad in ["127.1", "2130706433", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "::/129", "localhost", ""] {
            #expect(IPNetwork(bad) == nil, "\(bad) parsed")
        }
        guard case .failure(let error) = IPNetwork.list("10.0.0.0/8,nope") else {
            Issue.record("a bad entry was accepted")
            return
        }
        #expect(error.entry == "nope")
    }
}

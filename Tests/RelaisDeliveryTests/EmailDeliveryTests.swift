import CurlClient
import Foundation
import RelaisTestSupport
import Testing
@testable import RelaisDelivery

/// E-mail through libcurl to a real SMTP server (aiosmtpd, `scripts/sinks/smtp-sink`).
@Suite struct EmailDeliveryTests {
    static let credentials = "relais:Mot-de-passe-9f3k"
    static let password = "Mot-de-passe-9f3k"

    func sender(_ url: String, requireTLS: Bool = false, allowPlaintextAuth: Bool = false, caFile: String? = nil) throws -> EmailSender {
        EmailSender(settings: try SMTPSettings(url: url, from: "noreply@commerces.example", requireTLS: requireTLS,
                                               allowPlaintextAuth: allowPlaintextAuth, caFile: caFile, timeout: .seconds(10)))
    }

    @Test func frenchMailArrivesIntactOverPlainSMTPWithAuth() throws {
        let sink = try SmtpSink(auth: Self.credentials)
        defer { sink.stop() }
        let session = try CurlSession()
        let sender = try sender(sink.url(credentials: Self.credentials), allowPlaintextAuth: true)
        // Lines starting with "." and a lone "." prove the dots are stuffed exactly once;
        // the long line proves soft breaks decode back to one line.
        let text = """
            Bonjour Éloïse,

            Votre commande n°42 chez « Boulangerie Lefèvre » est prête : retrait jusqu'à 19 h.
            .Cette ligne commence par un point.
            .
            Montant : 12,50 €. Merci et à bientôt ! Œufs, crème brûlée, façon grand-mère, très épicé et sûrement délicieux.

            """
        let message = sender.compose(outboxId: "42", to: "eloise@example.fr",
                                     subject: "Votre commande n°42 est prête à être retirée — Boulangerie Lefèvre",
                                     text: text, html: "<p>Texte</p>", date: Date(timeIntervalSince1970: 1_715_675_400))
        try sender.send(message, over: session)

        let mails = sink.waitForMessages(1)
        try #require(mails.count == 1, "the sink received \(mails.count) messages")
        let mail = mails[0]
        #expect(mail.mailFrom == "noreply@commerces.example")
        #expect(mail.recipients == ["eloise@example.fr"])
        #expect(mail.authenticated)
        #expect(!mail.tls)
        #expect(mail.subject == "Votre commande n°42 est prête à être retirée — Boulangerie Lefèvre")
        #expect(mail.headers["Message-ID"] == "<relais-42@commerces.example>")
        #expect(mail.headers["From"] == "noreply@commerces.example")
        #expect(mail.headers["To"] == "eloise@example.fr")
        #expect(mail.headers["Date"] == "Tue, 14 May 2024 08:30:00 +0000")
        #expect(mail.charset == "utf-8")
        #expect(mail.body == text, "body differs:\n\(mail.body ?? "nil")\n---raw---\n\(mail.raw)")
        #expect(!mail.raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "a bare LF went on the wire")
        session.close()
    }

    @Test func twoMailsOverOneSessionShareOneConnection() throws {
        let sink = try SmtpSink()
        defer { sink.stop() }
        let session = try CurlSession()
        let sender = try sender(sink.url())
        for id in ["1", "2"] {
            try sender.send(sender.compose(outboxId: id, to: "client\(id)@example.fr", subject: "Message \(id)",
                                           text: "Texte \(id)\n", html: "<p>Texte</p>", date: Date()), over: session)
        }
        let mails = sink.waitForMessages(2)
        try #require(mails.count == 2, "the sink received \(mails.count) messages")
        #expect(mails.map(\.recipients) == [["client1@example.fr"], ["client2@example.fr"]], "the second mail kept the first's recipients?")
        #expect(mails.map { $0.headers["Message-ID"] } == ["<relais-1@commerces.example>", "<relais-2@commerces.example>"])
        #expect(mails[0].peer == mails[1].peer, "a new connection was opened for the second mail: \(mails.map(\.peer))")
    }

    @Test func serverDownIsATransientFailureAndSendingWorksOnceItIsBack() throws {
        let sink = try SmtpSink()
        defer { sink.stop() }
        let session = try CurlSession()
        let sender = try sender(sink.url())
        let message = sender.compose(outboxId: "7", to: "client@example.fr", subject: "Retour", text: "Texte\n", html: "<p>Texte</p>", date: Date())
        try sender.send(message, over: session)
        sink.stop()

        let failure = #expect(throws: DeliveryFailure.self) { try sender.send(message, over: session) }
        #expect(failure?.permanent == false, "\(String(describing: failure))")
        #expect(failure?.reason.contains("client@example.fr") == false, "\(String(describing: failure))")

        try sink.start()
        try sender.send(message, over: session)
        #expect(sink.waitForMessages(2).count == 2)
    }

    @Test func refusedLoginIsTransientAndTheReasonHidesThePassword() throws {
        let sink = try SmtpSink(auth: Self.credentials)
        defer { sink.stop() }
        let wrongPassword = "Faux-Secret-77zq"
        let sender = try sender(sink.url(credentials: "relais:\(wrongPassword)"), allowPlaintextAuth: true)
        let message = sender.compose(outboxId: "8", to: "client@example.fr", subject: "S", text: "T\n", html: "<p>Texte</p>", date: Date())
        let failure = #expect(throws: DeliveryFailure.self) { try sender.send(message, over: try CurlSession()) }
        #expect(failure?.permanent == false)
        #expect(failure?.reason.contains("refused the login") == true, "\(String(describing: failure))")
        for secret in [wrongPassword, "client@example.fr", "noreply@commerces.example"] {
            #expect(failure?.reason.contains(secret) == false, "reason leaks \(secret): \(String(describing: failure))")
            #expect(failure?.description.contains(secret) == false)
        }
        #expect(sink.messages().isEmpty)
    }

    @Test func credentialsAreNotSentInClearUnlessTheOperatorAllowsIt() throws {
        // The sink offers AUTH without STARTTLS, as a misconfigured or hostile server would.
        let sink = try SmtpSink(auth: Self.credentials)
        defer { sink.stop() }
        let message = { (sender: EmailSender) in
            sender.compose(outboxId: "10", to: "client@example.fr", subject: "S", text: "T\n", html: "<p>Texte</p>", date: Date())
        }
        let guarded = try sender(sink.url(credentials: Self.credentials))
        #expect(guarded.settings.startTLSRequired)
        let failure = #expect(throws: DeliveryFailure.self) { try guarded.send(message(guarded), over: try CurlSession()) }
        #expect(failure?.permanent == false, "the operator can fix it; the message waits: \(String(describing: failure))")
        #expect(failure?.reason.contains("STARTTLS") == true, "\(String(describing: failure))")
        #expect(failure?.reason.contains("smtp_allow_plaintext_auth") == true, "\(String(describing: failure))")
        #expect(failure?.reason.contains(Self.password) == false)
        #expect(sink.messages().isEmpty, "a message went out")

        let allowed = try sender(sink.url(credentials: Self.credentials), allowPlaintextAuth: true)
        #expect(!allowed.settings.startTLSRequired)
        try allowed.send(message(allowed), over: try CurlSession())
        let mails = sink.waitForMessages(1)
        #expect(mails.count == 1 && mails.first?.authenticated == true && mails.first?.tls == false)

        // Without credentials there is nothing to protect: STARTTLS stays opportunistic.
        #expect(!(try sender(sink.url())).settings.startTLSRequired)
    }

    @Test func rejectedRecipientIsPermanentAndDeferredOneTransient() throws {
        let sink = try SmtpSink(rejectRecipients: "inconnu", deferRecipients: "plein")
        defer { sink.stop() }
        let session = try CurlSession()
        let sender = try sender(sink.url())

        let rejected = #expect(throws: DeliveryFailure.self) {
            try sender.send(sender.compose(outboxId: "1", to: "inconnu@example.fr", subject: "S", text: "T\n", html: "<p>Texte</p>", date: Date()), over: session)
        }
        #expect(rejected?.permanent == true, "\(String(describing: rejected))")
        #expect(rejected?.reason.contains("550") == true, "\(String(describing: rejected))")
        #expect(rejected?.reason.contains("inconnu@") == false, "\(String(describing: rejected))")

        let deferred = #expect(throws: DeliveryFailure.self) {
            try sender.send(sender.compose(outboxId: "2", to: "plein@example.fr", subject: "S", text: "T\n", html: "<p>Texte</p>", date: Date()), over: session)
        }
        #expect(deferred?.permanent == false, "\(String(describing: deferred))")

        // The session still works after the rejections.
        try sender.send(sender.compose(outboxId: "3", to: "ok@example.fr", subject: "S", text: "T\n", html: "<p>Texte</p>", date: Date()), over: session)
        #expect(sink.waitForMessages(1).map(\.recipients) == [["ok@example.fr"]])
    }

    @Test func startTLSWithATrustedSelfSignedCertificate() throws {
        let certificate = try TestCertificate.make()
        let sink = try SmtpSink(auth: Self.credentials, certificate: certificate)
        defer { sink.stop() }
        let sender = try sender(sink.url(credentials: Self.credentials), requireTLS: true, caFile: certificate.certificatePath)
        try sender.send(sender.compose(outboxId: "9", to: "client@example.fr", subject: "Sécurisé", text: "Chiffré\n", html: "<p>Texte</p>", date: Date()),
                        over: try CurlSession())
        let mails = sink.waitForMessages(1)
        try #require(mails.count == 1)
        #expect(mails[0].tls, "the message went in clear text")
        #expect(mails[0].authenticated)
        #expect(mails[0].subject == "Sécurisé")
    }

    @Test func startTLSWithAnUntrustedCertificateFailsInsteadOfFallingBack() throws {
        let certificate = try TestCertificate.make()
        let sink = try SmtpSink(certificate: certificate)
        defer { sink.stop() }
        let sender = try sender(sink.url())  // STARTTLS is tried; no CA file, so the certificate cannot verify
        let failure = #expect(throws: DeliveryFailure.self) {
            try sender.send(sender.compose(outboxId: "1", to: "c@example.fr", subject: "S", text: "T\n", html: "<p>Texte</p>", date: Date()), over: try CurlSession())
        }
        #expect(failure?.permanent == false)
        #expect(failure?.reason.contains("certificate") == true, "\(String(describing: failure))")
        #expect(sink.messages().isEmpty)
    }

    @Test func requiredTLSRefusesAServerWithoutStartTLS() throws {
        let sink = try SmtpSink()
        defer { sink.stop() }
        let sender = try sender(sink.url(), requireTLS: true)
        let failure = #expect(throws: DeliveryFailure.self) {
            try sender.send(sender.compose(outboxId: "1", to: "c@example.fr", subject: "S", text: "T\n", html: "<p>Texte</p>", date: Date()), over: try CurlSession())
        }
        #expect(failure?.permanent == false)
        #expect(failure?.reason.contains("STARTTLS") == true, "\(String(describing: failure))")
        #expect(sink.messages().isEmpty, "the message went out without TLS")
    }

    @Test func implicitTLSOverSMTPS() throws {
        let certificate = try TestCertificate.make()
        let sink = try SmtpSink(certificate: certificate, implicitTLS: true)
        defer { sink.stop() }
        let sender = try sender(sink.url(scheme: "smtps"), caFile: certificate.certificatePath)
        try sender.send(sender.compose(outboxId: "1", to: "c@example.fr", subject: "S", text: "T\n", html: "<p>Texte</p>", date: Date()), over: try CurlSession())
        let mails = sink.waitForMessages(1)
        try #require(mails.count == 1)
        #expect(mails[0].tls)
    }
}

import Foundation
import Testing
import RelaisDomain
@testable import RelaisMessages

@Suite struct TemplateSetTests {
    /// A copy of the shipped templates to break.
    func shippedCopy() -> String {
        let folder = Fixtures.temporaryFolder()
        for path in TemplateSet.requiredPaths {
            let text = try! String(contentsOfFile: Fixtures.shippedFolder + "/" + path, encoding: .utf8)
            Fixtures.write(text, to: path, in: folder)
        }
        return folder
    }

    @Test func shippedFolderHasExactlyTheSet() throws {
        let files = try #require(FileManager.default.enumerator(atPath: Fixtures.shippedFolder)?.allObjects as? [String])
        #expect(Set(files.filter { $0.hasSuffix(".mustache") }) == TemplateSet.requiredPaths)
        #expect(TemplateSet.requiredPaths.count == 5 * 3 + 13 * 3 * 2 + 2,
                "e-mail, HTML and SMS: shop messages in French, customer ones in both; a layout per language")
    }

    @Test func everyMessageTemplateHasItsShippedFilesAndNoFileLacksACase() throws {
        let files = try #require(FileManager.default.enumerator(atPath: Fixtures.shippedFolder)?.allObjects as? [String])
        let shipped = Set(files.filter { $0.hasSuffix(".mustache") })
        for template in MessageTemplate.allCases {
            for language in template.languages {
                for channel in ["email", "html", "sms"] {
                    let path = "\(language.rawValue)/\(template.rawValue).\(channel).mustache"
                    #expect(shipped.contains(path), "\(template) has no \(path) in templates/")
                }
            }
        }
        for path in shipped where !path.hasSuffix("/layout.html.mustache") {
            let name = path.split(separator: "/").last!.split(separator: ".").first.map(String.init) ?? ""
            #expect(MessageTemplate(rawValue: name) != nil, "templates/\(path) is not a MessageTemplate case")
        }
        #expect(MessageTemplate.allCases.filter { $0.recipient == .shop }.allSatisfy { $0.rawValue.hasSuffix("-shop") })
    }

    @Test func overrideReplacesOneTemplate() throws {
        let folder = Fixtures.temporaryFolder()
        Fixtures.write("Subject: Prête ! {{order_id}}\n\nC'est prêt, {{customer_name}}.\n",
                       to: "fr/order-ready-customer.email.mustache", in: folder)
        let templates = try TemplateSet(shipped: Fixtures.shippedFolder, overrides: folder)
        #expect(templates.overridden == ["fr/order-ready-customer.email.mustache"])
        let renderer = MessageRenderer(templates: templates)
        let ready = try renderer.render("order-ready-customer", channel: .email, recipient: .customer, facts: Fixtures.facts())
        #expect(ready.subject == "Prête ! CMD-2026-0042")
        #expect(ready.text == "C'est prêt, Marie Dupont.\n")
        #expect(ready.html?.contains("<strong>CMD-2026-0042</strong>") == true, "the HTML part stays the shipped one")
        let shippedSMS = try renderer.render("order-ready-customer", channel: .sms, recipient: .customer, facts: Fixtures.facts())
        #expect(shippedSMS.text.contains("disponible au retrait"), "the other templates stay the shipped ones")
    }

    @Test func missingTemplateNamesTheFile() throws {
        let folder = shippedCopy()
        try FileManager.default.removeItem(atPath: folder + "/en/pickup-soon-customer.sms.mustache")
        let error = #expect(throws: TemplateError.self) { try TemplateSet(shipped: folder, overrides: nil) }
        #expect(error?.description == "\(folder)/en/pickup-soon-customer.sms.mustache: template missing")
    }

    @Test("a broken override names its file and line", arguments: [
        ("Subject: ok\n\nBonjour,\n{{#items}}\n- {{name}}\n", 3 + 3, "never closed"),
        ("Subject: ok\n\nBonjour {{customer_name}\n", 3, "not finished"),
        ("Subject: {{#x}}oops{{/y}}\n\nBonjour\n", 1, "does not match"),
        ("Bonjour,\n\nSans sujet.\n", 1, "Subject"),
        ("Subject: \n\nBonjour\n", 1, "Subject"),
        ("Subject: ok\nBonjour\n", 1, "Subject"),
        ("Subject: ok\n\n\n", nil, "empty"),
    ] as [(String, Int?, String)])
    func brokenOverride(text: String, line: Int?, problem: String) throws {
        let folder = Fixtures.temporaryFolder()
        Fixtures.write(text, to: "fr/order-placed-shop.email.mustache", in: folder)
        let error = #expect(throws: TemplateError.self) { try TemplateSet(shipped: Fixtures.shippedFolder, overrides: folder) }
        #expect(error?.file == "\(folder)/fr/order-placed-shop.email.mustache")
        #expect(error?.line == line, "\(error?.description ?? "")")
        #expect(error?.description.contains(problem) == true, "\(error?.description ?? "")")
    }

    @Test func brokenSMSNamesItsLine() throws {
        let folder = Fixtures.temporaryFolder()
        Fixtures.write("{{#deadline}}\nok\n{{/dead}}\n", to: "en/order-ready-customer.sms.mustache", in: folder)
        let error = #expect(throws: TemplateError.self) { try TemplateSet(shipped: Fixtures.shippedFolder, overrides: folder) }
        #expect(error?.description.hasPrefix("\(folder)/en/order-ready-customer.sms.mustache:3: ") == true,
                "\(error?.description ?? "")")
    }

    @Test("an override that is not part of the set is refused", arguments: [
        "fr/order-placed-shop.mail.mustache", "en/order-placed-shop.email.mustache", "de/order-ready-customer.sms.mustache",
    ])
    func unknownOverride(path: String) throws {
        let folder = Fixtures.temporaryFolder()
        Fixtures.write("Subject: x\n\ny\n", to: path, in: folder)
        let error = #expect(throws: TemplateError.self) { try TemplateSet(shipped: Fixtures.shippedFolder, overrides: folder) }
        #expect(error?.file == "\(folder)/\(path)")
    }

    @Test func missingOverrideFolderIsAnError() {
        let error = #expect(throws: TemplateError.self) {
            try TemplateSet(shipped: Fixtures.shippedFolder, overrides: "/nonexistent/relais-overrides")
        }
        #expect(error?.description == "/nonexistent/relais-overrides: template folder not found")
    }

    @Test func windowsLineEndingsAndBOMAreAccepted() throws {
        let folder = Fixtures.temporaryFolder()
        Fixtures.write("\u{FEFF}Subject: Hello {{order_id}}\r\n\r\nLine one\r\nLine two\r\n",
                       to: "en/order-confirmed-customer.email.mustache", in: folder)
        let renderer = MessageRenderer(templates: try TemplateSet(shipped: Fixtures.shippedFolder, overrides: folder))
        let message = try renderer.render("order-confirmed-customer", channel: .email, recipient: .customer,
                                          facts: Fixtures.facts(language: .en))
        #expect(message.subject == "Hello CMD-2026-0042")
        #expect(message.text == "Line one\nLine two\n")
    }

    @Test func anHTMLOverrideEscapesValuesAndItsLayoutWrapsIt() throws {
        let folder = Fixtures.temporaryFolder()
        Fixtures.write("<p>Pour {{customer_name}} chez {{shop_name}}</p>\n", to: "fr/order-ready-customer.html.mustache", in: folder)
        Fixtures.write("<html><title>{{subject}}</title><body>{{{content}}}</body></html>\n", to: "fr/layout.html.mustache", in: folder)
        let renderer = MessageRenderer(templates: try TemplateSet(shipped: Fixtures.shippedFolder, overrides: folder))
        let message = try renderer.render("order-ready-customer", channel: .email, recipient: .customer,
                                          facts: Fixtures.facts(shopName: "Martin & <Fils>"))
        #expect(message.html == "<html><title>Votre commande CMD-2026-0042 vous attend chez Martin &amp; &lt;Fils&gt;</title>"
                + "<body><p>Pour Marie Dupont chez Martin &amp; &lt;Fils&gt;</p>\n</body></html>\n")
        #expect(message.text.contains("Martin & <Fils>"), "the text part is not escaped")
    }

    @Test func aBrokenHTMLOverrideNamesItsFileAndLine() throws {
        let folder = Fixtures.temporaryFolder()
        Fixtures.write("<p>\n{{#items}}\n<li>{{name}}</li>\n", to: "en/order-placed-customer.html.mustache", in: folder)
        let error = #expect(throws: TemplateError.self) { try TemplateSet(shipped: Fixtures.shippedFolder, overrides: folder) }
        #expect(error?.file == "\(folder)/en/order-placed-customer.html.mustache")
        #expect(error?.description.contains("never closed") == true, "\(error?.description ?? "")")
    }

    @Test func locateShippedPrefersTheInstalledShareFolder() throws {
        let prefix = Fixtures.temporaryFolder()
        try FileManager.default.createDirectory(atPath: prefix + "/share/relais/templates", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: prefix + "/bin", withIntermediateDirectories: true)
        #expect(TemplateSet.locateShipped(executablePath: prefix + "/bin/relais") == prefix + "/share/relais/templates")
    }

    @Test func locateShippedFallsBackToTheCheckout() throws {
        let found = try #require(TemplateSet.locateShipped(executablePath: "/nonexistent/bin/relais"))
        let expected = ["/usr/local/share/relais/templates", "/usr/share/relais/templates",
                        URL(fileURLWithPath: Fixtures.shippedFolder).standardizedFileURL.path]
        #expect(expected.contains(found), "\(found)")
    }
}

import RelaisDomain
import Testing

/// The one e-mail rule and the one web address rule (Sources/RelaisDomain/Addresses.swift),
/// which the job contract, the configuration and delivery share. The cases where
/// delivery's former rules (a bare-ASCII check, URLComponents) disagreed with the
/// contract are pinned to the contract's verdict.
@Suite("Address rules")
struct AddressRuleTests {
    @Test("the contract's e-mail rule", arguments: [
        ("marie@example.fr", true), ("a.b+shop@sub.example.co", true), ("x@y.z", true),
        ("", false), ("@example.fr", false), ("marie@", false), ("marie@example", false),
        ("marie@.example.fr", false), ("marie@example.fr.", false), ("marie@@example.fr", false),
        ("a@b@example.fr", false), ("marie @example.fr", false), ("marie@example.fr\n", false),
        ("marie@exa\tmple.fr", false), ("marie@example.fr\r\n", false),
        ("Relais <noreply@example.org>", false), ("a@b\r\nBcc: x@y.fr", false),
        // Not ASCII: judged on Characters and Unicode White_Space.
        ("marie@exemple.fr\u{00A0}", false), ("élodie@crèmerie.fr", true), ("marie@example.\u{0301}fr", false),  // a dot carrying an accent is no dot
        // Where delivery's former bare-ASCII check disagreed: it took a domain without a dot...
        ("noreply@localhost", false), ("marie@.example", false), ("marie@example.", false),
        // ...and refused what the contract takes (delivery still cannot send these: `isSendableBySMTP`).
        ("a,b@example.fr", true), ("marie<x>@example.fr", true), ("\"m\"@example.fr", true),
    ])
    func emailIsTheContractsRule(text: String, valid: Bool) {
        #expect(EmailAddress.isValid(text) == valid, "\(text.debugDescription)")
    }

    @Test("SMTP carries a valid address only as bare printable ASCII", arguments: [
        ("noreply@example.org", true), ("a.b+shop@sub.example.co", true), ("x@y.z", true),
        // Valid, but not something plain SMTP can carry as it is.
        ("élodie@crèmerie.fr", false), ("a,b@example.fr", false), ("marie<x>@example.fr", false),
        ("\"m\"@example.fr", false), ("m;x@example.fr", false), ("m(x)@example.fr", false), ("m\u{7F}@example.fr", false),
        ("m\u{0}@example.fr", false),
        // Not valid at all, so not sendable either (delivery's former check took the first).
        ("noreply@localhost", false), ("noreply", false), ("", false), ("Relais <noreply@example.org>", false),
    ])
    func smtpTakesOnlyBareASCIIAddresses(text: String, sendable: Bool) {
        #expect(EmailAddress.isSendableBySMTP(text) == sendable, "\(text.debugDescription)")
        if sendable { #expect(EmailAddress.isValid(text), "sendable implies valid: \(text.debugDescription)") }
    }

    @Test("the contract's web address rule, where delivery's old one said otherwise", arguments: [
        // URLComponents refused these (characters RFC 3986 does not allow, a port that is
        // not a number); the contract takes them, and libcurl judges the rest at delivery.
        ("https://shop.example/hooks/{shop}", true), ("https://shop.example/a|b", true), ("http://shop.example:port/", true),
        // Both agreed.
        ("https://shop.example/hooks?x=1#f", true), ("HTTP://Shop.Example", true), ("http://127.0.0.1:8080", true),
        ("http://[::1]:8080/x", true), ("ftp://shop.example/", false), ("shop.example/hook", false), ("http://", false),
        ("http:///hook", false), ("http://:8080/hook", false), ("http://?x", false), ("https://shop example/", false),
        ("https://shop.example/\u{3000}", false), ("https://shop.example/\n", false), ("mailto:a@b.fr", false),
    ])
    func webAddressIsTheContractsRule(text: String, valid: Bool) {
        #expect(WebAddress.isValid(text) == valid, "\(text.debugDescription)")
    }

    @Test("user info is any @ before the first / ? or #, read as libcurl reads it", arguments: [
        ("http://user:pw@shop.example/", true), ("http://:pw@shop.example/", true), ("http://user@shop.example/", true),
        ("http://user;auth=x@shop.example/", true), ("http://a@b@shop.example/", true),
        ("http://shop.example/a@b", false), ("http://shop.example?to=a@b", false), ("http://shop.example#a@b", false),
        ("http://shop.example", false), ("no-scheme@shop.example", false),
    ])
    func userInfo(text: String, has: Bool) {
        #expect(WebAddress.hasUserInfo(text) == has, "\(text.debugDescription)")
    }
}

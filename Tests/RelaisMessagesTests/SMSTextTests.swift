import Testing
import RelaisMessages

@Suite struct SMSTextTests {
    @Test("segment counting follows GSM 03.38 and UCS-2 limits", arguments: [
        (String(repeating: "a", count: 160), 1),
        (String(repeating: "a", count: 161), 2),
        (String(repeating: "a", count: 306), 2),
        (String(repeating: "a", count: 307), 3),
        (String(repeating: "a", count: 158) + "€", 1),
        (String(repeating: "a", count: 159) + "€", 2),
        (String(repeating: "[", count: 80), 1),
        (String(repeating: "{", count: 81), 2),
        (String(repeating: "é", count: 160), 1),
        ("ê" + String(repeating: "a", count: 69), 1),
        ("ê" + String(repeating: "a", count: 70), 2),
        ("ê" + String(repeating: "a", count: 133), 2),
        ("ê" + String(repeating: "a", count: 134), 3),
        ("", 1),
    ])
    func segments(text: String, expected: Int) {
        #expect(SMSText.segments(text) == expected, "\(text.count) characters")
    }

    @Test func gsm7Alphabet() {
        #expect(SMSText.isGSM7("Ça coûte 12,50 €") == false)
        #expect(SMSText.isGSM7("Élodie: à retirer, où? {ok} [1] ~ ^ | \\ @£$¥èéùìòÇØøÅåÆæßÉÄÖÑÜ§¿äöñüà"))
        for character in ["ê", "â", "î", "ô", "û", "ç", "’", "«", "»", "\u{00A0}", "\u{202F}", "…", "œ", "😀"] {
            #expect(!SMSText.isGSM7(character), "\(character) is not GSM-7")
        }
    }

    @Test func fittedReplacesLookAlikes() {
        #expect(SMSText.fitted("Prête à l’emploi\u{00A0}: « Crêpes » de François, bœuf…")
                == "Prete à l'emploi : \"Crepes\" de Francois, boeuf...")
        #expect(SMSText.fitted("Déjà GSM : é è à ù") == "Déjà GSM : é è à ù")
        #expect(SMSText.fitted("Merci 😀 ô") == "Merci 😀 o")
    }

    @Test func fittedKeepsTypicalFrenchSMSInOneSegment() {
        let text = "Côté Fleurs : votre commande CMD-2026-0042 est prête, à retirer jusqu’au dimanche 1er novembre à 18h00. Donnez ce numéro en magasin."
        #expect(SMSText.segments(text) > 1)
        let fitted = SMSText.fitted(text)
        #expect(SMSText.isGSM7(fitted))
        #expect(SMSText.segments(fitted) == 1, "\(fitted.unicodeScalars.count) septets: \(fitted)")
    }
}

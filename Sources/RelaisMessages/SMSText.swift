import Foundation

/// The rules of an SMS text: GSM 03.38 alphabet, segment counting, and look-alike fitting.
public enum SMSText {
    /// Whether every character of `text` has a GSM 03.38 encoding (basic set or extension table).
    public static func isGSM7(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { basic.contains($0) || extension_.contains($0) }
    }

    /// How many SMS segments `text` takes.
    ///
    /// GSM-7 text: up to 160 septets in one segment, else 153 per segment (the rest is the
    /// concatenation header); an extension-table character (`€`, `[`, `{`, `~`…) takes two
    /// septets. Any other text goes as UCS-2: up to 70 UTF-16 units in one, else 67 per segment.
    public static func segments(_ text: String) -> Int {
        if isGSM7(text) {
            let septets = text.unicodeScalars.reduce(0) { $0 + (extension_.contains($1) ? 2 : 1) }
            return septets <= 160 ? 1 : (septets + 152) / 153
        }
        let units = text.utf16.count
        return units <= 70 ? 1 : (units + 66) / 67
    }

    /// `text` with common non-GSM characters replaced by GSM-7 look-alikes that keep the
    /// meaning (`ê`→`e`, `ç`→`c`, `œ`→`oe`, `’`→`'`, `«»`→`"`, no-break spaces→space, `…`→`...`).
    ///
    /// Text that is already GSM-7 is returned unchanged; characters without a look-alike
    /// (emoji, other scripts) are kept, so the result may still need UCS-2.
    public static func fitted(_ text: String) -> String {
        guard !isGSM7(text) else { return text }
        var text = text
        // French guillemets hug their words with no-break spaces: « mot » becomes "mot".
        for space in [" ", "\u{00A0}", "\u{202F}"] {
            text = text.replacingOccurrences(of: "«" + space, with: "«").replacingOccurrences(of: space + "»", with: "»")
        }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if let replacement = lookAlikes[scalar] {
                result.append(contentsOf: replacement.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    /// The GSM 03.38 basic character set (one septet each), in code order.
    private static let basic: Set<Unicode.Scalar> = Set(
        ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1B}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
            + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà").unicodeScalars)

    /// The GSM 03.38 extension table: each is an escape plus a septet, two septets in all.
    private static let extension_: Set<Unicode.Scalar> = Set("\u{0C}^{}\\[~]|€".unicodeScalars)

    /// Look-alikes for characters of French (and neighbouring languages) outside GSM-7.
    private static let lookAlikes: [Unicode.Scalar: String] = [
        "â": "a", "ê": "e", "î": "i", "ô": "o", "û": "u",
        "Â": "A", "Ê": "E", "Î": "I", "Ô": "O", "Û": "U",
        "ë": "e", "ï": "i", "ÿ": "y", "Ë": "E", "Ï": "I", "Ÿ": "Y",
        "á": "a", "í": "i", "ó": "o", "ú": "u", "Á": "A", "Í": "I", "Ó": "O", "Ú": "U",
        "À": "A", "È": "E", "Ì": "I", "Ò": "O", "Ù": "U",
        "ç": "c", "œ": "oe", "Œ": "OE",
        "’": "'", "‘": "'", "‚": "'", "ʼ": "'", "“": "\"", "”": "\"", "„": "\"", "«": "\"", "»": "\"",
        "\u{00A0}": " ", "\u{202F}": " ", "\u{2009}": " ", "\u{2007}": " ", "\u{2002}": " ", "\u{2003}": " ",
        "…": "...", "–": "-", "—": "-", "‑": "-", "−": "-",
    ]
}

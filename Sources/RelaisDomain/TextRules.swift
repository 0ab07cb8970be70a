/// What the strings of the job contract may contain.
///
/// Every string field is one line of text: ids, SKUs, names, addresses, reasons. A
/// control character in one would reach e-mail bodies as extra lines (a producer could
/// make a name read as a second paragraph), SMS gateways, logs and terminals raw.
public enum TextRules {
    /// The rule, as a rejection states it.
    public static let singleLineRule =
        "must not contain control characters or line breaks (U+0000-U+001F, U+007F-U+009F, U+2028, U+2029)"

    /// Whether `text` has none of U+0000–U+001F, U+007F–U+009F (C0, DEL, C1) or the
    /// Unicode line and paragraph separators U+2028 and U+2029.
    public static func isSingleLine(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            // On UTF-8 bytes: this runs for each SKU of a thousand-line catalogue.
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                if b < 0x20 || b == 0x7F { return false }
                // C1: U+0080–U+009F is C2 80…C2 9F.
                if b == 0xC2, i + 1 < bytes.count, bytes[i + 1] < 0xA0 { return false }
                // U+2028, U+2029: E2 80 A8, E2 80 A9.
                if b == 0xE2, i + 2 < bytes.count, bytes[i + 1] == 0x80, bytes[i + 2] == 0xA8 || bytes[i + 2] == 0xA9 {
                    return false
                }
                i += 1
            }
            return true
        }
    }
}

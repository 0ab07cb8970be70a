/// Writes control characters as visible escapes, so that text a producer wrote (a
/// name, a reason, a raw job) cannot move a terminal's cursor, ring its bell, change
/// its colours or forge extra lines when printed or logged.
public enum ControlCharacters {
    /// Whether `scalar` is one printed as an escape: C0 (U+0000–U+001F), DEL and C1
    /// (U+007F–U+009F), and the line and paragraph separators U+2028 and U+2029.
    public static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// `text` with each control character escaped: `\n`, `\r`, `\t`, `\x1b` below
    /// U+0080, `\u009b` above. Everything else, backslashes included, is left as it is.
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            if isControl(scalar) { out += escape(scalar) } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    /// The escape for one control character.
    public static func escape(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return #"\n"#
        case "\r": return #"\r"#
        case "\t": return #"\t"#
        default:
            let hex = String(scalar.value, radix: 16)
            return scalar.value < 0x80
                ? #"\x"# + String(repeating: "0", count: 2 - hex.count) + hex
                : #"\u"# + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        }
    }
}

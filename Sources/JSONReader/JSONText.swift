/// The checks on a JSON text that json-c does not make, in one pass over its bytes.
///
/// json-c 0.16 with `JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8` still reads
/// single quotes, `NaN`, `Infinity`, `1.`, `-.5` and `00`; takes overlong UTF-8, encoded
/// surrogates, code points above U+10FFFF and raw control characters inside strings;
/// turns an escaped lone surrogate into U+FFFD; and cuts a key at an escaped `\u0000`
/// (its keys are C strings, so `"id\u0000"` replaces `"id"`). A producer's parser or
/// JSON Schema validator reads such a text differently or not at all, so Relais refuses
/// it, saying what and where.
enum JSONText {
    /// What the pass learnt of a text it let through.
    struct Summary {
        /// How many `:` there are at nesting depth 1: the members of a top-level object,
        /// repeated keys included.
        var topLevelMembers = 0
    }

    /// Checks `bytes` (the whole text) and returns its summary, or throws saying what is
    /// wrong at which byte offset (counted from 0).
    ///
    /// Outside strings only whitespace, punctuation, numbers as RFC 8259 writes them and the
    /// letters of `true`, `false` and `null` may appear, and objects and arrays nest at most
    /// `maxDepth` deep. Inside strings: no byte below 0x20, only shortest-form UTF-8 of
    /// scalar values (RFC 3629), `\u` escapes of scalar values (a surrogate only as the
    /// first of a pair), and no escaped U+0000 in a key. An escaped U+0000 in a value is
    /// left to the field's own rules, which name the field.
    static func check(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) throws(JSONDocument.Malformed) -> Summary {
        var summary = Summary()
        var depth = 0
        var i = 0
        let count = bytes.count
        while i < count {
            let byte = bytes[i]
            switch byte {
            case quote:
                i = try string(bytes, from: i)
            case 0x20, 0x09, 0x0A, 0x0D, comma, UInt8(ascii: "e"),
                 UInt8(ascii: "t"), UInt8(ascii: "r"), UInt8(ascii: "u"), UInt8(ascii: "f"), UInt8(ascii: "a"),
                 UInt8(ascii: "l"), UInt8(ascii: "s"), UInt8(ascii: "n"):
                i += 1
            case UInt8(ascii: "-"), zero...nine:
                i = try number(bytes, from: i)
            case colon:
                if depth == 1 { summary.topLevelMembers += 1 }
                i += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                guard depth <= maxDepth else { throw malformed("nesting deeper than \(maxDepth) at byte \(i)") }
                i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                // An unbalanced text is json-c's to refuse; the count only has to stay sane.
                depth = max(depth - 1, 0)
                i += 1
            default:
                throw malformed("\(describe(byte)) outside a string at byte \(i)")
            }
        }
        return summary
    }

    /// Checks the number that starts at `start` against RFC 8259's grammar and returns the
    /// offset after it: json-c also takes `1.`, `-.5`, `00` and `01.5`.
    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) throws(JSONDocument.Malformed) -> Int {
        let count = bytes.count
        func digits(from i: Int) -> Int {
            var i = i
            while i < count, (zero...nine).contains(bytes[i]) { i += 1 }
            return i
        }
        var i = start
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < count, (zero...nine).contains(bytes[i]) else { throw malformed("a number without digits at byte \(start)") }
        if bytes[i] == zero {
            i += 1
            if i < count, (zero...nine).contains(bytes[i]) { throw malformed("a number with a leading zero at byte \(start)") }
        } else {
            i = digits(from: i)
        }
        if i < count, bytes[i] == UInt8(ascii: ".") {
            let point = i
            i = digits(from: i + 1)
            guard i > point + 1 else { throw malformed("a decimal point without a digit after it at byte \(point)") }
        }
        if i < count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            let exponent = i
            i += 1
            if i < count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let first = i
            i = digits(from: i)
            guard i > first else { throw malformed("an exponent without digits at byte \(exponent)") }
        }
        return i
    }

    /// Checks the string that opens at `start` and returns the offset after its closing quote.
    private static func string(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) throws(JSONDocument.Malformed) -> Int {
        let count = bytes.count
        var nulEscape: Int?
        var i = start + 1
        while i < count {
            let byte = bytes[i]
            if byte >= 0x20 && byte < 0x80 && byte != quote && byte != backslash {
                i += 1
                continue
            }
            switch byte {
            case quote:
                if let nulEscape, isKey(bytes, after: i + 1) {
                    throw malformed("\\u0000 in a key at byte \(nulEscape)")
                }
                return i + 1
            case backslash:
                guard i + 1 < count else { throw malformed("an unterminated string from byte \(start)") }
                switch bytes[i + 1] {
                case quote, backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                     UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                case UInt8(ascii: "u"):
                    guard let unit = hex4(bytes, at: i + 2) else { throw malformed("an invalid \\u escape at byte \(i)") }
                    switch unit {
                    case 0:
                        if nulEscape == nil { nulEscape = i }
                        i += 6
                    case 0xD800...0xDBFF:
                        guard i + 7 < count, bytes[i + 6] == backslash, bytes[i + 7] == UInt8(ascii: "u"),
                              let low = hex4(bytes, at: i + 8), (0xDC00...0xDFFF).contains(low) else {
                            throw malformed("an unpaired surrogate \\u\(hex(unit)) at byte \(i)")
                        }
                        i += 12
                    case 0xDC00...0xDFFF:
                        throw malformed("an unpaired surrogate \\u\(hex(unit)) at byte \(i)")
                    default:
                        i += 6
                    }
                default:
                    throw malformed("an invalid escape at byte \(i)")
                }
            case ..<0x20:
                throw malformed("raw control character U+\(hex(UInt16(byte))) in a string at byte \(i)")
            default:
                i = try utf8Sequence(bytes, at: i)
            }
        }
        throw malformed("an unterminated string from byte \(start)")
    }

    /// Checks the UTF-8 sequence whose first byte (0x80 or above) is at `i`, and returns the
    /// offset after it: the well-formed sequences of the Unicode Standard, table 3-7.
    private static func utf8Sequence(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) throws(JSONDocument.Malformed) -> Int {
        let lead = bytes[i]
        let length: Int
        let second: ClosedRange<UInt8>
        switch lead {
        case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
        case 0xE0: (length, second) = (3, 0xA0...0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
        case 0xED: (length, second) = (3, 0x80...0x9F)
        case 0xF0: (length, second) = (4, 0x90...0xBF)
        case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
        case 0xF4: (length, second) = (4, 0x80...0x8F)
        case 0xC0, 0xC1: throw malformed("overlong UTF-8 (0x\(hex(lead))) at byte \(i)")
        case 0x80...0xBF: throw malformed("invalid UTF-8 (a continuation byte 0x\(hex(lead)) without a lead) at byte \(i)")
        default: throw malformed("invalid UTF-8 (byte 0x\(hex(lead))) at byte \(i)")
        }
        guard i + length <= bytes.count else { throw malformed("truncated UTF-8 at byte \(i)") }
        let next = bytes[i + 1]
        guard second.contains(next) else {
            switch (lead, next) {
            case (0xE0, 0x80...0x9F), (0xF0, 0x80...0x8F): throw malformed("overlong UTF-8 (0x\(hex(lead)) 0x\(hex(next))) at byte \(i)")
            case (0xED, 0xA0...0xBF): throw malformed("a UTF-16 surrogate encoded in UTF-8 (0xED 0x\(hex(next))) at byte \(i)")
            case (0xF4, 0x90...0xBF): throw malformed("UTF-8 beyond U+10FFFF (0xF4 0x\(hex(next))) at byte \(i)")
            default: throw malformed("truncated UTF-8 at byte \(i)")
            }
        }
        for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 {
            throw malformed("truncated UTF-8 at byte \(i)")
        }
        return i + length
    }

    /// Whether the next byte after `i` that is not whitespace is `:`, which makes the string before `i` a key.
    private static func isKey(_ bytes: UnsafeBufferPointer<UInt8>, after i: Int) -> Bool {
        var k = i
        while k < bytes.count, bytes[k] == 0x20 || bytes[k] == 0x09 || bytes[k] == 0x0A || bytes[k] == 0x0D { k += 1 }
        return k < bytes.count && bytes[k] == colon
    }

    /// The UTF-16 code unit of the four hexadecimal digits at `i`, nil if they are not four such digits.
    private static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> UInt16? {
        guard i + 4 <= bytes.count else { return nil }
        var unit: UInt16 = 0
        for k in i..<(i + 4) {
            let b = bytes[k]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: return nil
            }
            unit = unit << 4 | UInt16(digit)
        }
        return unit
    }

    /// A byte as the reason shows it: printable ASCII quoted, anything else in hexadecimal.
    private static func describe(_ byte: UInt8) -> String {
        (0x21...0x7E).contains(byte) ? "the character '\(Character(Unicode.Scalar(byte)))'" : "the byte 0x\(hex(byte))"
    }

    private static func hex(_ value: UInt8) -> String { hex(UInt16(value), digits: 2) }

    private static func hex(_ value: UInt16, digits: Int = 4) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(digits - text.count, 0)) + text
    }

    private static func malformed(_ description: String) -> JSONDocument.Malformed {
        JSONDocument.Malformed(description: description)
    }

    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")
    private static let colon = UInt8(ascii: ":")
    private static let comma = UInt8(ascii: ",")
    private static let zero = UInt8(ascii: "0")
    private static let nine = UInt8(ascii: "9")
}

import JSONReader
import RelaisContract
import RelaisDomain
import RelaisJobs
import Testing

private let decoder = EnvelopeDecoder(StockCatalog.self)

/// A stock.adjust job whose shop_id is `raw` (bytes put in the text as they are), and the
/// offset of the first of them.
private func job(shopId raw: [UInt8]) -> (bytes: [UInt8], offset: Int) {
    let head = Array(#"{"id":"a","type":"stock.adjust","data":{"shop_id":""#.utf8)
    return (head + raw + Array(#"","sku":"x","delta":1,"at":"2026-11-28T09:30:00Z"}}"#.utf8), head.count)
}

private func rejection(_ bytes: [UInt8]) -> JobRejection? {
    if case .failure(let failure) = decoder.decode(bytes) { return failure.rejection }
    return nil
}

private func shopId(_ bytes: [UInt8]) throws -> String? {
    guard case .adjust(let adjustment) = try decoder.decode(bytes).get().job else { return nil }
    return adjustment.shopId
}

/// What json-c 0.16 reads though JSON, UTF-8 or a producer's parser would not: each is
/// `malformed_json`, with a reason that says what and at which byte offset.
@Suite("The JSON text: what json-c lets through is refused")
struct JSONTextTests {
    @Test(arguments: [
        ([0xC0, 0xAF], "overlong UTF-8"),
        ([0xC1, 0xBF], "overlong UTF-8"),
        ([0xE0, 0x80, 0xAF], "overlong UTF-8"),
        ([0xF0, 0x80, 0x80, 0xAF], "overlong UTF-8"),
        ([0xED, 0xA0, 0x80], "a UTF-16 surrogate encoded in UTF-8"),
        ([0xED, 0xBF, 0xBF], "a UTF-16 surrogate encoded in UTF-8"),
        ([0xF4, 0x90, 0x80, 0x80], "UTF-8 beyond U+10FFFF"),
        ([0xF5, 0x80, 0x80, 0x80], "invalid UTF-8"),
        ([0xFF], "invalid UTF-8"),
        ([0x80], "invalid UTF-8"),
        ([0xE2, 0x82], "truncated UTF-8"),
        ([0xE2, 0x28, 0xA1], "truncated UTF-8"),
    ] as [([UInt8], String)])
    func utf8ThatIsNotShortestFormOfAScalarIsRefused(raw: [UInt8], what: String) {
        let (bytes, offset) = job(shopId: Array("ab".utf8) + raw)
        let r = rejection(bytes)
        #expect(r?.code == .malformedJSON, "\(raw) gave \(String(describing: r))")
        #expect(r?.message.hasPrefix(what) == true, "\(raw) gave \(String(describing: r))")
        #expect(r?.message.hasSuffix("at byte \(offset + 2)") == true, "\(raw) gave \(String(describing: r))")
    }

    @Test func theShortestFormOfEveryScalarIsRead() throws {
        let edges: [(bytes: [UInt8], scalar: UInt32)] = [
            ([0xC2, 0x80], 0x80), ([0xDF, 0xBF], 0x7FF), ([0xE0, 0xA0, 0x80], 0x800), ([0xED, 0x9F, 0xBF], 0xD7FF),
            ([0xEE, 0x80, 0x80], 0xE000), ([0xEF, 0xBF, 0xBF], 0xFFFF), ([0xF0, 0x90, 0x80, 0x80], 0x10000),
            ([0xF4, 0x8F, 0xBF, 0xBF], 0x10FFFF), ([0x7F], 0x7F),
        ]
        for edge in edges {
            // Read by JSONReader alone: what a field accepts is the field's rules' business.
            let bytes = Array(#"{"s":""#.utf8) + edge.bytes + Array(#""}"#.utf8)
            let document = try bytes.withUnsafeBufferPointer { try JSONDocument(parsing: $0) }
            let text = withExtendedLifetime(document) { document.value.member("s")?.string }
            #expect(text?.unicodeScalars.map(\.value) == [edge.scalar], "\(edge.bytes) gave \(String(describing: text))")
        }
    }

    @Test(arguments: [0x00, 0x01, 0x09, 0x0A, 0x0D, 0x1B, 0x1F] as [UInt8])
    func rawControlCharactersInStringsAreRefused(byte: UInt8) {
        let (bytes, offset) = job(shopId: [UInt8(ascii: "s"), byte])
        let hex = String(byte, radix: 16, uppercase: true)
        let expected = "raw control character U+\(String(repeating: "0", count: 4 - hex.count) + hex) in a string at byte \(offset + 1)"
        #expect(rejection(bytes) == JobRejection(.malformedJSON, expected))
    }

    @Test func theReasonSaysWhereInTheWholeJob() {
        // The example of the producers' guide: U+0001 as the 57th byte.
        let (bytes, offset) = job(shopId: Array("abcd".utf8) + [0x01])
        #expect(offset + 4 == 55)
        #expect(rejection(bytes)?.message == "raw control character U+0001 in a string at byte 55")
    }

    @Test(arguments: [
        (#"a\ud800"#, #"an unpaired surrogate \uD800"#),
        (#"a\uDBFFb"#, #"an unpaired surrogate \uDBFF"#),
        (#"a\udc00"#, #"an unpaired surrogate \uDC00"#),
        (#"a\ud800\u0041"#, #"an unpaired surrogate \uD800"#),
        (#"a\ud800\ud800"#, #"an unpaired surrogate \uD800"#),
        (#"a\u12"#, #"an invalid \u escape"#),
        (#"a\x"#, "an invalid escape"),
    ])
    func escapesOfNoScalarAreRefused(text: String, what: String) {
        let (bytes, offset) = job(shopId: Array(text.utf8))
        let r = rejection(bytes)
        #expect(r == JobRejection(.malformedJSON, "\(what) at byte \(offset + 1)"), "\(text) gave \(String(describing: r))")
    }

    @Test func aSurrogatePairIsOneScalar() throws {
        #expect(try shopId(job(shopId: Array(#"a\ud83e\udd56"#.utf8)).bytes) == "a🥖")
    }

    /// json-c keys are C strings: `"id\u0000"` would replace `"id"`.
    @Test(arguments: [
        #"{"id":"a","id\u0000":"b","type":"stock.adjust","data":{}}"#,
        #"{"id\u0000x":"b","id":"a","type":"stock.adjust","data":{}}"#,
        #"{"id":"a","type":"stock.adjust","data":{"sku\u0000" : "b"}}"#,
        #"{"id":"a","type":"stock.adjust","data":{},"extra":[{"\u0000":1}]}"#,
    ])
    func anEscapedNulInAKeyIsRefused(json: String) {
        let r = rejection(Array(json.utf8))
        #expect(r?.code == .malformedJSON, "\(json) gave \(String(describing: r))")
        let at = json.utf8.distance(from: json.startIndex, to: json.range(of: #"\u0000"#)!.lowerBound)
        #expect(r?.message == "\\u0000 in a key at byte \(at)", "\(json) gave \(String(describing: r))")
    }

    /// U+0000 in a value is left to the field's rules, which name the field (as the JSON Schemas do).
    @Test func anEscapedNulInAValueNamesTheField() {
        let r = rejection(job(shopId: Array(#"a\u0000"#.utf8)).bytes)
        #expect(r?.code == .invalidField)
        #expect(r?.field == "data.shop_id")
    }

    @Test func nestingTooDeepSaysSoAndWhere() {
        let head = #"{"id":"a","type":"stock.adjust","extra":"#
        let json = head + String(repeating: "[", count: 128) + String(repeating: "]", count: 128) + #","data":{}}"#
        // The job object is level 1: the 128th bracket opens level 129.
        #expect(rejection(Array(json.utf8)) == JobRejection(.malformedJSON, "nesting deeper than 128 at byte \(head.utf8.count + 127)"))
    }

    @Test func aKeyRepeatedInTheEnvelopeIsRefused() {
        for json in [#"{"id":"first","type":"stock.adjust","id":"last","data":{}}"#,
                     #"{"id":"first","type":"stock.adjust","\u0069d":"last","data":{}}"#] {
            let offset = json.utf8.distance(from: json.startIndex, to: json.range(of: "type")!.lowerBound) + 21
            #expect(rejection(Array(json.utf8)) == JobRejection(.malformedJSON, "a key repeated in the top-level object at byte \(offset)"),
                    "\(json) gave \(String(describing: rejection(Array(json.utf8))))")
        }
    }

    /// Inside the envelope the last of repeated keys counts, as in Python's `json` and the JSON Schema checks.
    @Test func theLastOfKeysRepeatedInsideDataCounts() throws {
        let json = #"{"id":"a","type":"stock.adjust","data":{"shop_id":"first","sku":"x","delta":1,"at":"2026-11-28T09:30:00Z","shop_id":"last"}}"#
        #expect(try shopId(Array(json.utf8)) == "last")
    }

    @Test(arguments: [
        (#"{"id":"a","type":"stock.adjust","data":{"delta":1.}}"#, "a decimal point without a digit after it at byte 49"),
        (#"{"id":"a","type":"stock.adjust","data":{"delta":1.e5}}"#, "a decimal point without a digit after it at byte 49"),
        (#"{"id":"a","type":"stock.adjust","data":{"delta":-.5}}"#, "a number without digits at byte 48"),
        (#"{"id":"a","type":"stock.adjust","data":{"delta":00}}"#, "a number with a leading zero at byte 48"),
        (#"{"id":"a","type":"stock.adjust","data":{"delta":-01.5}}"#, "a number with a leading zero at byte 48"),
        (#"{"id":"a","type":"stock.adjust","data":{"delta":1.5.5}}"#, "the character '.' outside a string at byte 51"),
        (#"{"id":"a","type":"stock.adjust","data":{"delta":1e+}}"#, "an exponent without digits at byte 49"),
        (#"{"id":"a","type":"stock.adjust","data":{"delta":+1}}"#, "the character '+' outside a string at byte 48"),
        (#"{"id":"a","type":"stock.adjust","data":{},}"#, "unexpected character at byte 42"),
        (#"{"id":"a","type":"stock.adjust","data":{}} x"#, "the character 'x' outside a string at byte 43"),
        (#"{"id":"a","type":"stock.adjust","data":{}}{}"#, "unexpected character at byte 42"),
        (#"{"id":"a","type":"stock.adjust","data":{"sku":"x}}"#, "an unterminated string from byte 46"),
        (#"{"id":'a',"type":"stock.adjust","data":{}}"#, "the character ''' outside a string at byte 6"),
    ])
    func jsonCErrorsSayWhereToo(json: String, message: String) {
        #expect(rejection(Array(json.utf8)) == JobRejection(.malformedJSON, message))
    }

    @Test func utf8OutsideStringsIsRefused() {
        let bytes = Array(#"{"id":"a","type":"stock.adjust","data":{}}"#.utf8) + [0xC2, 0xA0]
        #expect(rejection(bytes) == JobRejection(.malformedJSON, "the byte 0xC2 outside a string at byte 42"))
    }
}

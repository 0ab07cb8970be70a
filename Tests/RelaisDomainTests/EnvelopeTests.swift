import Foundation
import JSONReader
import RelaisContract
import RelaisDomain
import RelaisJobs
import Testing

private let decoder = EnvelopeDecoder(StockCatalog.self)

private func decode(_ json: String) -> Result<Envelope<StockJob>, EnvelopeFailure> {
    decoder.decode(Array(json.utf8))
}

private func rejection(_ json: String) -> JobRejection? {
    if case .failure(let failure) = decode(json) { return failure.rejection }
    return nil
}

private let adjust = #"{"shop_id":"s1","sku":"baguette","delta":-3,"at":"2026-11-28T09:30:00+01:00"}"#

@Suite("Envelope validation")
struct EnvelopeTests {
    @Test func validJobDecodesWithItsFields() throws {
        let envelope = try decode(#"{"id":"a-1","type":"stock.adjust","data":\#(adjust),"enqueued_at":"2026-11-28T08:30:00.250Z","extra":1}"#).get()
        #expect(envelope.id == "a-1")
        #expect(envelope.type == "stock.adjust")
        #expect(envelope.version == 1)
        #expect(envelope.enqueuedAt == Timestamp(rfc3339: "2026-11-28T08:30:00.25Z"))
        #expect(envelope.job == .adjust(StockAdjustment(shopId: "s1", sku: "baguette", delta: -3, reason: nil,
                                                         at: Timestamp(rfc3339: "2026-11-28T08:30:00Z")!)))
    }

    @Test func aParserKeptForManyJobsReadsEachAsIfNew() throws {
        guard let parser = JSONParser() else {
            Issue.record("no parser")
            return
        }
        let good = Array(#"{"id":"a-1","type":"stock.adjust","data":\#(adjust)}"#.utf8)
        for bad in [#"{"id":"a-2","type":"stock.adj"#, #"{"id":"a-3","type":"stock.adjust","data":[1,]}"#,
                    #"{"id":"a-4","type":"stock.adjust","data":{}} {}"#] {
            #expect(try decoder.decode(good, parser: parser).get().id == "a-1")
            guard case .failure(let failure) = decoder.decode(Array(bad.utf8), parser: parser) else {
                Issue.record("\(bad) was accepted")
                continue
            }
            #expect(failure.rejection.code == .malformedJSON, "\(bad): \(failure.rejection)")
        }
        #expect(try decoder.decode(good, parser: parser).get().id == "a-1")
    }

    @Test(arguments: [
        (#"not json"#, ReasonCode.malformedJSON, nil as String?),
        (#"[1,2]"#, .malformedJSON, nil),
        (#"{"type":"stock.adjust","data":{}}"#, .missingField, "id"),
        (#"{"id":"","type":"stock.adjust","data":{}}"#, .invalidField, "id"),
        (#"{"id":"has space","type":"stock.adjust","data":{}}"#, .invalidField, "id"),
        (#"{"id":12,"type":"stock.adjust","data":{}}"#, .invalidField, "id"),
        (#"{"id":"a","data":{}}"#, .missingField, "type"),
        (#"{"id":"a","type":"order.placed","data":{}}"#, .unknownType, "type"),
        (#"{"id":"a","type":"stock.adjust"}"#, .missingField, "data"),
        (#"{"id":"a","type":"stock.adjust","data":null}"#, .invalidField, "data"),
        (#"{"id":"a","type":"stock.adjust","data":[1]}"#, .invalidField, "data"),
        (#"{"id":"a","type":"stock.adjust","data":{},"v":2}"#, .unsupportedVersion, "v"),
        (#"{"id":"a","type":"stock.adjust","data":{},"v":"1"}"#, .invalidField, "v"),
        (#"{"id":"a","type":"stock.adjust","data":{},"enqueued_at":"yesterday"}"#, .invalidField, "enqueued_at"),
    ])
    func badEnvelopeIsRejectedNamingTheField(json: String, code: ReasonCode, field: String?) {
        let r = rejection(json)
        #expect(r?.code == code, "\(json) gave \(String(describing: r))")
        #expect(r?.field == field, "\(json) gave \(String(describing: r))")
        if let field { #expect(r?.message.hasPrefix(field + ":") == true) }
    }

    /// json-c reads more than JSON; what is not JSON stays malformed.
    @Test(arguments: [
        #"{'id':'a','type':'stock.adjust','data':{}}"#,
        #"{"id":"a","type":"stock.adjust","data":{"shop_id":"s","sku":"x","delta":NaN,"at":"2026-11-28T09:30:00Z"}}"#,
        #"{"id":"a","type":"stock.adjust","data":{"shop_id":"s","sku":"x","delta":Infinity,"at":"2026-11-28T09:30:00Z"}}"#,
        #"{"id":"a","type":"stock.adjust","data":{}} x"#,
        #"{"id":"a","type":"stock.adjust","data":{}}{}"#,
        #"{"id":"a","type":"stock.adjust","data":{"sku":"x}}"#,
        #"{"id":"a","type":"stock.adjust" /* a comment */,"data":{}}"#,
        "",
        "   ",
    ])
    func whatIsNotJSONIsMalformed(json: String) {
        #expect(rejection(json)?.code == .malformedJSON, "\(json) gave \(String(describing: rejection(json)))")
    }

    @Test func numbersAreIntegersOnlyWhenWhole() throws {
        func delta(_ text: String) -> Result<Envelope<StockJob>, EnvelopeFailure> {
            decode(#"{"id":"a","type":"stock.adjust","data":{"shop_id":"s","sku":"x","delta":\#(text),"at":"2026-11-28T09:30:00Z"}}"#)
        }
        guard case .adjust(let whole) = try delta("-3.0").get().job, case .adjust(let exponent) = try delta("2E2").get().job else {
            Issue.record("expected adjustments")
            return
        }
        #expect(whole.delta == -3)
        #expect(exponent.delta == 200)
        for text in ["1.5", "9223372036854775808", "-9223372036854775809", "1e30", "\"3\"", "true"] {
            guard case .failure(let failure) = delta(text) else {
                Issue.record("\(text) was accepted")
                continue
            }
            #expect(failure.rejection.field == "data.delta", "\(text) gave \(failure.rejection)")
        }
    }

    @Test func whitespaceAroundTheJobAndInsideStringsIsKept() throws {
        let envelope = try decode(" \n{\"id\":\"a\",\"type\":\"stock.adjust\",\"data\":{\"shop_id\":\"s 'quoted' NaN\",\"sku\":\"x\",\"delta\":1,\"at\":\"2026-11-28T09:30:00Z\"}}\t\r\n").get()
        guard case .adjust(let adjustment) = envelope.job else {
            Issue.record("expected an adjustment")
            return
        }
        #expect(adjustment.shopId == "s 'quoted' NaN")
    }

    /// As the producers' guide says: objects and arrays nest 128 deep, the job itself counting.
    @Test func nestingIsReadTo128Levels() {
        func job(nesting: Int) -> String {
            let deep = String(repeating: "[", count: nesting - 1) + String(repeating: "]", count: nesting - 1)
            return #"{"id":"a","type":"stock.adjust","extra":\#(deep),"data":\#(adjust)}"#
        }
        #expect(rejection(job(nesting: 128)) == nil)
        #expect(rejection(job(nesting: 129))?.code == .malformedJSON)
    }

    /// Producers' JSON libraries disagree about which of two `id`s counts: the envelope has each key once.
    @Test func aRepeatedEnvelopeKeyIsMalformed() {
        #expect(rejection(#"{"id":"first","id":"last","type":"stock.adjust","data":\#(adjust)}"#)?.code == .malformedJSON)
    }

    @Test func idOfTwoHundredAllowedCharactersIsAccepted() {
        let id = String(repeating: "aZ09._:-", count: 25)
        #expect(id.count == 200)
        #expect(EnvelopeRules.isValidId(id))
        #expect(!EnvelopeRules.isValidId(id + "a"))
        #expect(!EnvelopeRules.isValidId("é"))
    }

    @Test func oversizedPayloadIsRejectedBeforeParsing() {
        let small = EnvelopeDecoder(StockCatalog.self, maxBytes: 100)
        let payload = Array(#"{"id":"a","type":"stock.adjust","data":\#(adjust)}"#.utf8)
        guard case .failure(let failure) = small.decode(payload) else {
            Issue.record("a payload over the limit was accepted")
            return
        }
        #expect(failure.rejection.code == .tooLarge)
        #expect(failure.rejection.message.contains("limit is 100"))
    }

    @Test func payloadThatIsNotUTF8IsMalformed() {
        var bytes = Array(#"{"id":"a","type":"stock.adjust","data":{"shop_id":"caf"#.utf8)
        bytes += [0xE9] + Array(#"","sku":"a","delta":1,"at":"2026-11-28T10:00:00Z"}}"#.utf8)
        guard case .failure(let failure) = decoder.decode(bytes) else {
            Issue.record("a Latin-1 payload was accepted")
            return
        }
        #expect(failure.rejection.code == .malformedJSON)
    }

    @Test func rejectedJobStillNamesItsIdAndType() {
        guard case .failure(let failure) = decode(#"{"id":"job-9","type":"stock.adjust","data":{"sku":"x"}}"#) else {
            Issue.record("accepted")
            return
        }
        #expect(failure.id == "job-9")
        #expect(failure.type == "stock.adjust")
    }
}

@Suite("Stock job rules")
struct StockJobTests {
    private func job(_ type: String, _ data: String) -> String { #"{"id":"j","type":"\#(type)","data":\#(data)}"# }

    @Test func levelsDecode() throws {
        let envelope = try decode(job("stock.levels", #"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"a","on_hand":1.0},{"sku":"b","on_hand":0}],"complete":true}"#)).get()
        guard case .levels(let levels) = envelope.job else {
            Issue.record("not levels")
            return
        }
        #expect(levels.levels == [StockLevel(sku: "a", onHand: 1), StockLevel(sku: "b", onHand: 0)])
        #expect(levels.complete)
    }

    @Test(arguments: [
        (#"{"observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"a","on_hand":1}]}"#, "data.shop_id", ReasonCode.missingField),
        (#"{"shop_id":"s","levels":[{"sku":"a","on_hand":1}]}"#, "data.observed_at", .missingField),
        (#"{"shop_id":"s","observed_at":"2026-11-28","levels":[{"sku":"a","on_hand":1}]}"#, "data.observed_at", .invalidField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z"}"#, "data.levels", .missingField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[]}"#, "data.levels", .invalidField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":{}}"#, "data.levels", .invalidField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"a","on_hand":1},7]}"#, "data.levels[1]", .invalidField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"a","on_hand":1},{"on_hand":2}]}"#, "data.levels[1].sku", .missingField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"a","on_hand":-1}]}"#, "data.levels[0].on_hand", .invalidField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"a","on_hand":1.5}]}"#, "data.levels[0].on_hand", .invalidField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"a","on_hand":"3"}]}"#, "data.levels[0].on_hand", .invalidField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"a","on_hand":1},{"sku":"a","on_hand":2}]}"#, "data.levels[1].sku", .invalidField),
        (#"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"a","on_hand":1}],"complete":"yes"}"#, "data.complete", .invalidField),
    ])
    func badLevelsNameTheField(data: String, field: String, code: ReasonCode) {
        let r = rejection(job("stock.levels", data))
        #expect(r?.field == field, "got \(String(describing: r))")
        #expect(r?.code == code, "got \(String(describing: r))")
    }

    @Test func levelsComeSortedByTheBytesOfTheirSku() throws {
        let data = #"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"b","on_hand":1},{"sku":"caf\u00e9","on_hand":2},{"sku":"B","on_hand":3},{"sku":"cafe\u0301","on_hand":4},{"sku":"a","on_hand":5}]}"#
        guard case .levels(let levels) = try decode(job("stock.levels", data)).get().job else {
            Issue.record("not levels")
            return
        }
        #expect(levels.levels.map(\.onHand) == [3, 5, 1, 4, 2], "B < a < b < cafe + U+0301 < café, byte by byte")
    }

    @Test func aRepeatedSkuIsNamedWhereTheJobFirstRepeatsOne() {
        // "z" repeats at 3 and "a" at 4: the rejection names 3, though "a" sorts first.
        let data = #"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[{"sku":"z","on_hand":1},{"sku":"a","on_hand":1},{"sku":"m","on_hand":1},{"sku":"z","on_hand":2},{"sku":"a","on_hand":2}]}"#
        let r = rejection(job("stock.levels", data))
        #expect(r?.field == "data.levels[3].sku", "got \(String(describing: r))")
        #expect(r?.message.contains("data.levels[0]") == true, "got \(String(describing: r))")
    }

    @Test(arguments: [
        (#"{"shop_id":"s","sku":"a","delta":0,"at":"2026-11-28T10:00:00Z"}"#, "data.delta"),
        (#"{"shop_id":"s","sku":"a","delta":"1","at":"2026-11-28T10:00:00Z"}"#, "data.delta"),
        (#"{"shop_id":"s","sku":"a","delta":1000000001,"at":"2026-11-28T10:00:00Z"}"#, "data.delta"),
        (#"{"shop_id":"s","sku":"a","at":"2026-11-28T10:00:00Z"}"#, "data.delta"),
        (#"{"shop_id":"s","sku":"","delta":1,"at":"2026-11-28T10:00:00Z"}"#, "data.sku"),
        (#"{"shop_id":"s","sku":"a","delta":1}"#, "data.at"),
        (#"{"shop_id":"s","sku":"a","delta":1,"at":"2026-11-28T10:00:00Z","reason":5}"#, "data.reason"),
    ])
    func badAdjustmentsNameTheField(data: String, field: String) {
        #expect(rejection(job("stock.adjust", data))?.field == field)
    }

    @Test func skusThatDifferOnlyInUnicodeNormalisationAreDistinct() {
        let data = "{\"shop_id\":\"s\",\"observed_at\":\"2026-11-28T10:00:00Z\",\"levels\":[{\"sku\":\"caf\u{E9}\",\"on_hand\":1},{\"sku\":\"cafe\u{301}\",\"on_hand\":2}]}"
        #expect(rejection(job("stock.levels", data)) == nil, "PostgreSQL keeps them as two SKUs, so they are not duplicates")
    }

    @Test func lengthsCountCodePointsAndNulIsRefused() {
        let longByScalars = String(repeating: "e\u{301}", count: 150)  // 150 characters, 300 code points
        #expect(rejection(job("stock.adjust", #"{"shop_id":"s","sku":"\#(longByScalars)","delta":1,"at":"2026-11-28T10:00:00Z"}"#))?.field == "data.sku")
        #expect(rejection(job("stock.adjust", #"{"shop_id":"s","sku":"a\u0000b","delta":1,"at":"2026-11-28T10:00:00Z"}"#))?.field == "data.sku")
    }

    @Test func levelsAcceptTenThousandSkusAndNoMore() {
        func levels(_ n: Int) -> String {
            let items = (0..<n).map { #"{"sku":"sku-\#($0)","on_hand":\#($0)}"# }.joined(separator: ",")
            return job("stock.levels", #"{"shop_id":"s","observed_at":"2026-11-28T10:00:00Z","levels":[\#(items)]}"#)
        }
        #expect(rejection(levels(10_000)) == nil)
        #expect(rejection(levels(10_001))?.field == "data.levels")
    }
}

@Suite("RFC 3339 timestamps")
struct TimestampTests {
    @Test(arguments: [
        ("2026-11-28T10:00:00Z", 1_795_860_000_000_000 as Int64),
        ("2026-11-28T11:00:00+01:00", 1_795_860_000_000_000),
        ("2026-11-28T10:00:00.000123Z", 1_795_860_000_000_123),
        ("2026-11-28T10:00:00.5-02:00", 1_795_867_200_500_000),
        ("2028-02-29T00:00:00Z", 1_835_395_200_000_000),
        ("2056-06-25T04:41:05.206Z", 2_729_133_665_206_000),
        ("2026-11-28T10:00:00.0000005Z", 1_795_860_000_000_001),
        ("1900-01-01T00:00:00+14:59", -2_209_042_740_000_000),
    ])
    func parsesToMicroseconds(text: String, micros: Int64) {
        #expect(Timestamp(rfc3339: text)?.microseconds == micros)
    }

    @Test(arguments: [
        "2026-11-28", "2026-11-28T10:00:00", "2026-13-28T10:00:00Z", "tomorrow", "", "2026-11-31T10:00:00Z",
        "2026-02-29T10:00:00Z", "2026-11-28T24:00:00Z", "2026-11-28T10:60:00Z", "2026-11-28T10:00:00Zjunk",
        "2026-11-28T10:00:00+0100", "2026-11-28T10:00:00+01", "2026-11-28T10:00:00.Z", "2026-11-28T10:00:00.1234567890Z",
        "1899-12-31T23:59:59Z", "2026-11-28T10:00:00+15:00", "2026-11-28t10:00:00z", "2026-11-28 10:00:00Z",
    ])
    func rejectsWhatIsNotRFC3339(text: String) {
        #expect(Timestamp(rfc3339: text) == nil)
    }

    @Test func printsUTCWithMicroseconds() {
        #expect(Timestamp(microseconds: 1_795_860_000_000_123).description == "2026-11-28T10:00:00.000123Z")
    }
}

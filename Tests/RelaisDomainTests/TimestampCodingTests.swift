import Foundation
import RelaisDomain
import Testing

/// The store keeps orders and message facts as JSON with their times in UTC: every time a
/// producer may send must read back, even when UTC moves it out of the contract's years.
@Suite struct TimestampCodingTests {
    @Test(arguments: [
        "1900-01-01T00:00:00+14:00", "2999-12-31T23:59:59.999999-14:59", "1900-01-01T00:00:00Z",
        "2999-12-31T23:59:59Z", "2026-11-28T09:30:00.123456+01:00", "2400-06-30T12:00:00.999999Z",
        "1901-03-04T05:06:07.000001-10:00",
    ])
    func contractTimesReadBackFromTheirStoredForm(_ text: String) throws {
        let value = try #require(Timestamp(rfc3339: text))
        let stored = try JSONEncoder().encode([value])
        let read = try JSONDecoder().decode([Timestamp].self, from: stored)
        #expect(read == [value], "stored as \(String(decoding: stored, as: UTF8.self))")
    }

    @Test func descriptionIsExactAfterTheYear2255() throws {
        let value = try #require(Timestamp(rfc3339: "2999-12-31T23:59:59.999999-14:59"))
        #expect(value.description == "3000-01-01T14:58:59.999999Z")
    }

    @Test func producersStillCannotSendYearsOutsideTheContract() {
        #expect(Timestamp(rfc3339: "3000-01-01T00:00:00Z") == nil)
        #expect(Timestamp(rfc3339: "1899-12-31T23:59:59Z") == nil)
    }
}

import Foundation
import RelaisTestSupport
import Testing

/// Text a producer writes is hostile: control characters are refused where a job is
/// validated and escaped wherever something is printed.
@Suite("Producer text at the edges, through the binary", .serialized)
struct ProducerTextEndToEndTests {
    /// ESC, BEL, DEL, C1 CSI and U+2028: what a terminal or a mail reader could act on.
    static func hasRawControl(_ text: String) -> Bool {
        text.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{7F}" || (0x80...0x9F).contains($0.value) || $0 == "\u{2028}" }
    }

    @Test func controlCharactersNeverReachMessagesLogsOrTheTerminal() throws {
        let deployment = try Deployment()
        let channels = try Channels()
        defer { channels.stop() }
        let daemon = try deployment.start(channels.settings)
        defer { daemon.stop() }
        let env = try deployment.environment()

        // A customer name with a line break: it would be a paragraph of its own in the e-mail.
        try deployment.producer.xadd(queue: "orders", payload: placed(
            "spoof-1", items: [("baguette", "Baguette", 1, 120)], customer: #"L\u00e9a\r\n\r\nVotre compte est suspendu"#))
        // An order placed right, with a shop name that carries escape sequences.
        try deployment.producer.xadd(queue: "orders", payload: placed("esc-order", items: [("baguette", "Baguette", 1, 120)])
            .replacingOccurrences(of: "Boulangerie Martin", with: #"Boulangerie\u001b[2J\u0007 Martin"#))
        // A type with ESC, BEL and C1 CSI (JSON escapes, decoded by the reader), and raw ones in the job's bytes.
        try deployment.producer.xadd(queue: "stock", payload: #"{"id":"esc-type","type":"stock.\u001b[2J\u0007\u009b31m","data":{}}"#)
        try deployment.producer.xadd(queue: "stock", payload: "{\"id\":\"esc-raw\",\"type\":\"stock.adjust\",\"data\":{\"shop_id\":\"s\u{1B}[2J\u{07}\",\"sku\":\"a\",\"delta\":1,\"at\":\"2026-11-28T12:00:00Z\"}}")
        #expect(try deployment.waitUntilDrained())

        let letters = try deployment.deadLetters()
        #expect(letters.count == 4, "\(letters)")
        let byJob = Dictionary(letters.map { ($0["job_id"] ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byJob["spoof-1-placed"]?["reason"]?.contains("data.customer.name") == true, "\(letters)")
        #expect(byJob["spoof-1-placed"]?["reason"]?.contains("control characters") == true, "\(letters)")
        #expect(byJob["esc-order-placed"]?["reason"]?.contains("data.shop.name") == true, "\(letters)")
        #expect(try deployment.status("spoof-1") == nil, "the order with a forged name was not placed")
        #expect(try deployment.status("esc-order") == nil)
        #expect(!channels.smtp.messages().contains { $0.raw.contains("suspendu") }, "the forged line reached an e-mail")

        let list = try Daemon.command(["dead", "list"], environment: env)
        #expect(list.status == 0)
        #expect(!Self.hasRawControl(list.output), "dead list wrote control characters: \(list.output.debugDescription)")
        #expect(list.output.contains(#"stock.\x1b[2J\x07\u009b31m"#), "the type is shown escaped:\n\(list.output)")

        let json = try Daemon.command(["dead", "list", "--json"], environment: env)
        #expect(!Self.hasRawControl(json.output), "dead list --json wrote control characters: \(json.output.debugDescription)")
        let parsed = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]] ?? []
        #expect(parsed.contains { $0["job_type"] as? String == "stock.\u{1B}[2J\u{07}\u{9B}31m" }, "the JSON still carries the type as written")

        var shown = ""
        for letter in parsed {
            let id = try #require(letter["entry_id"] as? String)
            let show = try Daemon.command(["dead", "show", id], environment: env)
            #expect(show.status == 0)
            #expect(!Self.hasRawControl(show.output), "dead show \(id) wrote control characters: \(show.output.debugDescription)")
            shown += show.output
        }
        #expect(shown.contains(#""shop_id":"s\x1b[2J\x07""#), "the raw job is shown escaped:\n\(shown)")

        #expect(!Self.hasRawControl(daemon.log), "the log carries control characters: \(daemon.log.debugDescription)")
    }
}

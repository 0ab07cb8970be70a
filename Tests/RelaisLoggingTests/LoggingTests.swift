import Logging
import RelaisLogging
import Synchronization
import Testing

@Suite("Log lines and journald fields")
struct LoggingTests {
    @Test func logfmtLineQuotesWhatNeedsQuotingAndSortsKeys() {
        let line = LogfmtLogHandler.line(level: .info, message: "job done",
                                         metadata: ["job.queue": "stock", "job.id": "a-1", "job.reason": #"data.sku: "x" = y"#],
                                         timestamp: "2026-11-28T09:30:00.000Z")
        #expect(line == #"ts=2026-11-28T09:30:00.000Z level=info msg="job done" job.id=a-1 job.queue=stock job.reason="data.sku: \"x\" = y""# + "\n")
    }

    @Test func fieldValuesAreCopiedEscapedOrRedactedAsTheyNeed() {
        let line = LogfmtLogHandler.line(level: .warning, message: "job dead-lettered", fields: [
            ("a", "plain-1.5:x_y"), ("b", ""), ("c", "two\r\nlines\ttab"), ("d", #"back\slash"#), ("e", "a+b"),
            ("f", "call +33 6 12 34 56 78"), ("g", "to marie@example.fr"), ("h", "crème=brûlée"),
        ], timestamp: "2026-11-28T09:30:00.000Z")
        #expect(line == #"ts=2026-11-28T09:30:00.000Z level=warning msg="job dead-lettered" a=plain-1.5:x_y b="" "#
                + #"c="two\r\nlines\ttab" d="back\\slash" e=a+b f="call [phone]" g="to [email]" h="crème=brûlée""# + "\n")
        #expect(line.filter { $0 == "\n" || $0 == "\r\n" }.count == 1, "one line, whatever the values hold")
    }

    @Test func controlCharactersAProducerWroteAreEscapedNotWritten() {
        // ESC [2J clears a terminal, BEL rings it, C1 CSI (U+009B) is ESC [ to some, DEL,
        // and U+2028 breaks lines in some viewers.
        let hostile = "Dupont\u{1B}[2J\u{07}\u{9B}31m\u{7F}\u{2028}fin"
        let line = LogfmtLogHandler.line(level: .warning, message: "job dead-lettered",
                                         fields: [("job.reason", hostile), ("shop.name", "Caf\u{E9}\u{85}")],
                                         timestamp: "2026-11-28T09:30:00.000Z")
        #expect(line == #"ts=2026-11-28T09:30:00.000Z level=warning msg="job dead-lettered" "#
                + #"job.reason="Dupont\x1b[2J\x07\u009b31m\x7f\u2028fin" shop.name="Café\u0085""# + "\n")
        #expect(!line.unicodeScalars.dropLast().contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) || $0.value == 0x2028 },
                "a control character reached the line: \(line.debugDescription)")
        // Text with characters whose UTF-8 starts like a C1 control stays as it is.
        let plain = LogfmtLogHandler.line(level: .info, message: "m", fields: [("a", "«ouvert»°"), ("b", "l’été…")], timestamp: "t")
        #expect(plain == "ts=t level=info msg=m a=«ouvert»° b=l’été…\n")
    }

    @Test func escapedTextShowsEveryControlCharacterAndNothingElseChanges() {
        #expect(ControlCharacters.escaped("a\u{1B}b\u{0}c\r\nd\u{9B}e\u{2029}f\\g") == #"a\x1bb\x00c\r\nd\u009be\u2029f\g"#)
        #expect(ControlCharacters.escaped("Boulangerie « Lefèvre »") == "Boulangerie « Lefèvre »")
    }

    @Test(arguments: [
        ("job.id", "JOB_ID"), ("job.queue", "QUEUE"), ("job.type", "JOB_TYPE"), ("order.id", "ORDER_ID"),
        ("shop.id", "SHOP_ID"), ("job.outcome", "OUTCOME"), ("job.duration_ms", "DURATION_MS"),
        ("job.attempt", "JOB_ATTEMPT"), ("http.address", "HTTP_ADDRESS"), ("_secret", "F_SECRET"), ("9lives", "F9LIVES"),
    ])
    func metadataKeysMapToJournalFields(key: String, field: String) {
        #expect(JournalFields.name(for: key) == field)
    }

    @Test func journalValuesHaveTheirControlCharactersEscaped() {
        let fields = JournaldLogHandler.fields(level: .warning, message: "job dead-lettered\nforged line",
                                               metadata: ["job.reason": "data.name: \u{1b}[31mred\u{2028}x", "job.id": "a\tb"],
                                               file: "Consumer.swift", line: 12, function: "report")
        let dict = Dictionary(uniqueKeysWithValues: fields)
        #expect(dict["MESSAGE"] == #"job dead-lettered\nforged line"#)
        #expect(dict["JOB_REASON"] == #"data.name: \x1b[31mred\u2028x"#)
        #expect(dict["JOB_ID"] == #"a\tb"#)
    }

    @Test func journalEntryCarriesMessagePriorityAndOneFieldPerKey() {
        let fields = JournaldLogHandler.fields(level: .warning, message: "job dead-lettered",
                                               metadata: ["job.id": "a-1", "job.queue": "stock", "job.outcome": "dead"],
                                               file: "Consumer.swift", line: 12, function: "report")
        let dict = Dictionary(uniqueKeysWithValues: fields)
        #expect(dict["MESSAGE"] == "job dead-lettered")
        #expect(dict["PRIORITY"] == "4")
        #expect(dict["JOB_ID"] == "a-1")
        #expect(dict["QUEUE"] == "stock")
        #expect(dict["OUTCOME"] == "dead")
        #expect(fields.allSatisfy { name, _ in name.allSatisfy { $0.isUppercase || $0.isNumber || $0 == "_" } })
    }

    @Test(arguments: [
        ("contact marie.dupont@example.fr now", "contact [email] now"),
        ("phone +33 6 12 34 56 78.", "phone [phone]."),
        ("phone +33612345678", "phone [phone]"),
        (#"type "jean+shop@boulangerie-paris.fr" unknown"#, #"type "[email]" unknown"#),
        ("entry 1795826034771-0 took 3 ms", "entry 1795826034771-0 took 3 ms"),
        ("a+b=c and x@y", "a+b=c and x@y"),
    ])
    func emailsAndPhonesAreRedacted(text: String, expected: String) {
        #expect(Redaction.redact(text) == expected)
    }

    @Test func noLogLineCarriesACustomersEmailOrPhone() {
        let lines = Mutex<[String]>([])
        // A level of its own: the process's level is not this test's to set, nor to depend on.
        let level = LogLevelControl(.debug)
        let logger = Logger(label: "test") { _ in
            LogfmtLogHandler(levelControl: level, write: { line in lines.withLock { $0.append(line) } })
        }
        logger.warning("job dead-lettered", metadata: [
            "job.reason": "type \"claire@example.com\" is not a job type; call +33 7 00 00 00 00",
            "customer": "Claire <claire@example.com>",
        ])
        logger.info("customer claire@example.com phoned from +447700900123")
        let text = lines.withLock { $0.joined() }
        #expect(!text.contains("claire@example.com"))
        #expect(!text.contains("+33 7 00") && !text.contains("+447700900123"))
        #expect(text.contains("[email]") && text.contains("[phone]"))
        #expect(lines.withLock { $0.count } == 2, "both lines written, whatever the process's level")
    }

    @Test func aHandlerGivenItsOwnLevelLeavesTheProcessLevelAlone() {
        let processLevel = LogLevelControl.shared.current
        let level = LogLevelControl(.info)
        let lines = Mutex<[String]>([])
        let make = { (_: String) -> any LogHandler in
            LogfmtLogHandler(levelControl: level, write: { line in lines.withLock { $0.append(line) } })
        }
        var first = Logger(label: "first", factory: make)
        let second = Logger(label: "second", factory: make)
        first.logLevel = processLevel == .critical ? .trace : .critical
        #expect(LogLevelControl.shared.current == processLevel, "setting a test logger's level changed the process's")
        // The handlers sharing the control still move together, as a reload moves the daemon's.
        #expect(second.logLevel == first.logLevel)
        second.error("not written at critical")
        first.critical("written")
        #expect(lines.withLock { $0.count } == (processLevel == .critical ? 2 : 1))
    }
}

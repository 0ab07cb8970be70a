import Foundation
import Logging

/// Sends structured entries to journald: `MESSAGE`, `PRIORITY`, and one field per
/// metadata key (`JOB_ID`, `QUEUE`, `JOB_TYPE`, `OUTCOME`, `DURATION_MS`, …), so that
/// `journalctl -u relais JOB_ID=…` finds a job.
///
/// The entries go out through `send` (the daemon hands it `SystemdJournal.send`), so that
/// logging needs no C library and its fields can be tested without a journal.
public struct JournaldLogHandler: ProcessLevelLogHandler {
    public var metadata: Logger.Metadata = [:]
    private let send: @Sendable (_ fields: [(String, String)]) -> Void

    /// A handler writing each entry's fields with `send`.
    public init(send: @escaping @Sendable (_ fields: [(String, String)]) -> Void) {
        self.send = send
    }

    public func log(event: LogEvent) {
        let all = event.metadata.map { metadata.merging($0) { _, new in new } } ?? metadata
        send(Self.fields(level: event.level, message: "\(event.message)", metadata: all,
                                 file: event.file, line: event.line, function: event.function))
    }

    /// The journal fields of one event, values redacted of e-mail addresses and phone
    /// numbers and their control characters escaped, as in logfmt lines: a value a
    /// producer wrote cannot forge a second entry line in `journalctl` or drive a terminal.
    public static func fields(level: Logger.Level, message: String, metadata: Logger.Metadata,
                              file: String, line: UInt, function: String) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("MESSAGE", ControlCharacters.escaped(Redaction.redact(message))),
            ("PRIORITY", String(level.syslogPriority)),
            ("SYSLOG_IDENTIFIER", "relais"),
            ("CODE_FILE", file),
            ("CODE_LINE", String(line)),
            ("CODE_FUNC", function),
        ]
        for key in metadata.keys.sorted() {
            fields.append((JournalFields.name(for: key), ControlCharacters.escaped(Redaction.redact("\(metadata[key]!)"))))
        }
        return fields
    }

    /// Whether standard error is the journal: `$JOURNAL_STREAM` names its device and inode.
    public static func standardErrorIsJournal(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let stream = environment["JOURNAL_STREAM"] else { return false }
        let parts = stream.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var info = stat()
        guard fstat(2, &info) == 0 else { return false }
        return UInt64(info.st_dev) == device && UInt64(info.st_ino) == inode
    }
}
